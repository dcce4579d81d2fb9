"""Cement hugging bone on coarse voxels, cut out of the candidates in a vertebra called bone or
fitting no rule.

A thin cast along a cortex, or a needle tract in a pedicle, joins the vertebra's bone in one
candidate on coarse voxels; the parts denser than any bone, and casts up a venous trunk beside
the spine, are judged as candidates of their own.
"""

from __future__ import annotations

import math

import cc3d
import numpy as np

from ..anatomy.anatomy_map import STRUCTURES, AnatomyMap
from ..candidates import Candidate
from ..segment import candidate_from_voxels, dense_cores, record_touching, set_voxels
from ..settings import Settings
from ..vocabulary import VENOUS_TRUNKS
from ..volume import CTVolume
from . import rules
from .judge import Judge


def split_cement_off_bone(candidates, features, verdicts, judge: Judge) -> None:
    """Cut cement hugging bone out of the candidates in a vertebra called bone or left undecided.

    Only candidates touching a vertebra (the bone cement leaves, whose cortex its leaks hug) are
    cut: those called bone at voxels denser than any bone and along a venous trunk, undecided ones
    (bone and a faint cast together fit no rule) along a venous trunk. The parts the rules call
    cement become candidates with new ids, and the rest is judged again.
    """
    cement_ids = {i for i, v in verdicts.items() if v[0] == "cement"}
    shrunk = []
    for bone in [c for c in candidates if verdicts.get(c.id, ("bone",))[0] == "bone"]:
        if rules.fraction_in(features[bone.id], rules.VERTEBRA) == 0.0:
            continue  # not a vertebra: a calcification the map takes for bone is no cement's way out
        kept = _cement_pieces(bone, features[bone.id], bone.id in verdicts, candidates, cement_ids, judge)
        if kept:
            shrunk.append(bone)
        for piece, piece_features, verdict in kept:
            piece.id = max(c.id for c in candidates) + 1
            candidates.append(piece)
            features[piece.id], verdicts[piece.id] = piece_features, verdict
    if shrunk:
        record_touching(candidates, judge.volume.shape)
    for bone in shrunk:
        features[bone.id], verdict = judge(bone, set())
        verdicts.pop(bone.id, None)
        if verdict:
            verdicts[bone.id] = verdict


def _cement_pieces(
    bone: Candidate, bone_features: dict, called_bone: bool, candidates, cement_ids, judge: Judge
) -> list:
    """``[(piece, features, verdict)]``: the parts of ``bone`` -- around voxels denser than any
    bone (`_cement_parts`, judged as such; when ``called_bone``), and casts up a venous trunk
    (`_trunk_casts`) -- each judged as a candidate of its own, that the rules call cement;
    ``bone`` keeps the rest."""
    volume = judge.volume
    dense = _cement_parts(bone, volume, judge.settings) if called_bone else []
    casts = _trunk_casts(bone, bone_features, dense, volume, judge.anatomy, judge.settings)
    parts = dense + casts
    if not parts or sum(flat.size for flat in parts) == bone.voxel_count:
        return []
    whole = bone.flat_index
    set_voxels(bone, np.setdiff1d(whole, np.concatenate(parts)), volume)
    first_id = max(c.id for c in candidates) + 1
    pieces = [candidate_from_voxels(first_id + k, flat, volume) for k, flat in enumerate(parts)]
    for k, piece in enumerate(pieces):
        piece.evidence = {"pass": bone.evidence.get("pass"), "split_from": bone.id}
        if k < len(dense):
            piece.evidence["core"] = "denser_than_bone"
    record_touching(candidates + pieces, volume.shape, targets=pieces)
    judged = [(piece, *judge(piece, cement_ids)) for piece in pieces]
    kept = [(piece, f, verdict) for piece, f, verdict in judged if verdict and verdict[0] == "cement"]
    cement = [piece.flat_index for piece, _, _ in kept]
    set_voxels(bone, np.setdiff1d(whole, np.concatenate(cement)) if cement else whole, volume)
    return kept


def _cement_parts(bone: Candidate, volume: CTVolume, settings: Settings) -> list[np.ndarray]:
    """Flat indices of the parts of ``bone`` around voxels of at least `cortex_max_hu` with their
    halo (`segment.dense_cores`) holding at least `min_leak_mm3` of cement above the bone's plateau
    (`cement_reference_hu` the cement); none when no bone would be left."""
    parts, plateau = dense_cores(bone.flat_index, volume.hu, settings.cortex_max_hu)
    if math.isnan(plateau):
        return []  # every voxel denser than bone: nothing to split off
    hu = volume.hu.reshape(-1)
    span_hu = max(settings.cement_reference_hu - plateau, 1.0)
    min_voxels = settings.min_leak_mm3 / volume.voxel_volume_mm3  # of cement
    return [flat for flat in parts if np.clip((hu[flat] - plateau) / span_hu, 0, 1).sum() >= min_voxels]


def _trunk_casts(
    bone: Candidate, bone_features: dict, taken: list[np.ndarray], volume: CTVolume, anatomy: AnatomyMap,
    settings: Settings,
) -> list[np.ndarray]:
    """Flat indices of the parts of ``bone`` outside the vertebra (not in ``taken``) whose voxels in
    the IVC or azygos lumen span at least `ivc_min_length_mm` cranio-caudally, holding at most
    `faint_cement_max_ml` of voxels.

    Bone never lies in a vein's lumen. On coarse voxels a thin cast carried up a trunk beside the
    spine, fainter than any cortex, joins the vertebra's cortex in one candidate, and an HU-based
    map takes some of its voxels for bone: the whole part outside the vertebra goes with it. A
    cast that faint is thin: a larger part is bone the map's trunk overlaps (rib heads beside the
    azygos on thick slices).
    """
    nearby = set(bone_features["structures_nearby"]) | set(bone_features["structure_fractions"])
    if not nearby.intersection(VENOUS_TRUNKS):
        return []
    flat = np.setdiff1d(bone.flat_index, np.concatenate(taken)) if taken else bone.flat_index
    zyx = np.column_stack(np.unravel_index(flat, volume.shape))
    lps = volume.index_to_lps(zyx)
    codes = anatomy.structure_at(lps)
    outside = ~np.isin(codes, [STRUCTURES[name] for name in rules.VERTEBRA])
    in_trunk = np.isin(codes, [STRUCTURES[name] for name in VENOUS_TRUNKS])
    lo = zyx.min(axis=0)
    mask = np.zeros(tuple(zyx.max(axis=0) - lo + 1), dtype=bool)
    mask[tuple((zyx[outside] - lo).T)] = True
    labels = cc3d.connected_components(mask, connectivity=26)[tuple((zyx - lo).T)]
    casts = []
    for label in np.unique(labels[in_trunk & outside]):
        cast = in_trunk & (labels == label)
        part = flat[labels == label]
        small = part.size * volume.voxel_volume_mm3 / 1000.0 <= settings.faint_cement_max_ml
        if small and np.ptp(lps[cast, 2]) >= settings.ivc_min_length_mm:
            casts.append(part)
    return casts
