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
from .morphology import bounding_box, dilate
from .morphology import box as footprint

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
    bone = (grid.hu > bone_hu) & ~metal
    tracked = canal.slices
    medial_mm = _distance_from_canal_mm(bone, canal, tracked, spacing)
    outside = bone & (medial_mm > COLUMN_RADIUS_MM)
    crop = bounding_box(outside)
    if crop is None:
        return set()
    labels = cc3d.connected_components(outside[crop], connectivity=26)
    stats = cc3d.statistics(labels)
    medial_mm = medial_mm[crop]
    ribs: set[int] = set()
    z_of_vertebra = _slices_of(vertebrae)
    for label in range(1, len(stats["voxel_counts"])):
        box = stats["bounding_boxes"][label]
        extent = np.array([b.stop - b.start for b in box]) * spacing
        volume_ml = stats["voxel_counts"][label] * grid.voxel_ml
        if np.linalg.norm(extent) < RIB_MIN_LENGTH_MM or volume_ml > RIB_MAX_ML:
            continue
        sub = labels[box] == label
        distances = np.where(sub, medial_mm[box], np.inf)
        flat = int(np.argmin(distances))
        reach = np.where(sub, medial_mm[box], -np.inf).max()
        if distances.flat[flat] > RIB_MAX_MEDIAL_MM or reach < RIB_MIN_REACH_MM:
            continue
        at = np.unravel_index(flat, sub.shape)
        z, y, x = (c.start + b.start + i for c, b, i in zip(crop, box, at, strict=True))
        if not _lateral_of_canal(canal, tracked, z, y, x, spacing):
            continue
        owner = _vertebra_at_z(z_of_vertebra, z)
        if owner:
            ribs.add(owner)
    return ribs


def _distance_from_canal_mm(
    where: np.ndarray, canal: CanalTrack, tracked: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """float32 in-plane mm from the canal centre of the nearest tracked slice at the ``where`` voxels,
    0 elsewhere."""
    nearest = tracked[np.argmin(np.abs(tracked[None, :] - np.arange(where.shape[0])[:, None]), axis=1)]
    at = np.flatnonzero(where)
    z, y, x = np.unravel_index(at, where.shape)
    cy, cx = canal.centre_yx[nearest[z]].T
    out = np.zeros(where.shape, dtype=np.float32)
    out.flat[at] = np.hypot((y - cy) * spacing[1], (x - cx) * spacing[2])
    return out


def _slices_of(vertebrae: np.ndarray) -> dict[int, np.ndarray]:
    """Vertebra id -> the slices it appears in (one pass over the body voxels)."""
    at = np.flatnonzero(vertebrae)
    ids = vertebrae.ravel()[at]
    present = np.zeros((vertebrae.shape[0], int(ids.max(initial=0)) + 1), dtype=bool)
    present[at // (vertebrae.shape[1] * vertebrae.shape[2]), ids] = True
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
        band = np.zeros_like(body)
        band[rows.min() : rows.max() + 1] = True
        labels, _ = ndimage.label((grid.hu[z] > bone_hu) & band | body)
        joined = np.isin(labels, np.unique(labels[body]))
        cols = np.nonzero(joined.any(axis=0))[0]
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
