"""Great vessels and heart, placed relative to the spine.

* Aorta and IVC: per slice, the blood-density tube (a local maximum of the inscribed
  circle of -20..600 HU tissue, 6-20 mm radius) nearest to the vessel's usual place in a
  search window left-anterior (aorta) or right-anterior (IVC) of the vertebral body, given
  in spine-frame millimetres; the
  per-slice centres are median-filtered along the spine, outliers dropped, gaps of up to
  ``max_gap_mm`` interpolated, and a disk of the median radius drawn on tissue voxels.
  The IVC is then carried up behind and through the liver to the right atrium (`ivc_course`).
* Azygos / hemiazygos: a 5 mm disk hugging the right-anterior (left) surface of the
  thoracic bodies, in the posterior mediastinum (a position prior: the veins are too
  small to see unenhanced on a 2-3 mm grid).
* Heart: the largest mediastinal soft-tissue mass between the lungs, anterior of the
  spine; right heart = its right-anterior half (right atrium and ventricle).
* Pulmonary arteries: vessels (denser than -400 HU) inside the lung outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .body import fill_holes_per_slice, largest_component
from .grid import WorkingGrid
from .morphology import StackedBoxes, bounding_box, convex_hulls, over_3x3, voxels

BLOOD_HU = (-20.0, 600.0)
TUBE_RADIUS_MM = (6.0, 20.0)
MAX_TRACK_JUMP_MM = 12.0
IVC_MAX_OFF_USUAL_MM = 15.0  # a tracked IVC centre farther than this from its usual place is something else
DENSE_LUMEN_HU = 250.0  # a cement cast or refluxed contrast in a vein is this dense on the working grid
CAST_MARGIN_MM = 8.0  # ... and counts as that vein up to this far outside its drawn (prior) disk
IVC_PRIOR_RADIUS_MM = 10.0  # the IVC drawn at its usual place when no tracked centre is near it
IVC_ABOVE_LUNG_BASE_MM = 30.0  # without a heart in view, the IVC is drawn this far above the lung bases
HEART_MIN_AREA_FRACTION = 0.35  # the mediastinum above and below the heart is narrower than this


@dataclass(frozen=True)
class TubeWindow:
    """Where to look for a tube, in mm from the body centre: right (+) / left (-), anterior of the
    body front; ``usual`` is the (right, anterior of front) mm of its usual centre."""

    right_mm: tuple[float, float]
    anterior_of_front_mm: tuple[float, float]
    usual: tuple[float, float]
    steady_calibre: bool = False  # about as wide all along the spine (the aorta; the IVC narrows below)


AORTA_WINDOW = TubeWindow(
    right_mm=(-45.0, 10.0), anterior_of_front_mm=(-15.0, 45.0), usual=(-15.0, 10.0), steady_calibre=True
)
IVC_WINDOW = TubeWindow(right_mm=(10.0, 55.0), anterior_of_front_mm=(-15.0, 50.0), usual=(28.0, 15.0))


def find_tube(
    grid: WorkingGrid, tissue: np.ndarray, slices: dict, window: TubeWindow, max_gap_mm: float
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, float]]]:
    """A tube (aorta or IVC) along the spine: its mask and per-slice (centre_yx, radius_mm).

    ``slices`` maps a working-grid slice to (body centre (y, x) index, anterior and right
    unit vectors as (y, x) mm components, body radius mm).
    """
    track = tube_track(grid, tissue, slices, window, max_gap_mm)
    mask = np.zeros(grid.shape, dtype=bool)
    if track:
        zs = np.fromiter(track, dtype=np.intp, count=len(track))
        radius = np.array([r for _, r in track.values()])
        centres = np.array([c for c, _ in track.values()])
        boxes, distance_sq = _around(grid.shape[1:], zs, centres, radius, grid.spacing_mm[1:])
        boxes.paste((distance_sq <= (radius**2)[:, None, None]) & boxes.gather(tissue, False), mask)
    return mask, track


def tube_track(
    grid: WorkingGrid, tissue: np.ndarray, slices: dict, window: TubeWindow, max_gap_mm: float
) -> dict[int, tuple[np.ndarray, float]]:
    """The per-slice (centre_yx, radius_mm) of `find_tube`, without drawing its mask."""
    found = _tubes_in_slices(tissue, _SpineSlices(slices), window, grid.spacing_mm[1:])
    return _clean_track(found, grid, max_gap_mm, window.steady_calibre)


class _SpineSlices:
    """`find_tube`'s ``slices`` as arrays: ``z`` (n,), body ``centre``, ``anterior`` and ``right`` (n, 2),
    body ``radius`` (n,)."""

    def __init__(self, slices: dict):
        self.z = np.fromiter(slices, dtype=np.intp, count=len(slices))
        parts = list(zip(*slices.values(), strict=True)) or [(), (), (), ()]
        self.centre, self.anterior, self.right = (np.array(p, dtype=float).reshape(-1, 2) for p in parts[:3])
        self.radius = np.array(parts[3], dtype=float)

    def take(self, keep: np.ndarray) -> _SpineSlices:
        """The slices selected by ``keep`` (a bool or index array)."""
        out = object.__new__(_SpineSlices)
        for name in ("z", "centre", "anterior", "right", "radius"):
            setattr(out, name, getattr(self, name)[keep])
        return out


def _tubes_in_slices(
    tissue: np.ndarray, spine: _SpineSlices, window: TubeWindow, spacing_yx
) -> dict[int, tuple[np.ndarray, float]]:
    """Per slice: (centre (y, x), radius mm) of the tube in ``window`` nearest its usual place.

    The tube is a local maximum of the inscribed radius (distance to the nearest non-tissue
    pixel), computed on the window's bounding box grown by TUBE_RADIUS_MM[1] (a nearest
    boundary within that radius lies inside it), the box's edge counting as non-tissue. All
    slices at once, on the stack of the boxes (`StackedBoxes`), each given a non-tissue rim.
    """
    margin = [int(np.ceil(TUBE_RADIUS_MM[1] / s)) + 1 for s in spacing_yx]
    lo, hi = _window_boxes(spine, window, spacing_yx, tissue.shape[1:], margin)
    outer = StackedBoxes(spine.z, lo, hi)
    inside = _window_frames(outer, spine, window, spacing_yx)[2] & outer.in_box
    seen = (outer.gather(tissue, False) & inside).any(axis=(1, 2))
    if not seen.any():
        return {}
    inside, lo, hi = inside[seen], lo[seen], hi[seen]
    spine = spine.take(seen)
    near_lo = lo.copy()
    near_hi = hi.copy()
    for k, axis in ((0, 2), (1, 1)):  # the window's own bounding box grown by the margin, within the outer box
        hit = inside.any(axis=axis)
        first, last = hit.argmax(axis=1), hit.shape[1] - 1 - hit[:, ::-1].argmax(axis=1)
        near_lo[:, k] = lo[:, k] + np.maximum(first - margin[k], 0)
        near_hi[:, k] = np.minimum(lo[:, k] + last + margin[k] + 1, hi[:, k])
    near = StackedBoxes(spine.z, near_lo, near_hi)
    r_mm, front, inside = _window_frames(near, spine, window, spacing_yx)
    inside &= near.in_box
    rimmed = np.zeros((len(spine.z), near.rows.shape[1] + 2, near.columns.shape[1] + 2), dtype=bool)
    rimmed[:, 1:-1, 1:-1] = near.gather(tissue, False)
    rows, columns = bounding_box(inside.any(axis=0), 1)  # the windows and their neighbours: the radius is read there
    band = (slice(rows.start + 1, rows.stop + 1), slice(columns.start + 1, columns.stop + 1))  # in the rimmed boxes
    inscribed = _inscribed_mm(rimmed, spacing_yx, band)
    peaks = (
        (inscribed == over_3x3(inscribed, np.maximum))  # = ndimage.maximum_filter(size=3) per box
        & inside[:, rows, columns]
        & (inscribed >= TUBE_RADIUS_MM[0])
        & (inscribed <= TUBE_RADIUS_MM[1])
    )
    layer, ky, kx = np.nonzero(peaks)  # raster order within each box
    ky, kx = ky + rows.start, kx + columns.start
    off_usual = np.hypot(r_mm[layer, ky, kx] - window.usual[0], front[layer, ky, kx] - window.usual[1])
    order = np.lexsort((off_usual, layer))  # stable: the first of equally near peaks wins
    best = order[np.r_[True, np.diff(layer[order]) != 0]] if len(order) else order
    return {
        int(spine.z[layer[b]]): (
            np.array([near.rows[layer[b], ky[b]], near.columns[layer[b], kx[b]]], dtype=float),
            float(inscribed[layer[b], ky[b] - rows.start, kx[b] - columns.start]),
        )
        for b in best
    }


def _inscribed_mm(tissue: np.ndarray, spacing_yx, band: tuple[slice, slice]) -> np.ndarray:
    """Per image of a stack whose border is non-tissue: the distance (mm) of each pixel of the
    (rows, columns) ``band`` to the nearest non-tissue pixel, exact up to TUBE_RADIUS_MM[1], above
    it where the distance is (all that the tube search needs).

    The value ``ndimage.distance_transform_edt`` gives (the same sum of the squared offsets times
    the spacing): the least over the columns within TUBE_RADIUS_MM[1] of the squared distance to
    the column's nearest non-tissue pixel; a pixel farther along the row is farther than that radius.
    """
    sy, sx = spacing_yx
    rows, columns = band
    height = np.arange(tissue.shape[1], dtype=np.int16)[None, :, None]
    above = np.maximum.accumulate(np.where(tissue, -1, height), axis=1)[:, rows]  # the last non-tissue row so far
    below = np.minimum.accumulate(np.where(tissue, tissue.shape[1], height)[:, ::-1], axis=1)[:, ::-1][:, rows]
    along_y = np.square(np.minimum(height[:, rows] - above, below - height[:, rows]) * sy)
    nearest = np.full(along_y[..., columns].shape, np.inf)
    reach = int(np.ceil(TUBE_RADIUS_MM[1] / sx))
    for dx in range(-reach, reach + 1):
        lo, hi = max(columns.start + dx, 0), min(columns.stop + dx, tissue.shape[2])
        if lo < hi:
            part = nearest[..., lo - dx - columns.start : hi - dx - columns.start]
            np.minimum(part, along_y[..., lo:hi] + (dx * sx) * (dx * sx), out=part)
    return np.sqrt(nearest)


def _window_boxes(spine: _SpineSlices, window: TubeWindow, spacing_yx, shape, margin) -> tuple[np.ndarray, np.ndarray]:
    """Per slice, the (y, x) first and end index of ``window``'s corners, grown by ``margin`` + 1
    pixels, clipped to ``shape``: two (n, 2) arrays."""
    corners = np.stack([
        spine.centre + (right_mm * spine.right + (front_mm + spine.radius[:, None]) * spine.anterior) / spacing_yx
        for right_mm in window.right_mm
        for front_mm in window.anterior_of_front_mm
    ])
    limit = np.asarray(shape)
    lo = np.minimum(np.maximum(np.floor(corners.min(axis=0)).astype(np.intp) - 1 - margin, 0), limit)
    hi = np.minimum(np.maximum(np.ceil(corners.max(axis=0)).astype(np.intp) + 2 + margin, 0), limit)
    return lo, hi


def _window_frames(boxes: StackedBoxes, spine: _SpineSlices, window: TubeWindow, spacing_yx):
    """In each box: right and anterior-of-the-body-front mm of every pixel, and whether it is in ``window``."""
    dy = (boxes.rows - spine.centre[:, :1]) * spacing_yx[0]
    dx = (boxes.columns - spine.centre[:, 1:]) * spacing_yx[1]
    r_mm = (dy * spine.right[:, :1])[:, :, None] + (dx * spine.right[:, 1:])[:, None, :]
    front = (dy * spine.anterior[:, :1])[:, :, None] + (dx * spine.anterior[:, 1:])[:, None, :]
    front -= spine.radius[:, None, None]
    inside = (
        (r_mm >= window.right_mm[0])
        & (r_mm <= window.right_mm[1])
        & (front >= window.anterior_of_front_mm[0])
        & (front <= window.anterior_of_front_mm[1])
    )
    return r_mm, front, inside


def _around(shape_yx, zs, centres_yx: np.ndarray, radius_mm, spacing_yx) -> tuple[StackedBoxes, np.ndarray]:
    """Per slice ``zs[i]``, the (y, x) box holding the disk of ``radius_mm[i]`` (or one radius for all)
    around ``centres_yx[i]`` (clipped to ``shape_yx``), stacked, and the squared mm distance of its
    pixels to the centre (n, R, C)."""
    radius = np.broadcast_to(np.asarray(radius_mm, dtype=float), (len(zs),))
    reach = radius[:, None] / np.asarray(spacing_yx)
    lo = np.maximum(np.floor(centres_yx - reach).astype(np.intp) - 1, 0)
    hi = np.minimum(np.maximum(np.ceil(centres_yx + reach).astype(np.intp) + 2, 0), shape_yx)
    boxes = StackedBoxes(zs, lo, hi)
    along_y = ((boxes.rows - centres_yx[:, :1]) * spacing_yx[0]) ** 2
    along_x = ((boxes.columns - centres_yx[:, 1:]) * spacing_yx[1]) ** 2
    return boxes, along_y[:, :, None] + along_x[:, None, :]


def _clean_track(found: dict, grid: WorkingGrid, max_gap_mm: float, steady_calibre: bool) -> dict:
    """Drop outliers from the per-slice centres, keep the longest run, fill short gaps.

    An outlier lies farther than MAX_TRACK_JUMP_MM from the median-filtered centres; for a
    tube of ``steady_calibre``, from those of the slices showing at least its median radius:
    where metal streaks cut the lumen (a stent graft's rings), the widest circle left is
    off-centre and smaller, and such slices may be the majority over a stretch.
    """
    if len(found) < 3:
        return {}
    sy, sx = grid.spacing_mm[1:]
    zs = np.array(sorted(found))
    centres = np.array([found[z][0] for z in zs])
    radii = np.array([found[z][1] for z in zs])
    wide = radii >= np.median(radii) if steady_calibre else np.ones(len(zs), dtype=bool)
    smooth = np.column_stack(
        [np.interp(zs, zs[wide], ndimage.median_filter(centres[wide, k], size=7, mode="nearest")) for k in range(2)]
    )
    ok = (
        np.hypot((centres[:, 0] - smooth[:, 0]) * sy, (centres[:, 1] - smooth[:, 1]) * sx) < MAX_TRACK_JUMP_MM
    )
    zs, centres, radii = zs[ok], centres[ok], radii[ok]
    if len(zs) < 3:
        return {}
    gap = max(1, int(round(max_gap_mm / grid.spacing_mm[0])))
    breaks = np.nonzero(np.diff(zs) > gap)[0]
    runs = np.split(np.arange(len(zs)), breaks + 1)
    run = max(runs, key=len)
    zs, centres = zs[run], centres[run]
    radius = float(np.median(radii[run]))
    inner = np.arange(zs[0], zs[-1] + 1)
    return {
        int(z): (np.array([np.interp(z, zs, centres[:, 0]), np.interp(z, zs, centres[:, 1])]), radius)
        for z in inner
    }


def azygos_prior(
    grid: WorkingGrid, tissue: np.ndarray, slices: dict, thoracic: np.ndarray, radius_mm: float = 5.0
) -> np.ndarray:
    """Azygos (right) and hemiazygos (left) disks beside the thoracic bodies, with any dense cast
    (> DENSE_LUMEN_HU: cement, contrast) within CAST_MARGIN_MM of them."""
    sy, sx = grid.spacing_mm[1:]
    spine = _SpineSlices(slices)
    spine = spine.take(thoracic[spine.z])
    mask = np.zeros(grid.shape, dtype=bool)
    for side in (1.0, -1.0):
        offset = ((0.65 * spine.radius + radius_mm) * side)[:, None] * spine.right
        offset += (0.55 * spine.radius)[:, None] * spine.anterior
        centres = spine.centre + offset / np.array([sy, sx])
        boxes, disks = _disks_with_cast(grid.hu, spine.z, centres, radius_mm, (sy, sx))
        boxes.paste(disks, mask, add=True)
    mask &= tissue
    return mask


def _disks_with_cast(
    hu: np.ndarray, zs: np.ndarray, centres_yx: np.ndarray, radius_mm: float, spacing_yx
) -> tuple[StackedBoxes, np.ndarray]:
    """Per slice ``zs[i]``, a disk of ``radius_mm`` around ``centres_yx[i]`` and the pixels denser than
    DENSE_LUMEN_HU within CAST_MARGIN_MM of it: the stacked (y, x) boxes holding them, and the masks."""
    boxes, distance_sq = _around(hu.shape[1:], zs, centres_yx, radius_mm + CAST_MARGIN_MM, spacing_yx)
    cast = (boxes.gather(hu) > DENSE_LUMEN_HU) & (distance_sq <= (radius_mm + CAST_MARGIN_MM) ** 2)
    return boxes, ((distance_sq <= radius_mm**2) | cast) & boxes.in_box


def heart_mask(
    grid: WorkingGrid,
    lungs: np.ndarray,
    body: np.ndarray,
    spine_front: np.ndarray,
    spine_x: float | None = None,
    min_heart_ml: float = 150.0,
) -> np.ndarray:
    """The heart: the largest soft-tissue mass between the right and the left lung, anterior of
    ``spine_front``, over the slices where its cross-section is heart-sized.

    Between the lungs means lung on both sides in the same row; tissue in front of the heart so
    found, inside the lungs' convex hull, is added (the right ventricle behind the sternum).
    Tissue enclosed by the lung of one side (``spine_x`` splits the sides) is a diaphragm dome (liver, spleen) rising into the
    lung base, not the heart; above and below the heart the mediastinum narrows (great vessels,
    oesophagus) to under HEART_MIN_AREA_FRACTION of the heart's largest cross-section. A heart
    cut by the field of view needs only a third of ``min_heart_ml``.
    """
    box = bounding_box(lungs, (0, 1, 1))  # lung on both sides: inside the lungs' bounding box
    if box is None:
        return np.zeros_like(lungs)
    shape = lungs.shape
    right_side = np.arange(box[2].start, box[2].stop) < (lungs.shape[2] / 2 if spine_x is None else spine_x)
    at_view_ends = box[0].start == 0, box[0].stop == lungs.shape[0]
    lungs = lungs[box]
    lung_on_right = np.logical_or.accumulate(lungs, axis=2)  # lung at lower x: patient right
    lung_on_left = np.logical_or.accumulate(lungs[..., ::-1], axis=2)[..., ::-1]
    in_one_lung = fill_holes_per_slice(lungs & right_side)
    in_one_lung |= fill_holes_per_slice(lungs & ~right_side)
    soft = ~lungs & ~in_one_lung & body[box] & (grid.hu[box] > -50) & spine_front[box]
    del in_one_lung
    tissue = lung_on_right & lung_on_left & soft
    del lung_on_right, lung_on_left
    heart = np.zeros(shape, dtype=bool)
    if tissue.any():
        heart[box] = _heart_in_box(tissue, lungs, soft, at_view_ends, grid.voxel_ml, min_heart_ml)
    return heart


def _heart_in_box(
    tissue: np.ndarray,
    lungs: np.ndarray,
    soft: np.ndarray,
    at_view_ends: tuple[bool, bool],
    voxel_ml: float,
    min_heart_ml: float,
) -> np.ndarray:
    """`heart_mask` within the lungs' bounding box; ``at_view_ends``: whether the box reaches the
    first and the last slice of the field of view."""
    heart = largest_component(tissue)
    area = heart.sum(axis=(1, 2))
    peak = int(np.argmax(area))
    narrow = np.nonzero(area < HEART_MIN_AREA_FRACTION * area[peak])[0]
    heart[: narrow[narrow < peak].max() + 1 if (narrow < peak).any() else 0] = False
    heart[narrow[narrow > peak].min() if (narrow > peak).any() else len(area) :] = False
    _add_front(heart, lungs, soft)
    cut_by_view = (at_view_ends[0] and heart[0].any()) or (at_view_ends[1] and heart[-1].any())
    if heart.sum() * voxel_ml < (min_heart_ml / 3 if cut_by_view else min_heart_ml):
        return np.zeros_like(heart)
    return heart


def _add_front(heart: np.ndarray, lungs: np.ndarray, soft: np.ndarray) -> None:
    """Add the tissue in front of the heart inside the lungs' convex hull, where no lung lies on
    both sides (the right ventricle behind the sternum, between the lungs' anterior tips)."""
    behind_is_heart = np.logical_or.accumulate(heart[:, ::-1], axis=1)[:, ::-1]
    zs = np.nonzero(heart.any(axis=(1, 2)))[0]
    heart[zs] |= convex_hulls(lungs[zs]) & behind_is_heart[zs] & soft[zs]


def right_heart(heart: np.ndarray, grid: WorkingGrid) -> np.ndarray:
    """Right-anterior half of the heart (right atrium and ventricle): right + anterior > 0 from its centroid.

    On the working grid right is -x and anterior is -y.
    """
    if not heart.any():
        return heart
    _, cy, cx = voxels(heart).mean(axis=0)
    ny, nx = heart.shape[1:]
    yy, xx = np.mgrid[:ny, :nx]
    sy, sx = grid.spacing_mm[1:]
    half = ((cx - xx) * sx + (cy - yy) * sy) > 0
    return heart & half[np.newaxis]


def pulmonary_vessels(grid: WorkingGrid, lungs: np.ndarray) -> np.ndarray:
    """Vessels inside the lung outline (denser than -400 HU): the pulmonary arterial tree and its companions."""
    return lungs & (grid.hu > -400)


def ivc_course(
    grid: WorkingGrid,
    tissue: np.ndarray,
    slices: dict,
    track: dict[int, tuple[np.ndarray, float]],
    right_atrium: np.ndarray,
    thoracic: np.ndarray,
) -> np.ndarray:
    """The IVC from its lowest tracked slice up to the right atrium (or the diaphragm).

    Tracked centres within IVC_MAX_OFF_USUAL_MM of the IVC's usual place are kept (with none,
    its usual place in every slice below the lungs, IVC_PRIOR_RADIUS_MM wide); above and
    between them the centre is interpolated towards the bottom of the right atrium, where the
    IVC ends; without a heart in view it keeps its spine-relative place up to
    IVC_ABOVE_LUNG_BASE_MM above the first slice with lung. Where fat does not outline it (behind
    and inside the liver) this is a position prior, drawn as a disk of the tracked radius on
    tissue. Dense material (a cement cast, refluxed contrast: > DENSE_LUMEN_HU) within
    CAST_MARGIN_MM of the disk fills the real lumen and is IVC too: the prior's centre may be off
    by that much where fat does not outline the vein.
    """
    sy, sx = grid.spacing_mm[1:]
    usual = np.array(IVC_WINDOW.usual)
    good = {}
    for z, (centre, r) in track.items():
        if z in slices:
            offset = _frame_offset(centre, slices[z], (sy, sx))
            if np.hypot(*(offset - usual)) <= IVC_MAX_OFF_USUAL_MM:
                good[z] = (centre, offset, r)
    mask = np.zeros(grid.shape, dtype=bool)
    spine = sorted(slices)
    if len(good) < 3:  # not outlined anywhere: the usual place below the lungs
        below = [z for z in spine if not thoracic[z]]
        if not below:
            return mask
        good = {z: (_from_frame(usual, slices[z], (sy, sx)), usual, IVC_PRIOR_RADIUS_MM) for z in below}
    radius = float(np.median([r for _, _, r in good.values()]))
    offset = np.median([o for _, o, _ in good.values()], axis=0)
    anchors = {z: c for z, (c, _, _) in good.items()}
    atrium_z = np.nonzero(right_atrium.any(axis=(1, 2)))[0]
    if len(atrium_z) and atrium_z[0] > max(good):  # a heart reaching below the tracked IVC is not trusted
        top = int(atrium_z[0])
        atrium = np.argwhere(right_atrium[top]).mean(axis=0)
        if top in slices and _frame_offset(atrium, slices[top], (sy, sx))[0] > 0:  # right of the spine
            anchors[top] = atrium
    else:
        lung_z = np.nonzero(thoracic)[0]
        lung_z = lung_z[lung_z > min(good)]
        top = spine[-1] if len(lung_z) == 0 else int(lung_z[0] + IVC_ABOVE_LUNG_BASE_MM / grid.spacing_mm[0])
    for z in spine:
        if max(good) < z <= top and z not in anchors:
            anchors[z] = _from_frame(offset, slices[z], (sy, sx))
    zs = np.array(sorted(anchors))
    centres = np.array([anchors[z] for z in zs])
    drawn = np.arange(int(zs[0]), min(int(zs[-1]), top, grid.shape[0] - 1) + 1)
    path = np.column_stack([np.interp(drawn, zs, centres[:, k]) for k in range(2)])
    boxes, disks = _disks_with_cast(grid.hu, drawn, path, radius, (sy, sx))
    boxes.paste(disks & boxes.gather(tissue, False), mask)
    return mask


def _frame_offset(centre_yx: np.ndarray, spine_slice: tuple, spacing_yx) -> np.ndarray:
    """(right, anterior of the body front) mm of a working-grid (y, x) point."""
    body, anterior, right, body_radius = spine_slice
    d = (np.asarray(centre_yx) - body) * spacing_yx
    return np.array([d @ right, d @ anterior - body_radius])


def _from_frame(offset: np.ndarray, spine_slice: tuple, spacing_yx) -> np.ndarray:
    """Inverse of `_frame_offset`: working-grid (y, x) of a (right, anterior of front) mm offset."""
    body, anterior, right, body_radius = spine_slice
    return body + (offset[0] * right + (offset[1] + body_radius) * anterior) / np.asarray(spacing_yx)
