"""Level names: count up from the sacrum and down from the lowest rib-bearing vertebra (T12).

A rib is a long, thin bone component outside the spinal column whose medial end lies
next to a vertebra, lateral of the canal (the costovertebral joint and transverse process),
not in front of the body (contrast in the IVC and hepatic veins, the aorta) and not behind
the arch; metal (screws, rods) and its streaks are excluded; the lowest vertebra carrying one is T12 provided the vertebra below it
is seen whole (clear of the ends of the scan) and without a rib. The sacrum is the lowest body whose bone reaches far to both sides
within the body's depth (the sacral alae and the sacroiliac joints).
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage

from .canal import CanalTrack
from .grid import WorkingGrid
from .morphology import box as footprint
from .morphology import dilate, voxels

COLUMN_RADIUS_MM = 40.0  # bone within this distance of the canal centre belongs to the spinal column
RIB_MIN_LENGTH_MM = 60.0
RIB_MAX_ML = 60.0
RIB_MAX_MEDIAL_MM = 60.0
METAL_HU = 2500.0
RIB_MIN_REACH_MM = 80.0  # ribs reach further from the canal than any transverse process
# the costovertebral joint lies lateral of the canal: the medial end's direction from the canal
# centre is within this angle of the patient's left-right axis (vessels in front of the body,
# rods behind the arch are not)
RIB_MEDIAL_END_MAX_ANGLE_DEG = 50.0
SACRAL_HALF_WIDTH_MM = 45.0  # the sacral alae reach beyond this on both sides; lumbar bodies do not

ORDER = (
    [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + ["S1"]
)


def rib_bearing_vertebrae(
    grid: WorkingGrid, vertebrae: np.ndarray, canal: CanalTrack, bone_hu: float
) -> set[int]:
    """Ids of vertebrae with a rib attached."""
    spacing = np.asarray(grid.spacing_mm)
    metal = dilate(grid.hu > METAL_HU, footprint(grid.spacing_mm, 4.0))  # screws, rods and their streaks
    tracked = canal.slices
    found = _outside_column(grid, bone_hu, metal, canal, tracked)
    del metal
    if found is None:
        return set()
    zyx, medial_mm = found
    crop = tuple(slice(int(c.min()), int(c.max()) + 1) for c in zyx)
    local = tuple(c - box.start for c, box in zip(zyx, crop, strict=True))
    outside = np.zeros(tuple(box.stop - box.start for box in crop), dtype=bool)
    outside[local] = True
    labels = cc3d.connected_components(outside, connectivity=26)
    del outside
    label_of = labels[local]  # every component has voxels here: labels 1..max
    del labels
    # each component's voxels by distance from the canal (raster order among equals): nearest first
    order = np.lexsort((medial_mm, label_of))
    ids = np.arange(int(label_of.max()) + 1)
    first = np.searchsorted(label_of[order], ids)
    last = np.searchsorted(label_of[order], ids, side="right") - 1
    extents = _box_sizes(zyx, order, first[1:]) * spacing
    ribs: set[int] = set()
    z_of_vertebra = _slices_of(vertebrae)
    for label in ids[1:]:
        extent = extents[label - 1]
        volume_ml = (last[label] - first[label] + 1) * grid.voxel_ml
        if np.linalg.norm(extent) < RIB_MIN_LENGTH_MM or volume_ml > RIB_MAX_ML:
            continue
        nearest, farthest = order[first[label]], order[last[label]]
        if medial_mm[nearest] > RIB_MAX_MEDIAL_MM or medial_mm[farthest] < RIB_MIN_REACH_MM:
            continue
        z, y, x = (int(c[nearest]) for c in zyx)
        if not _lateral_of_canal(canal, tracked, z, y, x, spacing):
            continue
        owner = _vertebra_at_z(z_of_vertebra, z)
        if owner:
            ribs.add(owner)
    return ribs


def _box_sizes(zyx, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(n, 3) bounding-box size in voxels of each run of the voxels ``zyx`` taken in ``order``,
    the runs beginning at ``starts``."""
    return np.column_stack([
        np.maximum.reduceat(c[order], starts) - np.minimum.reduceat(c[order], starts) + 1 for c in zyx
    ])


SLAB_SLICES = 16  # slices searched for bone at a time in `_outside_column` (bounds the per-voxel arrays)


