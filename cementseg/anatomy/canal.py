"""The spinal canal: found first, tracked slice by slice, interpolated where the bony ring is open.

Per axial slice of the working grid, the canal is a hole in the bone mask (HU above
``wall_hu``), closed along the spine axis over ``bridge_mm`` so that the gaps of the ring
at the foramina and discs (bone above and below them) are bridged: 40-700 mm2 of CSF /
cord / epidural fat (median -80..90 HU) with denser tissue anterior to it (the vertebral
body; osteoporotic bodies are only about 100 HU on 3 mm voxels). The hole ending the longest chain of such holes seeds a track that is
followed up and down the spine; where no hole is found (disc levels, foramina) the centre
and radius are interpolated between the neighbouring found slices. A hole bordered by cement
(above CEMENT_HU: an epidural or intradural leak) shows only the part of the canal the cement
left free, so for the built-in bodies (`without_cement_bordered`) its centre and radius are
interpolated from the clean slices too, and cement in the interpolated disk is canal: the canal's
anterior wall then stays where the bodies' posterior cortex is, and cement in front of the
remaining hole is not taken for body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import fill_holes_per_slice, label_per_slice
from .grid import WorkingGrid
from .morphology import bounding_box, box, close, dilate

CANAL_AREA_MM2 = (40.0, 700.0)
CANAL_MEDIAN_HU = (-80.0, 90.0)
ANTERIOR_MIN_HU = 60.0
MAX_STEP_MM = 10.0  # largest in-plane shift of the canal centre between neighbouring found slices
CEMENT_HU = 1000.0  # denser than any bone on the working grid


@dataclass
class CanalTrack:
    """The canal per working-grid slice; NaN outside [z_first, z_last].

    Attributes:
        centre_yx: (nz, 2) canal centre in working-grid (y, x) index units.
        radius_mm: (nz,) radius of a disk of the same area.
        found: (nz,) True where a closed ring was seen, False where interpolated.
        mask: the canal on the working grid.
    """

    centre_yx: np.ndarray
    radius_mm: np.ndarray
    found: np.ndarray
    mask: np.ndarray

    @property
    def slices(self) -> np.ndarray:
        return np.nonzero(np.isfinite(self.radius_mm))[0]


def _candidates(grid: WorkingGrid, bridged: np.ndarray, body: np.ndarray) -> tuple[list, tuple[slice, slice]]:
    """Per slice: (hole label image, [(label, centre_yx, area_mm2), ...]) of the canal-like holes, the
    label images on the (y, x) box returned with them (the holes' bounding box)."""
    sy, sx = grid.spacing_mm[1:]
    closed = close(bridged, box(grid.spacing_mm, (0.0, 3.0, 3.0)))
    holes = fill_holes_per_slice(closed) & ~closed & body
    del closed
    crop = bounding_box(holes)
    if crop is None:
        return [(None, []) for _ in range(grid.shape[0])], (slice(0, 0), slice(0, 0))
    crop = (slice(0, grid.shape[0]), *crop[1:])  # every slice, to index the list by slice
    holes = holes[crop]
    labels, n = label_per_slice(holes)
    per_slice: list = [(labels[z], []) for z in range(grid.shape[0])]
    areas = np.bincount(labels[holes], minlength=n + 1) * sy * sx
    del holes
    index = np.nonzero((areas >= CANAL_AREA_MM2[0]) & (areas <= CANAL_AREA_MM2[1]))[0]
    index = index[index > 0]
    if len(index) == 0:
        return per_slice, crop[1:]
    medians, centres = _median_and_centre(grid.hu[crop], labels, index, [c.start for c in crop])
    for label, median, (z, cy, cx) in zip(index, medians, centres, strict=True):
        if not (CANAL_MEDIAN_HU[0] <= median <= CANAL_MEDIAN_HU[1]):
            continue
        z = int(round(z))
        if _mean_hu_anterior(grid.hu[z], (cy, cx), (sy, sx)) < ANTERIOR_MIN_HU:
            continue
        per_slice[z][1].append((int(label), np.array([cy, cx]), float(areas[label])))
    return per_slice, crop[1:]


def _median_and_centre(
    hu: np.ndarray, labels: np.ndarray, index: np.ndarray, origin
) -> tuple[np.ndarray, np.ndarray]:
    """Median HU and centroid (z, y, x index, ``origin`` = the index of ``labels[0, 0, 0]``) of each
    label in ``index`` (ascending), in one sort.

    Equivalent to ``ndimage.median`` and ``ndimage.center_of_mass`` but a single pass over the
    selected voxels instead of one per label.
    """
    wanted = np.zeros(int(labels.max()) + 1, dtype=bool)
    wanted[index] = True
    flat = labels.ravel()
    at = np.nonzero(wanted[flat])[0]
    local = np.unravel_index(at, labels.shape)
    values = hu[local]
    order = np.lexsort((values, flat[at]))
    values, group = values[order], flat[at[order]]
    starts = np.searchsorted(group, index)
    counts = np.searchsorted(group, index, side="right") - starts
    medians = 0.5 * (values[starts + (counts - 1) // 2] + values[starts + counts // 2])
    zyx = [c[order] + o for c, o in zip(local, origin, strict=True)]
    position = np.searchsorted(index, group)
    centres = np.column_stack([np.bincount(position, weights=c, minlength=len(index)) for c in zyx]) / counts[:, None]
    return medians, centres


def _mean_hu_anterior(hu_slice: np.ndarray, centre, spacing_yx) -> float:
    """Mean HU 8-40 mm anterior (-y) of ``centre``, within 8 mm of its x."""
    sy, sx = spacing_yx
    cy, cx = centre
    y0, y1 = int(round(cy - 40.0 / sy)), int(round(cy - 8.0 / sy))
    x0, x1 = int(round(cx - 8.0 / sx)), int(round(cx + 8.0 / sx)) + 1
    box = hu_slice[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    return float(box.mean()) if box.size else -1000.0


def track_canal(
    grid: WorkingGrid, body: np.ndarray, wall_hu: float, bridge_mm: float, max_gap_mm: float
) -> CanalTrack | None:
    """Find and track the spinal canal; None when no canal-like ring is in view."""
    nz = grid.shape[0]
    bone = grid.hu > wall_hu
    bridged = close(bone, box(grid.spacing_mm, (bridge_mm / 2.0, 0.0, 0.0)))
    per_slice, crop_yx = _candidates(grid, bridged, body)
    del bridged
    sy, sx = grid.spacing_mm[1:]
    seed = _seed(per_slice, np.array([sy, sx]))
    if seed is None:
        return None
    seed_z, seed_centre = seed
    centre = np.full((nz, 2), np.nan)
    radius = np.full(nz, np.nan)
    found = np.zeros(nz, dtype=bool)
    mask = np.zeros(grid.shape, dtype=bool)
    max_gap = max(1, int(round(max_gap_mm / grid.spacing_mm[0])))
    for step in (1, -1):
        z, last, gap = seed_z, seed_centre, 0
        last_radius = np.sqrt(_nearest(per_slice[seed_z][1], seed_centre, (sy, sx))[2] / np.pi)
        while 0 <= z < nz and gap <= max_gap:
            labels, candidates = per_slice[z]
            best = _nearest(candidates, last, (sy, sx))
            if best is not None:
                label, c, area = best
                centre[z], radius[z], found[z] = c, np.sqrt(area / np.pi), True
                mask[z][crop_yx] = labels == label
                last, last_radius, gap = c, radius[z], 0
            elif not _cement_in_disk(grid.hu[z] > CEMENT_HU, last, last_radius, (sy, sx)):
                gap += 1  # a slice filled by canal cement hides the ring but does not end the canal
            z += step
    _interpolate_gaps(centre, radius, found)
    _draw_interpolated(mask, centre, radius, found, bone, (sy, sx))
    return CanalTrack(centre_yx=centre, radius_mm=radius, found=found, mask=mask)


def without_cement_bordered(grid: WorkingGrid, canal: CanalTrack, wall_hu: float) -> CanalTrack:
    """The track with the slices whose hole touches cement interpolated from the clean ones."""
    centre, radius = canal.centre_yx.copy(), canal.radius_mm.copy()
    found, mask = canal.found.copy(), canal.mask.copy()
    if not _drop_cement_bordered(grid, mask, found):
        return canal
    _interpolate_gaps(centre, radius, found)
    bone = (grid.hu > wall_hu) & (grid.hu <= CEMENT_HU)
    _draw_interpolated(mask, centre, radius, found, bone, grid.spacing_mm[1:])
    return CanalTrack(centre_yx=centre, radius_mm=radius, found=found, mask=mask)


def _seed(per_slice, spacing_yx) -> tuple[int, np.ndarray] | None:
    """(slice, centre) of the candidate ending the longest chain of holes linked slice to slice.

    Two holes link when their centres are within MAX_STEP_MM / 2 in-plane on neighbouring
    slices; the canal is the longest such chain (the ring of one vertebra, continued).
    """
    best, best_length = None, 0
    previous: list[tuple[np.ndarray, int]] = []
    for z, (_, candidates) in enumerate(per_slice):
        current = []
        for _, centre, _ in candidates:
            linked = [n for c, n in previous
                      if np.hypot(*((centre - c) * spacing_yx)) < MAX_STEP_MM / 2.0]
            length = 1 + max(linked, default=0)
            current.append((centre, length))
            if length > best_length:
                best, best_length = (z, centre), length
        previous = current
    return best


def _cement_in_disk(cement_slice: np.ndarray, centre, radius_mm: float, spacing_yx) -> bool:
    """Whether cement lies within ``radius_mm`` of ``centre`` on this slice (a cast in the canal)."""
    return bool((cement_slice & _disk(cement_slice.shape, centre, radius_mm, spacing_yx)).any())


def _disk(shape, centre, radius_mm: float, spacing_yx) -> np.ndarray:
    """In-plane pixels within ``radius_mm`` of ``centre`` (y, x index)."""
    sy, sx = spacing_yx
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return ((yy - centre[0]) * sy) ** 2 + ((xx - centre[1]) * sx) ** 2 <= radius_mm**2


def _nearest(candidates, last, spacing_yx):
    best, best_d = None, MAX_STEP_MM
    for cand in candidates:
        d = float(np.hypot(*((cand[1] - last) * spacing_yx)))
        if d <= best_d:
            best, best_d = cand, d
    return best


def _drop_cement_bordered(grid: WorkingGrid, mask: np.ndarray, found: np.ndarray) -> bool:
    """Un-find the slices whose hole touches cement or its one-voxel partial-volume rim (in 3D),
    keeping at least two found slices; whether any was dropped.

    Touching: a hole pixel's in-plane neighbour is in the rim, i.e. cement lies within one slice
    and two pixels of the hole (a 3 x 5 x 5 box), looked for within the holes' bounding box.
    """
    crop = bounding_box(mask, (1, 2, 2))
    if crop is None:
        return False
    near_cement = dilate(grid.hu[crop] > CEMENT_HU, (3, 5, 5)) & mask[crop]
    touching = np.zeros_like(found)
    touching[crop[0]] = near_cement.any(axis=(1, 2))
    touching &= found
    if not touching.any() or found.sum() - touching.sum() < 2:
        return False
    found[touching] = False
    mask[touching] = False
    return True


def _interpolate_gaps(centre: np.ndarray, radius: np.ndarray, found: np.ndarray) -> None:
    zs = np.nonzero(found)[0]
    inner = np.arange(zs[0], zs[-1] + 1)
    for k in range(2):
        centre[inner, k] = np.interp(inner, zs, centre[zs, k])
    radius[inner] = np.interp(inner, zs, radius[zs])


def _draw_interpolated(mask, centre, radius, found, bone, spacing_yx) -> None:
    """Draw the interpolated slices: the disk minus ``bone``."""
    for z in np.nonzero(np.isfinite(radius) & ~found)[0]:
        mask[z] = _disk(mask.shape[1:], centre[z], radius[z], spacing_yx) & ~bone[z]


def extended(canal: CanalTrack, grid: WorkingGrid, reach_mm: float) -> CanalTrack:
    """The track continued ``reach_mm`` beyond both ends at its end positions (mask unchanged).

    Used to look for vertebral bodies a little past the last closed ring: the sacral canal
    turns posteriorly below S1, and the scan may end above the last ring.
    """
    centre, radius = canal.centre_yx.copy(), canal.radius_mm.copy()
    zs = canal.slices
    steps = int(round(reach_mm / grid.spacing_mm[0]))
    for end, beyond in (
        (zs[0], range(max(0, zs[0] - steps), zs[0])),
        (zs[-1], range(zs[-1] + 1, min(len(radius), zs[-1] + steps + 1))),
    ):
        for z in beyond:
            centre[z], radius[z] = centre[end], radius[end]
    return CanalTrack(centre_yx=centre, radius_mm=radius, found=canal.found, mask=canal.mask)
