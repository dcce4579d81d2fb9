"""A stent graft: struts ringing the aortic lumen, never cement however partial volume dims them.

A stent graft's metal rings sit on the aortic wall all round the lumen. On coarse voxels their
thin wires read 1000-2000 HU, like cement or a plaque, break into many pieces, and the streaks
between them can push the map's aortic lumen off the far wall or hide the aorta from the map.
One piece alone cannot be told from cement in a lumbar vein behind the aorta; the ring they
make together can: cement never rings a lumen, except the plexus around a vertebral body,
which is no lumen.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.spatial import cKDTree
from skimage.measure import CircleModel

from ..anatomy.anatomy_map import STRUCTURES, AnatomyMap
from ..volume import CTVolume
from . import rules

#: a ring: at least this many pieces...
_RING_MIN_PIECES = 3
#: ...whose directions from its centre fill this many of the 12 sectors of 30 degrees...
_RING_MIN_SECTORS = 9
#: ...lying within this of a circle (mm; at least one voxel) of an aortic radius (mm)
_RING_MAX_RMS_MM = 2.0
_AORTIC_RADIUS_MM = (5.0, 25.0)
#: the rings are looked for in slabs this tall (mm; at least three voxels), overlapping by half
_SLAB_MM = 20.0
_SAMPLES_PER_PIECE = 200
#: circles through three pieces are tried this many at a time (bounded memory in a crowded slab)
_TRIPLES_PER_BATCH = 20000
#: a ring whose axis meets one of these is round no aortic lumen
_NO_LUMEN = [
    STRUCTURES[name] for name in (*rules.SPINE_COMPARTMENTS, "other_bone", "lung", "pulmonary_artery")
]
#: the aorta runs beside the spine: a ring's centre lies within this (mm, in plane) of a vertebral body
_AORTA_FROM_SPINE_MM = 40.0
_SPINE_SAMPLES = 20000


def stent_struts(candidates, features: dict, verdicts: dict, volume: CTVolume, anatomy: AnatomyMap) -> None:
    """Candidates off the vertebrae on a ring around an aortic lumen become metal (or calcification
    when no piece of the ring reaches the HU ceiling: a calcified wall rings the lumen too),
    whatever the rules said; ``verdicts`` is updated in place.

    Slab by slab, the circle through three pieces that most other pieces lie on, refitted to
    their points (or a piece alone that is a whole ring), is a ring when it has an aorta's
    radius, its points surround its centre within `_RING_MAX_RMS_MM` (or a voxel) of it, and
    its centre lies where an aorta does (`_around_a_lumen`); a piece with at least half its
    points within one voxel of a ring is a strut (the map's lumen may have missed it).
    """
    bodies = np.argwhere(anatomy.vertebrae > 0)
    if not candidates or not len(bodies):
        return  # nothing to look at, or no spine to find the aorta's place by
    spine_lps = anatomy.voxel_centres_lps(bodies[:: max(1, len(bodies) // _SPINE_SAMPLES)])
    reach_mm = _AORTA_FROM_SPINE_MM + _AORTIC_RADIUS_MM[1] + _SLAB_MM
    near_spine = cKDTree(spine_lps).query([c.centroid_lps_mm for c in candidates])[0] <= reach_mm
    pieces = [
        c
        for c, near in zip(candidates, near_spine, strict=True)
        if near and _off_spine(features[c.id]) and verdicts.get(c.id, ("",))[0] != "contrast"
    ]
    if not pieces:
        return
    voxel_mm = float(max(volume.spacing_mm))
    points = {c.id: _points_lps(c, volume) for c in pieces}
    lps = np.concatenate([points[c.id] for c in pieces])
    piece = np.concatenate([np.full(len(points[c.id]), c.id) for c in pieces])
    rings = [ring for ring in _rings(lps, piece, voxel_mm) if _around_a_lumen(ring, anatomy, spine_lps)]
    if not rings:
        return
    struts = [c for c in pieces if _on_rings(points[c.id], rings, voxel_mm)]
    metal = any(features[c.id]["saturated_fraction"] > 0 or c.evidence.get("core") == "metal" for c in struts)
    radius = np.median([r for _, _, _, r in rings])
    for c in struts:
        reason = f"one of {len(struts)} pieces ringing a lumen ({radius:.0f} mm radius) outside the spine: "
        if metal:
            verdicts[c.id] = ("metal", reason + "a stent graft's struts", 0.8)
        else:
            verdicts[c.id] = ("calcification", reason + "a stent graft's struts or a calcified wall", 0.7)


def _off_spine(f: dict) -> bool:
    return rules.fraction_in(f, rules.VERTEBRA) < 0.3 and f.get("vertebral_body_fraction", 0.0) < 0.3


def _points_lps(c, volume: CTVolume) -> np.ndarray:
    zyx = c.zyx(volume.shape)
    return volume.index_to_lps(zyx[:: max(1, len(zyx) // _SAMPLES_PER_PIECE)])


def _rings(
    lps: np.ndarray, piece: np.ndarray, voxel_mm: float
) -> list[tuple[float, float, np.ndarray, float]]:
    """(S from, S to, centre (L, P) mm, radius mm) of each ring, slab by slab: the pieces on one
    circle (a ring broken by partial volume), else each piece alone (a whole ring in one thick
    slice)."""
    height = max(_SLAB_MM, 3 * voxel_mm)
    tolerance_mm = max(_RING_MAX_RMS_MM, voxel_mm)
    rings = []
    for s0 in np.arange(lps[:, 2].min(), lps[:, 2].max() + 1e-6, height / 2):
        here = (lps[:, 2] >= s0) & (lps[:, 2] < s0 + height)
        ids, which = np.unique(piece[here], return_inverse=True)
        if not len(ids):
            continue
        xy = lps[here, :2]
        centroids = np.stack([xy[which == k].mean(axis=0) for k in range(len(ids))])
        on = _best_circle_pieces(centroids, tolerance_mm) if len(ids) >= _RING_MIN_PIECES else None
        for members in [on] if on is not None else np.eye(len(ids), dtype=bool):
            ring = _ring(xy[members[which]], tolerance_mm)
            if ring is not None:
                rings.append((float(s0), float(s0 + height), *ring))
    return rings


def _ring(xy: np.ndarray, tolerance_mm: float) -> tuple[np.ndarray, float] | None:
    """(centre, radius) of the circle fitted to the points when they ring it: an aortic radius,
    within ``tolerance_mm`` (RMS) of it, all round it."""
    fit = _circle(xy)
    if fit is None:
        return None
    centre, radius, rms = fit
    ringed = _AORTIC_RADIUS_MM[0] <= radius <= _AORTIC_RADIUS_MM[1] and rms <= tolerance_mm
    return (centre, radius) if ringed and _surrounds(xy, centre) else None


def _best_circle_pieces(centroids: np.ndarray, tolerance_mm: float) -> np.ndarray | None:
    """Which pieces (by centroid) lie on the circle of an aortic radius through three of them that
    most of them lie on; None when no such circle holds `_RING_MIN_PIECES`."""
    best = None
    triples = np.array(list(combinations(range(len(centroids)), 3)))
    for batch in np.array_split(triples, max(1, len(triples) // _TRIPLES_PER_BATCH)):
        centres, radii = _circumcircles(*(centroids[batch[:, k]] for k in range(3)))
        on = (
            np.abs(np.linalg.norm(centroids[None] - centres[:, None], axis=2) - radii[:, None])
            <= tolerance_mm
        )
        if len(on) and (best is None or on.sum(axis=1).max() > best.sum()):
            best = on[int(np.argmax(on.sum(axis=1)))]
    return best if best is not None and best.sum() >= _RING_MIN_PIECES else None


def _circumcircles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres and radii (mm) of the circles through points a, b, c (rows), those of an aortic
    radius only (three points on a line have none)."""
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    ok = np.abs(d) > 1e-9
    a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    sa, sb, sc = (a**2).sum(1), (b**2).sum(1), (c**2).sum(1)
    centres = np.column_stack(
        [
            (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d,
            (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d,
        ]
    )
    radii = np.linalg.norm(a - centres, axis=1)
    aortic = (radii >= _AORTIC_RADIUS_MM[0]) & (radii <= _AORTIC_RADIUS_MM[1])
    return centres[aortic], radii[aortic]


def _surrounds(xy: np.ndarray, centre: np.ndarray) -> bool:
    """The points' directions from the centre fill `_RING_MIN_SECTORS` sectors of 30 degrees."""
    angles = np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0])
    return len(np.unique(np.floor((angles + np.pi) / (np.pi / 6)).astype(int) % 12)) >= _RING_MIN_SECTORS


def _around_a_lumen(ring, anatomy: AnatomyMap, spine_lps: np.ndarray) -> bool:
    """An aorta's place: beside the spine (within `_AORTA_FROM_SPINE_MM` of a vertebral body, in
    plane, at the ring's height), with no vertebra, spine compartment, bone or lung on the ring's
    axis within a slab's height of it. Cement round a vertebra or in its disc rings the spine (a
    cemented disc's dense voxels are 'other bone' to the map), sternal wires ring the sternum, a
    curled embolus lies in the lung."""
    s0, s1, centre, _ = ring
    height = s1 - s0
    level = spine_lps[(spine_lps[:, 2] >= s0 - height) & (spine_lps[:, 2] < s1 + height), :2]
    if not len(level) or np.linalg.norm(level - centre, axis=1).min() > _AORTA_FROM_SPINE_MM:
        return False
    axis_s = np.arange(s0 - height, s1 + height, 1.0)
    axis = np.column_stack([np.full(len(axis_s), centre[0]), np.full(len(axis_s), centre[1]), axis_s])
    return not (np.isin(anatomy.structure_at(axis), _NO_LUMEN).any() or anatomy.vertebra_at(axis).any())


def _circle(xy: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """Least-squares circle through points (scikit-image's `CircleModel`): centre, radius and RMS
    distance to it (mm); None when the points fit no circle (all on a line)."""
    model = CircleModel.from_estimate(xy)
    if not model:
        return None
    return np.asarray(model.center), float(model.radius), float(np.sqrt(np.mean(model.residuals(xy) ** 2)))


def _on_rings(lps: np.ndarray, rings, voxel_mm: float) -> bool:
    """At least half its points within one voxel of a ring of their slab: a strut of it."""
    off = np.full(len(lps), np.inf)
    for s0, s1, centre, radius in rings:
        here = (lps[:, 2] >= s0) & (lps[:, 2] < s1)
        off[here] = np.minimum(off[here], np.abs(np.linalg.norm(lps[here, :2] - centre, axis=1) - radius))
    return bool(np.median(off) <= voxel_mm)
