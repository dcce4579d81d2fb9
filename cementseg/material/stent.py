"""A stent graft: struts ringing the aortic lumen, never cement however partial volume dims them.

A stent graft's metal rings sit on the aortic wall all round the lumen. On coarse voxels their
thin wires read 1000-2000 HU, like cement or a plaque, break into many pieces, and the streaks
between them can push the map's aortic lumen off the far wall. One piece alone cannot be told
from cement in a lumbar vein behind the aorta; the ring they make together can: cement
never cages the aorta.
"""

from __future__ import annotations

import numpy as np

from ..settings import Settings
from ..volume import CTVolume
from . import rules

#: a ring: its pieces' directions from its centre fill this many of the 12 sectors of 30 degrees
_RING_MIN_SECTORS = 9
#: ...come from at least this many pieces on the aortic wall...
_RING_MIN_PIECES = 3
#: ...and lie within this of a circle (mm; at least one voxel) of an aortic radius (mm)
_RING_MAX_RMS_MM = 2.0
_AORTIC_RADIUS_MM = (5.0, 25.0)
#: the rings are looked for in slabs this tall (mm; at least three voxels), overlapping by half
_SLAB_MM = 20.0
_SAMPLES_PER_PIECE = 200


def stent_struts(candidates, features: dict, verdicts: dict, volume: CTVolume, settings: Settings) -> None:
    """Small candidates off the vertebrae on a ring of aortic-wall pieces become metal (or
    calcification when no piece of the ring reaches the HU ceiling: a calcified wall rings the
    lumen too), whatever the rules said; ``verdicts`` is updated in place.

    A ring is fitted slab by slab to the points of the small pieces on the aortic wall
    (`aortic_wall_share` >= 0.5); a small piece off the vertebrae with at least half its points
    within one voxel of a ring is a strut (the map's lumen may have missed it).
    """
    small = [
        c
        for c in candidates
        if _off_spine(c, features[c.id], settings) and verdicts.get(c.id, ("",))[0] != "contrast"
    ]
    wall = [c for c in small if features[c.id].get("aortic_wall_share", 0.0) >= 0.5]
    if len(wall) < _RING_MIN_PIECES:
        return
    voxel_mm = float(max(volume.spacing_mm))
    points = {c.id: _points_lps(c, volume) for c in small}
    rings = _rings(
        np.concatenate([points[c.id] for c in wall]),
        np.concatenate([np.full(len(points[c.id]), c.id) for c in wall]),
        voxel_mm,
    )
    if not rings:
        return
    caged = [c for c in small if _on_rings(points[c.id], rings, voxel_mm)]
    wall_ids = {c.id for c in wall}
    in_ring = [c for c in caged if c.id in wall_ids]
    metal = any(
        features[c.id]["saturated_fraction"] > 0 or c.evidence.get("core") == "metal" for c in in_ring
    )
    radius = np.median([r for _, _, _, r in rings])
    for c in caged:
        reason = f"one of {len(in_ring)} pieces ringing the aortic lumen ({radius:.0f} mm radius): "
        if metal:
            verdicts[c.id] = ("metal", reason + "a stent graft's struts", 0.8)
        else:
            verdicts[c.id] = ("calcification", reason + "a stent graft's struts or a calcified wall", 0.7)


def _off_spine(c, f: dict, s: Settings) -> bool:
    return (
        rules.fraction_in(f, rules.VERTEBRA) < 0.3
        and f.get("vertebral_body_fraction", 0.0) < 0.3
        and c.volume_ml < s.calcification_max_ml
    )


def _points_lps(c, volume: CTVolume) -> np.ndarray:
    zyx = c.zyx(volume.shape)
    return volume.index_to_lps(zyx[:: max(1, len(zyx) // _SAMPLES_PER_PIECE)])


def _rings(
    lps: np.ndarray, piece: np.ndarray, voxel_mm: float
) -> list[tuple[float, float, np.ndarray, float]]:
    """(S from, S to, centre (L, P) mm, radius mm) of each slab whose wall points ring a lumen."""
    height = max(_SLAB_MM, 3 * voxel_mm)
    rings = []
    for s0 in np.arange(lps[:, 2].min(), lps[:, 2].max() + 1e-6, height / 2):
        here = (lps[:, 2] >= s0) & (lps[:, 2] < s0 + height)
        if len(np.unique(piece[here])) < _RING_MIN_PIECES:
            continue
        xy = lps[here, :2]
        centre, radius, rms = _circle(xy)
        if not (_AORTIC_RADIUS_MM[0] <= radius <= _AORTIC_RADIUS_MM[1]) or rms > max(
            _RING_MAX_RMS_MM, voxel_mm
        ):
            continue
        angles = np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0])
        sectors = np.unique(np.floor((angles + np.pi) / (np.pi / 6)).astype(int) % 12)
        if len(sectors) >= _RING_MIN_SECTORS:
            rings.append((float(s0), float(s0 + height), centre, radius))
    return rings


def _circle(xy: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least-squares circle through points (algebraic fit): centre, radius, RMS distance to it (mm)."""
    a = np.column_stack([xy, np.ones(len(xy))])
    b = -(xy**2).sum(axis=1)
    (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = np.array([-d / 2, -e / 2])
    radius = float(np.sqrt(max(centre @ centre - f, 0.0)))
    rms = float(np.sqrt(np.mean((np.linalg.norm(xy - centre, axis=1) - radius) ** 2)))
    return centre, radius, rms


def _on_rings(lps: np.ndarray, rings, voxel_mm: float) -> bool:
    """At least half its points within one voxel of a ring of their slab: a strut of it."""
    off = np.full(len(lps), np.inf)
    for s0, s1, centre, radius in rings:
        here = (lps[:, 2] >= s0) & (lps[:, 2] < s1)
        off[here] = np.minimum(off[here], np.abs(np.linalg.norm(lps[here, :2] - centre, axis=1) - radius))
    return bool(np.median(off) <= voxel_mm)
