"""Stage 2 of the detector: what each high-attenuation candidate is made of.

Every candidate becomes ``cement``, ``metal``, ``contrast``, ``calcification``, ``bone`` or
``indeterminate`` with a one-line reason, a confidence and the numbers behind them
(``evidence``). HU alone cannot decide -- cement reaches the 3071 HU ceiling of 12-bit
scales, CTPA contrast in the SVC exceeds 2000 HU, cortical bone reaches 1200 HU -- so the
rules (`rules.py`) weigh shape, surroundings and anatomy, in this order:

1. Metal: a core beyond any PMMA on an extended HU scale; a dense mass larger than any fill
   outside the vertebrae (prosthesis); a core at the HU ceiling unless it is a compact
   mass inside a vertebral body (cement at the ceiling), named by its shape (wire or
   lead too thin for cement to saturate, straight screw or rod, streaks).
2. The arterial side: nothing in or on the aorta is a cement leak (stent = metal,
   lumen = contrast, wall = calcification).
3. Contrast: in a vessel or chamber and within reach of its enhanced blood pool's HU; a
   thick candidate below PMMA density in enhanced blood; a lumen-like tube.
4. Touching metal: bone-like HU = cortex or bright streaks; denser and no fill = the
   hardware's blurred edge.
5. Bone: mostly in bone and not PMMA-dense. On coarse voxels a thin cast hugging a cortex, or a
   needle tract in a pedicle, joins the bone in one candidate: voxels denser than any bone
   (`cortex_max_hu`) with their partial-volume halo are split off a bone candidate in a
   vertebra when they hold at least `min_leak_mm3` of cement and the rules, knowing them to be
   denser than any bone, call them cement; so is the part outside the vertebra that runs up
   the IVC or azygos lumen (no bone lies in a vein) when the rules call it cement; the rest
   stays bone.
6. Cement: PMMA-dense (a thick candidate by its median HU, a thin one by its peak after
   partial volume), markedly denser than a shell 1.5-6 mm around it, and in a vertebral
   body, continuous with cement, or on a venous route from a vertebral body.
7. Otherwise indeterminate.

Without an anatomy map the rules that need it are skipped; the reason says so.
Cement candidates also get ``cement_fraction`` and ``evidence["volume_pv_ml"]``, the
partial-volume cement volume (`cement_volume.py`); one that is nothing but the blurred edge of
a contrast candidate it touches (no voxel denser than that contrast) becomes contrast there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy.spatial import cKDTree

from ..anatomy.anatomy_map import STRUCTURES, AnatomyMap
from ..candidates import Candidate
from ..segment import candidate_from_voxels, dense_cores, record_touching, set_voxels
from ..settings import Settings
from ..volume import CTVolume
from . import rules
from .cement_volume import set_cement_fractions
from .features import ScanScale, measure

__all__ = ["classify_materials", "measure"]

#: the venous trunks a cast is carried up, beside the spine
VENOUS_TRUNKS = ("inferior_vena_cava", "azygos_system")


def classify_materials(
    candidates: list[Candidate], volume: CTVolume, anatomy: AnatomyMap | None, settings: Settings
) -> None:
    """Set ``material``, ``reason``, ``evidence`` (with ``confidence``) on every candidate, in place.

    Args:
        candidates: stage-1 candidates of ``volume`` (`segment.find_candidates`); cement split off a
            bone candidate is appended as a candidate of its own.
        volume: the CT.
        anatomy: its anatomy map (any grid), or None to classify by HU and shape alone.
        settings: the materials section of `Settings`.
    """
    scale = ScanScale(volume, settings, anatomy)
    has_anatomy = anatomy is not None
    features = {c.id: measure(c, volume, anatomy, settings) for c in candidates}
    verdicts: dict[int, tuple[str, str, float]] = {}
    for c in candidates:
        verdict = rules.metal(c, features[c.id], scale, settings, has_anatomy)
        if verdict:
            verdicts[c.id] = verdict
    metal_ids = set(verdicts)
    near_metal_mm = _distance_to_metal_mm([c for c in candidates if c.id in metal_ids], candidates, volume)
    for c in candidates:
        features[c.id]["distance_to_metal_mm"] = near_metal_mm.get(c.id)
    for c in candidates:
        if c.id not in verdicts:
            verdict = _first_rule(c, features[c.id], scale, settings, metal_ids, has_anatomy)
            if verdict:
                verdicts[c.id] = verdict
    if has_anatomy:
        _split_cement_off_bone(candidates, features, verdicts, volume, anatomy, scale, settings, metal_ids)
    _spread_cement(candidates, features, verdicts, scale, settings, has_anatomy)
    if has_anatomy:
        _require_a_source(candidates, features, verdicts)
    for c in candidates:
        material, reason, confidence = verdicts.get(c.id, ("indeterminate", "fits no material rule", 0.3))
        c.material = material
        c.reason = reason if has_anatomy else f"{reason} (no anatomy map)"
        c.evidence.update(features[c.id])
        c.evidence["confidence"] = confidence if has_anatomy else min(confidence, 0.5)
    set_cement_fractions(candidates, volume, settings, anatomy)


def _first_rule(c, f, scale, settings, metal_ids, has_anatomy):
    if has_anatomy:
        return (
            rules.arterial(c, f, scale, settings)
            or rules.contrast(c, f, scale, settings, True)
            or rules.next_to_metal(c, f, scale, settings, metal_ids)
            or rules.bone(c, f, scale, settings)
            or rules.cement(c, f, scale, settings, set())
        )
    return (
        rules.contrast(c, f, scale, settings, False)
        or rules.next_to_metal(c, f, scale, settings, metal_ids)
        or rules.cement_without_anatomy(c, f, scale, settings)
    )


def _split_cement_off_bone(
    candidates, features, verdicts, volume, anatomy, scale, settings, metal_ids
) -> None:
    """Cut what is denser than any bone out of the candidates called bone, when it is cement.

    Only bone candidates in a vertebra (the bone cement leaves, whose cortex its leaks hug) are
    cut; the parts the rules call cement become candidates with new ids, and the rest of the bone
    is judged again.
    """
    judge = _Judge(volume, anatomy, scale, settings, metal_ids, [c for c in candidates if c.id in metal_ids])
    cement_ids = {i for i, v in verdicts.items() if v[0] == "cement"}
    shrunk = []
    for bone in [c for c in candidates if verdicts.get(c.id, ("",))[0] == "bone"]:
        if rules.fraction_in(features[bone.id], rules.VERTEBRA) == 0.0:
            continue  # not a vertebra: a calcification the map takes for bone is no cement's way out
        kept = _cement_pieces(bone, features[bone.id], candidates, cement_ids, judge)
        if kept:
            shrunk.append(bone)
        for piece, piece_features, verdict in kept:
            piece.id = max(c.id for c in candidates) + 1
            candidates.append(piece)
            features[piece.id], verdicts[piece.id] = piece_features, verdict
    if shrunk:
        record_touching(candidates, volume.shape)
    for bone in shrunk:
        features[bone.id], verdict = judge(bone, set())
        verdicts.pop(bone.id, None)
        if verdict:
            verdicts[bone.id] = verdict


@dataclass(frozen=True)
class _Judge:
    """Features and verdict of a candidate made or changed after the first round of rules."""

    volume: CTVolume
    anatomy: AnatomyMap
    scale: ScanScale
    settings: Settings
    metal_ids: set[int]
    metal: list[Candidate]

    def __call__(self, c: Candidate, cement_ids: set[int]) -> tuple[dict, tuple | None]:
        f = measure(c, self.volume, self.anatomy, self.settings)
        f["distance_to_metal_mm"] = _distance_to_metal_mm(self.metal, [c], self.volume).get(c.id)
        verdict = _first_rule(c, f, self.scale, self.settings, self.metal_ids, True)
        return f, verdict or rules.cement(c, f, self.scale, self.settings, cement_ids)


def _cement_pieces(bone: Candidate, bone_features: dict, candidates, cement_ids, judge: _Judge) -> list:
    """``[(piece, features, verdict)]``: the parts of ``bone`` -- around voxels denser than any
    bone (`_cement_parts`, judged as such), and casts up a venous trunk (`_trunk_casts`) -- each
    judged as a candidate of its own, that the rules call cement; ``bone`` keeps the rest."""
    volume = judge.volume
    dense = _cement_parts(bone, volume, judge.settings)
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
    the IVC or azygos lumen span at least `ivc_min_length_mm` cranio-caudally.

    Bone never lies in a vein's lumen. On coarse voxels a thin cast carried up a trunk beside the
    spine, fainter than any cortex, joins the vertebra's cortex in one candidate, and an HU-based
    map takes some of its voxels for bone: the whole part outside the vertebra goes with it.
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
        if np.ptp(lps[cast, 2]) >= settings.ivc_min_length_mm:
            casts.append(flat[labels == label])
    return casts


def _spread_cement(candidates, features, verdicts, scale, settings, has_anatomy) -> None:
    """Undecided candidates continuous with cement become cement when PMMA-dense (repeated along chains)."""
    if not has_anatomy:
        return
    changed = True
    while changed:
        cement_ids = {i for i, v in verdicts.items() if v[0] == "cement"}
        changed = False
        for c in candidates:
            if c.id not in verdicts:
                verdict = rules.cement(c, features[c.id], scale, settings, cement_ids)
                if verdict:
                    verdicts[c.id] = verdict
                    changed = True


def _require_a_source(candidates, features, verdicts) -> None:
    """Cement outside the vertebral bodies needs a cemented vertebra in the scan to come from.

    Without one, a dense object on a venous route is more often a wire, a lead or a stent
    strut; it becomes indeterminate and the reason says why.
    """
    cement = [c for c in candidates if verdicts.get(c.id, ("",))[0] == "cement"]
    if any(features[c.id].get("vertebral_body_fraction", 0.0) >= 0.5 for c in cement):
        return
    for c in cement:
        route = features[c.id].get("cement_route") or ["body"]
        reason = f"dense like cement ({route[0]}), but no cemented vertebra in the scan to come from"
        verdicts[c.id] = ("indeterminate", reason, 0.4)


def _distance_to_metal_mm(metal: list[Candidate], candidates: list[Candidate], volume: CTVolume) -> dict:
    """Shortest distance (mm) from each non-metal candidate's voxels to a metal voxel."""
    if not metal:
        return {}
    metal_lps = volume.index_to_lps(
        np.concatenate([m.zyx(volume.shape)[:: max(1, m.voxel_count // 5000)] for m in metal])
    )
    tree = cKDTree(metal_lps)
    ids = {m.id for m in metal}
    distances = {}
    for c in candidates:
        if c.id not in ids:
            zyx = c.zyx(volume.shape)[:: max(1, c.voxel_count // 2000)]
            distances[c.id] = float(tree.query(volume.index_to_lps(zyx))[0].min())
    return distances