def _outside_column(
    grid: WorkingGrid, bone_hu: float, metal: np.ndarray, canal: CanalTrack, tracked: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None:
    """The bone (above ``bone_hu``, not ``metal``) farther than COLUMN_RADIUS_MM (in-plane) from the
    canal centre of the nearest tracked slice: its voxels ((z, y, x) index arrays, raster order) and
    their float32 mm from the canal there; None when there is none."""
    spacing = grid.spacing_mm
    nz = grid.shape[0]
    nearest = tracked[np.argmin(np.abs(tracked[None, :] - np.arange(nz)[:, None]), axis=1)]
    found = []
    for z0 in range(0, nz, SLAB_SLICES):
        bone = grid.hu[z0 : z0 + SLAB_SLICES] > bone_hu
        bone[metal[z0 : z0 + SLAB_SLICES]] = False
        z, y, x = voxels(bone).T
        z = z + z0
        cy, cx = canal.centre_yx[nearest[z]].T
        medial = np.hypot((y - cy) * spacing[1], (x - cx) * spacing[2]).astype(np.float32)
        far = medial > COLUMN_RADIUS_MM
        found.append((z[far], y[far], x[far], medial[far]))
    z, y, x, medial = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return None if len(z) == 0 else ((z, y, x), medial)


def _slices_of(vertebrae: np.ndarray) -> dict[int, np.ndarray]:
    """Vertebra id -> the slices it appears in (one pass over the body voxels)."""
    zyx = voxels(vertebrae)
    ids = vertebrae[tuple(zyx.T)]
    present = np.zeros((vertebrae.shape[0], int(ids.max(initial=0)) + 1), dtype=bool)
    present[zyx[:, 0], ids] = True
    return {v: np.nonzero(present[:, v])[0] for v in range(1, present.shape[1]) if present[:, v].any()}


def _lateral_of_canal(canal: CanalTrack, tracked: np.ndarray, z: int, y: int, x: int, spacing: np.ndarray) -> bool:
    """Whether voxel (z, y, x) lies to the side of the canal centre rather than in front or behind."""
    cy, cx = canal.centre_yx[tracked[np.argmin(np.abs(tracked - z))]]
    angle = np.degrees(np.arctan2(abs(y - cy) * spacing[1], abs(x - cx) * spacing[2]))
    return bool(angle <= RIB_MEDIAL_END_MAX_ANGLE_DEG)


def _vertebra_at_z(z_of_vertebra: dict[int, np.ndarray], z: int) -> int | None:
    best, best_d = None, 3
    for vid, zs in z_of_vertebra.items():
        d = 0 if zs[0] <= z <= zs[-1] else min(abs(z - zs[0]), abs(z - zs[-1]))
        if d < best_d or (
            d == best_d == 0 and best is not None and abs(z - zs.mean()) < abs(z - z_of_vertebra[best].mean())
        ):
            best, best_d = vid, d
    return best


def is_sacral(grid: WorkingGrid, vertebrae: np.ndarray, vid: int, canal: CanalTrack, bone_hu: float) -> bool:
    """Whether bone joined to body ``vid`` reaches past the alae's half-width on both sides, within
    the body's depth, over at least half of its slices (the sacral alae; lumbar transverse
    processes lie behind the body and the iliac wings are not joined to it)."""
    spacing = grid.spacing_mm
    zs = np.nonzero((vertebrae == vid).any(axis=(1, 2)))[0]
    wide = 0
    for z in zs:
        if not np.isfinite(canal.radius_mm[z]):
            continue
        body = vertebrae[z] == vid
        rows = np.nonzero(body.any(axis=1))[0]
        band = slice(rows.min(), rows.max() + 1)  # the body's rows: all that is labelled lies in them
        labels, n = ndimage.label((grid.hu[z][band] > bone_hu) | body[band])
        joined = np.zeros(n + 1, dtype=bool)
        joined[labels[body[band]]] = True
        cols = np.nonzero(joined[labels].any(axis=0))[0]
        lateral = (cols - canal.centre_yx[z][1]) * spacing[2]
        if lateral.min() < -SACRAL_HALF_WIDTH_MM and lateral.max() > SACRAL_HALF_WIDTH_MM:
            wide += 1
    return wide >= max(2, 0.5 * len(zs))


def name_levels(
    ids_caudal_to_cranial: list[int], sacral: int | None, lowest_rib: int | None, rib_count_possible: bool
) -> tuple[dict[int, str | None], str, list[str]]:
    """Level names from the sacral count and/or the rib count; (levels, note, warnings)."""
    warnings: list[str] = []
    by_sacrum = by_ribs = None
    if sacral is not None:
        by_sacrum = _count(ids_caudal_to_cranial, sacral, "S1")
    if lowest_rib is not None and rib_count_possible:
        by_ribs = _count(ids_caudal_to_cranial, lowest_rib, "T12")
    if by_sacrum and by_ribs and by_sacrum != by_ribs:
        warnings.append(
            "level count from the sacrum and from the lowest rib-bearing vertebra disagree "
            "(transitional vertebra, 11/13 rib pairs, or the lumbosacral disc missed); "
            "levels follow the rib count"
        )
    if by_ribs:
        return by_ribs, "counted down from the lowest rib-bearing vertebra (T12)", warnings
    if by_sacrum:
        return by_sacrum, "counted up from the sacrum", warnings
    note = (
        "levels unknown: neither the sacrum nor the lowest rib-bearing vertebra with a rib-free "
        "vertebra below it is in the field of view"
    )
    return {vid: None for vid in ids_caudal_to_cranial}, note, warnings


def _count(ids: list[int], anchor: int, anchor_name: str) -> dict[int, str | None]:
    k = ORDER.index(anchor_name)
    a = ids.index(anchor)
    names: dict[int, str | None] = {}
    for i, vid in enumerate(ids):
        j = k - (i - a)
        names[vid] = ORDER[j] if 0 <= j < len(ORDER) else None
    return names
