"""A needle tract on coarse voxels, cut into pieces at the partial-volume dips between its peaks,
joined again."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ..segment import box_mask, candidate_from_voxels, dilate_box, record_touching, set_voxels
from . import rules
from .judge import Judge


def join_tract_pieces(candidates, features, verdicts, judge: Judge) -> None:
    """Join the pieces of a needle tract cut apart at the partial-volume dips between its peaks.

    Cement in the posterior elements lies along the needle's path. On coarse voxels a thin tract
    peaks and dips from voxel to voxel; a dip (cortex and a little cement) no denser than cortex
    stays with the bone, so the tract comes out as pieces one voxel apart. Voxels of a bone
    candidate 26-adjacent to two cement candidates mostly in the posterior elements and denser
    than that bone (more than half-way from its median HU to `cortex_max_hu`, the halo rule of
    `segment.dense_cores`) link them: linked pieces and their dips become one candidate, kept
    when the rules still call it cement (the bone is judged again without the dips).
    """
    pieces = [
        c
        for c in candidates
        if verdicts.get(c.id, ("",))[0] == "cement"
        and rules.fraction_in(features[c.id], ["posterior_elements"]) >= 0.5
    ]
    if len(pieces) < 2:
        return
    shape = judge.volume.shape
    lo = np.maximum(np.min([c.bbox_zyx[:3] for c in pieces], axis=0) - 1, 0)
    hi = np.minimum(np.max([c.bbox_zyx[3:] for c in pieces], axis=0) + 1, shape)
    near = np.stack([dilate_box(box_mask(c, lo, hi, shape, np.uint8), (1, 1, 1)).reshape(-1) for c in pieces])
    dense = _denser_than_bone(pieces, candidates, verdicts, lo, hi, judge).reshape(-1)
    dips = np.flatnonzero(dense & (near.sum(axis=0) >= 2))  # box indices
    at_dips = near[:, dips].astype(np.int64)  # (piece, dip): the dip lies beside the piece
    count, group = connected_components(csr_matrix(at_dips @ at_dips.T), directed=False)
    for g in range(count):
        members = np.flatnonzero(group == g)
        if members.size > 1:
            gap = dips[at_dips[members].sum(axis=0) >= 2]
            gap = np.ravel_multi_index(tuple((np.column_stack(np.unravel_index(gap, hi - lo)) + lo).T), shape)
            _join([pieces[k] for k in members], gap, candidates, features, verdicts, judge)


def _denser_than_bone(pieces, candidates, verdicts, lo, hi, judge: Judge) -> np.ndarray:
    """Mask of the box ``lo``..``hi``: voxels of the bone candidates touching ``pieces`` more than
    half-way from their bone's median HU to `cortex_max_hu`."""
    hu = judge.volume.hu[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))]
    dense = np.zeros(hu.shape, dtype=bool)
    touched = {i for c in pieces for i in c.evidence.get("touches", [])}
    for bone in [c for c in candidates if c.id in touched and verdicts.get(c.id, ("",))[0] == "bone"]:
        dense |= box_mask(bone, lo, hi, judge.volume.shape) & (
            hu > (bone.hu_p50 + judge.settings.cortex_max_hu) / 2.0
        )
    return dense


def _join(pieces, gap, candidates, features, verdicts, judge: Judge) -> None:
    """Replace the cement ``pieces`` by one candidate holding them and the ``gap`` voxels between
    them, when the rules call it cement; the bone candidates that held the gap give it up (and are
    judged again, or dropped when nothing is left of them)."""
    volume = judge.volume
    joined = candidate_from_voxels(
        max(c.id for c in candidates) + 1, np.concatenate([c.flat_index for c in pieces] + [gap]), volume
    )
    largest = max(pieces, key=lambda c: c.voxel_count)
    dense = any(c.evidence.get("core") == "denser_than_bone" for c in pieces)
    joined.evidence = {
        "pass": largest.evidence.get("pass"),
        "core": "denser_than_bone" if dense else largest.evidence.get("core"),
        "joined_from": sorted(c.id for c in pieces),
    }
    record_touching([c for c in candidates if c not in pieces] + [joined], volume.shape, targets=[joined])
    cement_ids = {i for i, v in verdicts.items() if v[0] == "cement"} - {c.id for c in pieces}
    joined_features, verdict = judge(joined, cement_ids)
    if not verdict or verdict[0] != "cement":
        return
    held = [c for c in candidates if np.isin(c.flat_index, gap).any()]
    for c in pieces + [c for c in held if np.isin(c.flat_index, gap).all()]:
        candidates.remove(c)
        del features[c.id]
        verdicts.pop(c.id, None)
    shrunk = [c for c in held if c in candidates]
    for c in shrunk:
        set_voxels(c, np.setdiff1d(c.flat_index, gap), volume)
    candidates.append(joined)
    features[joined.id], verdicts[joined.id] = joined_features, verdict
    record_touching(candidates, volume.shape)
    for c in shrunk:
        features[c.id], verdict = judge(c, set())
        verdicts.pop(c.id, None)
        if verdict:
            verdicts[c.id] = verdict
