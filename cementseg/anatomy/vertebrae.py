"""Vertebral bodies, the spine centreline and the discs between the bodies.

The bodies are found slice by slice just anterior to the tracked spinal canal (cortex
ring filled, or smoothed cancellous bone above ``cancellous_hu``), cut at the canal's
anterior wall. The body voxels, weighted by their HU (0-200 HU mapped to 0-1), sampled
in disks perpendicular to the body centreline dip at every disc: outside the body mask
the weight is 0, and a disc that is dense enough to join the mask (a degenerate
lumbosacral disc, about 95 HU) still weighs less than the bone on either side. The HU
alone would not do: osteoporotic mid-body bone is as faint as disc on 3 mm voxels. Cement
(above CEMENT_CORE_HU, with its partial-volume rim) is left out of the profile: a cement-filled
disc would otherwise look like bone and hide its dip. Each
dip becomes a disc plane (a point and the local spine axis, with the disc's extent along it),
and the planes split the bodies into one id per vertebra, whatever the disc tilt. Cement in a
disc's extent lies between two endplates, outside both bodies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .body import fill_holes_per_slice, label_per_slice
from .canal import CanalTrack
from .grid import WorkingGrid
from .morphology import StackedBoxes, bounding_box, convex_hulls, dilate, dilate_in_plane, over_3x3, voxels
from .peaks import find_peaks, peak_spacing

BODY_HALF_WIDTH_MM = 35.0  # no lumbar body is wider than 70 mm; alae and iliac bone lie beyond
BODY_DEPTH_MM = 55.0  # from the canal's anterior wall to the front of the largest body
MIN_BODY_AREA_MM2 = 200.0
NECK_CHECK_AREA_MM2 = 1600.0  # a core larger than this is checked for necks ...
NECK_RADIUS_MM = 6.0  # ... narrower than twice this radius, and cut there
GAP_HU = 50.0  # fat or soft tissue (a gap) between the body and an enhanced vessel is below this
CORE_MIN_AREA_MM2 = 60.0  # a cortex-bounded core smaller than this is no body slice
MAX_BODY_AREA_MM2 = 2500.0  # grown cancellous bone larger than this has leaked into enhanced tissue
MAX_BODY_HALF_WIDTH_MM = 30.0
MAX_BODY_DEPTH_MM = 48.0
PLATE_REACH_MM = 12.0  # an endplate or cement-filled slice borrows the outline of a cored slice this near
PLATE_MIN_COVER = 0.5  # ... when its dense plate covers this much of that outline
CORTEX_ABOVE_CANCELLOUS_HU = 100.0  # the cortex is this much denser than the bone just anterior of the canal
MAX_CORTEX_HU = 350.0  # ... but its threshold never exceeds this (cement-filled slices)
CEMENT_CORE_HU = 1000.0  # denser than any cortex on the working grid: cement inside the ring is core
DISC_SAMPLE_RADII = (0.0, 0.35, 0.7)  # fractions of the typical body radius
MIN_DISC_SPACING_MM = 14.0
DISC_WEIGHT_FULL_HU = 200.0  # bone at or above this HU weighs 1 in the disc profile
TALL_SEGMENT = 1.4  # a stretch between discs this many typical pitches long hides a disc
SHORT_SEGMENT = 0.75  # a stretch between discs this much shorter than its neighbours is one split body
FAINT_END_DIP = 0.5  # a dip near an end of the view this much fainter than the other discs is no disc
MIN_FAINT_DIP = 0.03
MIN_DISC_DIP = 0.2  # the weighted profile must dip this much below its neighbours at a disc
MAX_DISC_HALF_HEIGHT_MM = 8.0  # half the tallest adult disc (L4-L5, up to about 16 mm)
ENDPLATE_HALF_MM = 1.0  # half an endplate's cortex seen on the 2 mm working grid
CEMENTED_DISC_MIN_SHARE = 0.25  # a disc this much of whose cross-section is cement reaches its endplates


@dataclass
class DiscPlane:
    """A disc: its centre (working-grid z, y, x index, float) and the local spine axis (unit, z, y, x mm)."""

    centre_zyx: np.ndarray
    normal_zyx_mm: np.ndarray
    dip: float  # how far the weighted body profile dips below its neighbours (0-1)
    slab_mm: tuple[float, float] = (0.0, 0.0)  # disc extent below and above the plane along the axis


@dataclass
class Spine:
    """Vertebral bodies and disc planes on the working grid.

    Attributes:
        body_mask: all vertebral body voxels.
        centreline_zyx: (nz, 3) smoothed body centre per slice (NaN outside the spine).
        canal_zyx: (nz, 3) smoothed canal centre per slice.
        discs: disc planes, caudal to cranial.
        vertebrae: uint16 id per body voxel (1 = most caudal), 0 elsewhere.
    """

    body_mask: np.ndarray
    centreline_zyx: np.ndarray
    canal_zyx: np.ndarray
    discs: list[DiscPlane]
    vertebrae: np.ndarray


def _smooth_track(values: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Interpolate a per-slice track over invalid slices inside its span, then Gaussian smooth."""
    out = np.full(values.shape, np.nan)
    zs = np.nonzero(valid)[0]
    if len(zs) == 0:
        return out
    inner = np.arange(zs[0], zs[-1] + 1)
    for k in range(values.shape[1]):
        out[inner, k] = ndimage.gaussian_filter1d(np.interp(inner, zs, values[zs, k]), sigma, mode="nearest")
    return out


class _BodyWindows:
    """The body's search box of each slice ``z`` (a crop of the slice), stacked (`StackedBoxes`), and
    on the stack: ``anterior_mm`` (n, R, 1) anterior of the canal wall, ``lateral_mm`` (n, 1, C)
    lateral of the canal centre, the ``window`` (n, R, C) where a body can lie and ``axis_x`` (n,),
    the canal's centre column in each box."""

    def __init__(self, grid: WorkingGrid, canal: CanalTrack, zs: np.ndarray):
        sy, sx = grid.spacing_mm[1:]
        ny, nx = grid.shape[1:]
        cy, cx = canal.centre_yx[zs].T
        radius = canal.radius_mm[zs]
        lo = np.column_stack([  # astype(intp) truncates towards zero, as int() does
            np.maximum(0, (cy - (BODY_DEPTH_MM + radius) / sy).astype(np.intp) - 1),
            np.maximum(0, (cx - BODY_HALF_WIDTH_MM / sx).astype(np.intp) - 1),
        ])
        hi = np.column_stack([
            np.minimum(ny, cy.astype(np.intp) + 1),
            np.minimum(nx, (cx + BODY_HALF_WIDTH_MM / sx).astype(np.intp) + 2),
        ])
        self.boxes = StackedBoxes(zs, lo, hi)
        self.anterior_mm = ((cy[:, None] - self.boxes.rows) * sy - radius[:, None])[:, :, None]
        self.lateral_mm = (np.abs(self.boxes.columns - cx[:, None]) * sx)[:, None, :]
        self.window = (
            (self.anterior_mm > 0) & (self.anterior_mm < BODY_DEPTH_MM) & (self.lateral_mm < BODY_HALF_WIDTH_MM)
        ) & self.boxes.in_box
        self.axis_x = cx - lo[:, 1]


def screw_slices(grid: WorkingGrid, canal: CanalTrack, hardware: np.ndarray) -> np.ndarray:
    """Per slice (bool, z), whether ``hardware`` (a working-grid mask of screws, rods and wires)
    enters the window of the vertebral body: its bright and dark streaks cross the whole slice,
    so the body's HU cannot be read there."""
    out = np.zeros(grid.shape[0], dtype=bool)
    zs = np.intersect1d(canal.slices, np.flatnonzero(hardware.any(axis=(1, 2))))
    if len(zs):
        windows = _BodyWindows(grid, canal, zs)
        out[zs] = (windows.boxes.gather(hardware, False) & windows.window).any(axis=(1, 2))
    return out


def body_slices(grid: WorkingGrid, canal: CanalTrack, cortex_hu: float, cancellous_hu: float) -> np.ndarray:
    """Vertebral body mask, slice by slice, anterior of the canal, bounded by the cortex.

    Per slice, the ring of bone above ``cortex_hu`` (closed over one voxel) is filled; the
    body's core is the part of it next to the canal that is not cortex (denser than the
    bone just anterior of the canal by CORTEX_ABOVE_CANCELLOUS_HU, capped at MAX_CORTEX_HU),
    with cement above CEMENT_CORE_HU (its thin leaks opened away), plus cancellous bone
    (smoothed HU > ``cancellous_hu``) grown from just anterior of the canal when it stays
    body-sized. The core's convex hull, grown by one voxel to take the cortex, bounds the
    body: enhanced blood, liver or bowel touching the cortex lie outside it and do not
    join; cement inside the body lies within it. A slice with a solid plate instead of a
    core (an endplate, a cement-filled slice) takes the hull of the nearest cored slice
    within PLATE_REACH_MM.

    All slices at once, on the stack of their search boxes (`_BodyWindows`): each step works
    on every image of the stack alone, the edge of a box the edge of its image.
    """
    mask = np.zeros(grid.shape, dtype=bool)
    if len(canal.slices) == 0:
        return mask
    windows = _BodyWindows(grid, canal, canal.slices)
    filled, core = _cores(grid, windows, cortex_hu, cancellous_hu)
    sy, sx = grid.spacing_mm[1:]
    cored = core.sum(axis=(1, 2)) * sy * sx >= CORE_MIN_AREA_MM2
    hulls = np.zeros_like(core)
    hulls[cored] = over_3x3(convex_hulls(core[cored]), np.logical_or) & windows.window[cored]  # grown by the square
    reach = int(round(PLATE_REACH_MM / grid.spacing_mm[0]))
    windows.boxes.paste(_with_plates(windows.boxes, filled | core, hulls, cored, reach), mask)
    return fill_holes_per_slice(mask)


_CROSS = ndimage.generate_binary_structure(2, 1)


def _cores(grid: WorkingGrid, windows: _BodyWindows, cortex_hu: float, cancellous_hu: float):
    """(filled cortex ring, body core) of each slice of `body_slices`, on the stack of its boxes."""
    sy, sx = grid.spacing_mm[1:]
    boxes, window = windows.boxes, windows.window
    seed = (windows.anterior_mm > 2.0) & (windows.anterior_mm < 14.0) & (windows.lateral_mm < 8.0) & boxes.in_box
    hu = boxes.gather(grid.hu)
    threshold = np.clip(_median_where(hu, seed) + CORTEX_ABOVE_CANCELLOUS_HU, cortex_hu, MAX_CORTEX_HU)
    dense = hu > threshold[:, None, None]
    shell = (hu > cortex_hu) & boxes.in_box
    filled = fill_holes_per_slice(_closed_3x3(shell, boxes.in_box) | shell) & window
    del shell
    cement = filled & (hu > CEMENT_CORE_HU)
    if cement.any():  # most slices hold none
        cement = _opened_3x3(cement)
    core = _seeded((filled & ~dense & (hu > GAP_HU)) | cement, seed)
    if cement.any():  # and cement whose blurred rim (denser than the cortex threshold) meets it
        rim_seed = dilate_in_plane(core, _CROSS)
        core |= cement & _seeded(over_3x3(cement, np.logical_or) & filled, rim_seed)
    smooth = _smoothed(grid.hu, boxes, (1.5 / sy, 1.5 / sx))
    cancellous = _seeded((smooth > cancellous_hu) & (hu > GAP_HU) & ~dense & window, seed)
    del smooth, hu, dense
    sized = _body_sized(cancellous, windows.anterior_mm, windows.lateral_mm, sy * sx)
    core[sized] |= cancellous[sized]
    disk = _neck_disk(grid.spacing_mm[1:])
    necked = core.sum(axis=(1, 2)) * sy * sx > NECK_CHECK_AREA_MM2  # larger than most bodies: cut necks
    if necked.any():
        core[necked] = _without_necks(core[necked], seed[necked], disk)
    mirrored = _mirrored(core, windows.axis_x, boxes.size[:, 1])
    core &= dilate_in_plane(mirrored, disk)  # symmetry within NECK_RADIUS_MM
    return filled, core


def _neck_disk(spacing_yx) -> np.ndarray:
    """The in-plane disk of NECK_RADIUS_MM (a 2D structuring element)."""
    sy, sx = spacing_yx
    ry, rx = (max(1, int(round(NECK_RADIUS_MM / step))) for step in (sy, sx))
    dy, dx = np.ogrid[-ry : ry + 1, -rx : rx + 1]
    return (dy * sy) ** 2 + (dx * sx) ** 2 <= NECK_RADIUS_MM**2


def _median_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per image of a stack, ``np.median(values[i][where[i]])`` (NaN where nothing is selected): the
    mean, in the values' dtype, of the two middle values (one twice for an odd count)."""
    crop = bounding_box(where.any(axis=0))
    if crop is None:
        return np.full(len(values), np.nan, dtype=values.dtype)
    chosen = where[:, crop[0], crop[1]].reshape(len(values), -1)
    ordered = np.sort(np.where(chosen, values[:, crop[0], crop[1]].reshape(len(values), -1), np.inf), axis=1)
    count = chosen.sum(axis=1)
    lower = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[:, None], axis=1)[:, 0]
    upper = np.take_along_axis(ordered, np.minimum(count // 2, ordered.shape[1] - 1)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (lower + upper) / 2, np.nan).astype(values.dtype)


def _smoothed(volume: np.ndarray, boxes: StackedBoxes, sigma_px) -> np.ndarray:
    """``ndimage.gaussian_filter(volume[z][box], sigma_px)`` of each box (its edges reflected), on the
    stack: each box is read past its bottom and right edges reflected, as far as the filter reaches."""
    reach = [int(np.ceil(4.0 * s)) + 1 for s in sigma_px]  # beyond the filter's radius (truncate 4)
    rows, columns = (
        boxes.lo[:, k, None] + _reflected(np.arange(length + extra), np.maximum(boxes.size[:, k, None], 1))
        for k, (length, extra) in enumerate(zip(boxes.in_box.shape[1:], reach, strict=True))
    )
    values = volume[boxes.z[:, None, None], rows[:, :, None], columns[:, None, :]]
    smooth = ndimage.gaussian_filter(values, (0.0, *sigma_px))  # no smoothing across the stack
    return smooth[:, : boxes.in_box.shape[1], : boxes.in_box.shape[2]]


def _reflected(at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Index ``at`` into a line of ``length`` extended by reflection (``ndimage``'s "reflect": d c b a | a b c d)."""
    period = at % (2 * length)
    return np.where(period < length, period, 2 * length - 1 - period)


def _with_plates(
    boxes: StackedBoxes, solid: np.ndarray, hulls: np.ndarray, cored: np.ndarray, reach: int
) -> np.ndarray:
    """Each box's body: its ``solid`` part within its own hull where ``cored``; elsewhere within the
    hull of the nearest cored slice (the lower of two as near) when that is within ``reach`` slices
    and the part covers at least PLATE_MIN_COVER of that hull; else nothing."""
    with_hull = np.flatnonzero(cored)
    if len(with_hull) == 0:
        return np.zeros_like(solid)
    zs = boxes.z
    after = np.searchsorted(zs[with_hull], zs)  # the first cored slice at or above each slice
    below = with_hull[np.maximum(after - 1, 0)]
    above = with_hull[np.minimum(after, len(with_hull) - 1)]
    take_below = (after > 0) & ((after == len(with_hull)) | (zs - zs[below] <= zs[above] - zs))
    source = np.where(cored, np.arange(len(zs)), np.where(take_below, below, above))
    plate = solid & _moved_layers(hulls, source, boxes.lo - boxes.lo[source])
    covers = plate.sum(axis=(1, 2)) >= PLATE_MIN_COVER * hulls.sum(axis=(1, 2))[source]
    plate[~(cored | ((np.abs(zs[source] - zs) <= reach) & covers))] = False
    return plate


def _moved_layers(stack: np.ndarray, source: np.ndarray, shift_yx: np.ndarray) -> np.ndarray:
    """Layer i: layer ``source[i]`` of ``stack`` moved up and left by ``shift_yx[i]`` (y, x) pixels
    (what it shows in the frame of a box that far below and right of its own), empty where it does
    not reach."""
    rows, columns = (np.arange(n) + shift_yx[:, k, None] for k, n in enumerate(stack.shape[1:]))
    inside = ((rows >= 0) & (rows < stack.shape[1]))[:, :, None] & ((columns >= 0) & (columns < stack.shape[2]))[:, None, :]
    moved = stack[
        source[:, None, None],
        np.clip(rows, 0, stack.shape[1] - 1)[:, :, None],
        np.clip(columns, 0, stack.shape[2] - 1)[:, None, :],
    ]
    return moved & inside


def clamp_streaked_slices(grid: WorkingGrid, bodies: np.ndarray, unreadable: np.ndarray) -> None:
    """Keep each slice of ``bodies`` where hardware enters the body (``unreadable``, bool per z,
    `screw_slices`), or next to one, within the outlines (grown by one voxel) of the nearest
    body slices below and above it, within 2 x PLATE_REACH_MM, clear of them: bright streaks
    radiating from two screws are symmetric about the canal and would join enhanced blood in
    front of the body to it."""
    streaked = ndimage.binary_dilation(unreadable)
    reach = int(round(2 * PLATE_REACH_MM / grid.spacing_mm[0]))
    clear = np.flatnonzero(bodies.any(axis=(1, 2)) & ~streaked)
    clamped = bodies.copy()
    for z in np.flatnonzero(streaked & bodies.any(axis=(1, 2))):
        near = clear[np.abs(clear - z) <= reach]
        sides = [side[np.argmin(np.abs(side - z))] for side in (near[near < z], near[near > z]) if side.size]
        if sides:
            outline = np.logical_or.reduce([bodies[k] for k in sides])
            clamped[z] &= ndimage.binary_dilation(outline, np.ones((3, 3), bool))
    bodies[:] = clamped


def _opened_3x3(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_opening`` by the 3 x 3 square of each image of a stack."""
    return over_3x3(over_3x3(mask, np.logical_and, edge=False), np.logical_or)


def _closed_3x3(mask: np.ndarray, in_box: np.ndarray) -> np.ndarray:
    """``ndimage.binary_closing`` by the 3 x 3 square of each box of a stack (outside the box counts
    as background)."""
    return over_3x3(over_3x3(mask, np.logical_or) & in_box, np.logical_and, edge=False)


def _without_necks(region: np.ndarray, seed: np.ndarray, disk: np.ndarray) -> np.ndarray:
    """The part of each image of ``region`` joined to ``seed`` by more than a neck of the ``disk``'s width.

    Opening with the disk cuts necks (an enhanced aorta touching the body where the cortex
    is faint); the seeded part is then grown back by the disk inside ``region``.
    """
    core = _seeded(ndimage.binary_opening(region, disk[None]), seed)
    return dilate_in_plane(core, disk) & region


def _mirrored(mask: np.ndarray, axis_x: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Each image of ``mask`` (its first ``width`` columns) mirrored left-right about column
    ``axis_x`` (the canal centre): a vertebral body is nearly symmetric about it, a vessel or a
    leak beside it is not."""
    columns = np.arange(mask.shape[2])
    source = np.rint(2.0 * axis_x[:, None] - columns).astype(int)
    inside = (source >= 0) & (source < width[:, None]) & (columns < width[:, None])
    out = np.take_along_axis(mask, np.clip(source, 0, mask.shape[2] - 1)[:, None, :], axis=2)
    return out & inside[:, None, :]


def _seeded(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The in-plane (4-connected) components of each image of ``mask`` that touch ``seed``."""
    labels, n = label_per_slice(mask)
    if n == 0:
        return mask
    hit = np.zeros(n + 1, dtype=bool)
    hit[labels[seed]] = True
    hit[0] = False
    return hit[labels]


def _body_sized(
    region: np.ndarray, anterior_mm: np.ndarray, lateral_mm: np.ndarray, pixel_mm2: float
) -> np.ndarray:
    """Per image, whether a grown region (not empty) could be one vertebral body (area, half-width and depth)."""
    return (
        region.any(axis=(1, 2))
        & (region.sum(axis=(1, 2)) * pixel_mm2 <= MAX_BODY_AREA_MM2)
        & (np.where(region, lateral_mm, -np.inf).max(axis=(1, 2)) <= MAX_BODY_HALF_WIDTH_MM)
        & (np.where(region, anterior_mm, -np.inf).max(axis=(1, 2)) <= MAX_BODY_DEPTH_MM)
    )


def centrelines(grid: WorkingGrid, canal: CanalTrack, body_mask: np.ndarray, sigma_mm: float = 6.0):
    """Smoothed body-centre and canal-centre tracks, (nz, 3) working-grid (z, y, x) indices."""
    nz = grid.shape[0]
    area = body_mask.sum(axis=(1, 2)) * grid.spacing_mm[1] * grid.spacing_mm[2]
    valid = area >= MIN_BODY_AREA_MM2
    centres = np.full((nz, 3), np.nan)
    z, y, x = voxels(body_mask).T  # per-slice means of the pixel indices, all slices at once
    counts = np.bincount(z, minlength=nz)[valid]
    centres[valid, 1] = np.bincount(z, weights=y, minlength=nz)[valid] / counts
    centres[valid, 2] = np.bincount(z, weights=x, minlength=nz)[valid] / counts
    centres[:, 0] = np.arange(nz)
    sigma = sigma_mm / grid.spacing_mm[0]
    body_track = _smooth_track(centres, valid, sigma)
    canal_xyz = np.column_stack([np.arange(nz), canal.centre_yx])
    canal_track = _smooth_track(canal_xyz, np.isfinite(canal.radius_mm), sigma)
    return body_track, canal_track


def disc_planes(
    grid: WorkingGrid, body_mask: np.ndarray, centreline: np.ndarray, unreadable: np.ndarray | None = None
) -> list[DiscPlane]:
    """Discs where the HU-weighted body profile along the body centreline dips, caudal to cranial.

    Cement and the ``unreadable`` slices (bool per z, `screw_slices`) are left out of the
    profile and bridged: dark streaks between two screws would fake a disc at pedicle height."""
    spacing = np.asarray(grid.spacing_mm)
    areas = body_mask.sum(axis=(1, 2))
    areas = areas[areas * spacing[1] * spacing[2] >= MIN_BODY_AREA_MM2]
    if len(areas) == 0:
        return []
    radius_mm = float(np.sqrt(np.median(areas) * spacing[1] * spacing[2] / np.pi))
    valid = np.all(np.isfinite(centreline), axis=1)
    if valid.sum() < 3:
        return []
    points_mm = centreline[valid] * spacing
    step = np.linalg.norm(np.diff(points_mm, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(step)])
    s = np.arange(0.0, arc[-1], 1.0)
    path = np.column_stack([np.interp(s, arc, points_mm[:, k]) for k in range(3)])
    tangent = np.gradient(ndimage.gaussian_filter1d(path, 3.0, axis=0, mode="nearest"), axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    coords = _disk_points(spacing, path, tangent, radius_mm)
    box = _sampled_box(coords, grid.shape)  # what the samples read: the weights are needed only there
    hu = grid.hu[box]
    weight = (body_mask[box] * np.clip(hu, 0.0, DISC_WEIGHT_FULL_HU) / DISC_WEIGHT_FULL_HU).astype(np.float32)
    unknown = _cement(grid, box)  # the non-cement part of the profile
    if unreadable is not None:
        unknown[unreadable[box[0]]] = True
    weight[unknown] = np.nan
    origin = np.array([b.start for b in box]).reshape(3, 1, 1)
    weight_samples = _disk_samples(weight, coords - origin)
    profile = _filled(_known_mean(weight_samples))
    if profile is None:
        return []
    profile = ndimage.gaussian_filter1d(profile, 1.5, mode="nearest")
    hidden = _disk_mean(unknown.astype(np.float32), coords - origin)  # share of each disk left out
    found = _dips(profile)
    if (hidden[list(found)] >= CEMENTED_DISC_MIN_SHARE).any():
        adjusted = _filled(_adjusted_mean(weight_samples))
        found = _confirmed_hidden_dips(found, hidden, {} if adjusted is None else _dips(adjusted))
    found = _spaced(found, profile)
    found.update(_missed_discs(profile, sorted(found)))
    found = _drop_faint_end_dips(_drop_split_bodies(found), len(profile))
    bone_hu = np.where(unknown, np.nan, hu).astype(np.float32)
    endplates = _disk_mean(bone_hu, coords - origin)  # unclipped: the endplates stand out as peaks
    return [
        DiscPlane(
            centre_zyx=path[i] / spacing,
            normal_zyx_mm=tangent[i],
            dip=float(found[i]),
            slab_mm=_slab_mm(profile, i, found[i])
            if hidden[i] < CEMENTED_DISC_MIN_SHARE
            else _to_endplates(_slab_mm(profile, i, found[i]), endplates, i),
        )
        for i in sorted(found)
    ]


def _dips(profile: np.ndarray) -> dict[int, float]:
    """{sample: prominence} of the dips of a smoothed 1 mm disc profile, MIN_DISC_DIP deep at least."""
    dips, props = find_peaks(-np.pad(profile, 1, mode="edge"), prominence=MIN_DISC_DIP)
    return dict(zip((dips - 1).tolist(), props["prominences"].tolist(), strict=True))


def _spaced(dips: dict[int, float], profile: np.ndarray) -> dict[int, float]:
    """Of dips closer than MIN_DISC_SPACING_MM, the lowest (on the 1 mm ``profile``)."""
    at = np.array(sorted(dips), dtype=np.intp)
    if len(at) < 2:
        return dips
    keep = peak_spacing(at, -profile[at], math.ceil(MIN_DISC_SPACING_MM))
    return {int(i): dips[int(i)] for i in at[keep]}


def _confirmed_hidden_dips(found: dict[int, float], hidden: np.ndarray, adjusted: dict[int, float]) -> dict[int, float]:
    """``found`` without the dips at disks whose samples cement hides (at least
    CEMENTED_DISC_MIN_SHARE of them) that the `_adjusted_mean` of the same weights (its dips
    ``adjusted``) does not confirm within MIN_DISC_SPACING_MM / 2; a confirmed one moves to the
    nearest confirming dip at a disk cement does not hide, if there is one.

    Left with its rim, a disk through the middle of a fill reads low (the rim weighs less than
    the centre at every level) and dips like a disc; a disc that cement fills dips in both.
    A disk beside a fill may keep only the few samples reaching past it; on a disk tilted
    against the endplates those lie in the next disc, which they read a few mm from where it
    lies: where a disk cement leaves whole dips that near, the disc is there.
    """
    out: dict[int, float] = {}
    for at, dip in found.items():
        if hidden[at] < CEMENTED_DISC_MIN_SHARE:
            out[at] = dip
            continue
        near = [a for a in adjusted if abs(a - at) <= MIN_DISC_SPACING_MM / 2]
        whole = [a for a in near if hidden[a] < CEMENTED_DISC_MIN_SHARE]
        if near:
            out[min(whole, key=lambda a: abs(a - at)) if whole else at] = dip
    return out


def _to_endplates(slab_mm: tuple[float, float], endplates: np.ndarray, at: int) -> tuple[float, float]:
    """The extent (mm below, mm above the dip at ``at``) of a disc that cement fills (at least
    CEMENTED_DISC_MIN_SHARE of its cross-section), reaching to within ENDPLATE_HALF_MM of the
    densest sample of the 1 mm ``endplates`` profile (mean HU, cement left out) on each side
    within MAX_DISC_HALF_HEIGHT_MM: the cement hides its lower or upper part from the HU-weighted
    profile, whose half-dip extent then stops short of an endplate. Never shorter than
    ``slab_mm``."""
    out = []
    for side, extent in zip((-1, 1), slab_mm, strict=True):
        reach = np.arange(1, int(MAX_DISC_HALF_HEIGHT_MM + ENDPLATE_HALF_MM) + 1)
        samples = at + side * reach
        inside = (samples >= 0) & (samples < len(endplates))
        values = endplates[samples[inside]]
        if not np.isfinite(values).any():
            out.append(extent)
            continue
        peak_mm = float(reach[inside][np.nanargmax(values)])
        out.append(float(min(max(extent, peak_mm - ENDPLATE_HALF_MM), MAX_DISC_HALF_HEIGHT_MM)))
    return out[0], out[1]


def _cement(grid: WorkingGrid, box: tuple[slice, ...]) -> np.ndarray:
    """Cement (above CEMENT_CORE_HU) with its one-voxel partial-volume rim, within ``box`` (found
    from the box grown by that voxel)."""
    grown = tuple(slice(max(b.start - 1, 0), min(b.stop + 1, n)) for b, n in zip(box, grid.shape, strict=True))
    rim = dilate(grid.hu[grown] > CEMENT_CORE_HU, (3, 3, 3))
    return rim[tuple(slice(b.start - g.start, b.stop - g.start) for b, g in zip(box, grown, strict=True))]


def _filled(profile: np.ndarray) -> np.ndarray | None:
    """The profile with its gaps (all samples cement) interpolated; None when all is cement."""
    known = np.isfinite(profile)
    if known.sum() < 3:
        return None
    at = np.arange(len(profile))
    return np.interp(at, at[known], profile[known])


def _slab_mm(profile: np.ndarray, at: int, prominence: float) -> tuple[float, float]:
    """The disc's extent (mm below, mm above the dip at ``at``): where the 1 mm profile stays
    below half the dip's prominence above its floor (the endplates on either side are denser),
    at most MAX_DISC_HALF_HEIGHT_MM (a profile bridged over a cement fill or screw slices may
    stay low into the body)."""
    level = profile[at] + 0.5 * prominence
    high = np.nonzero(profile >= level)[0]
    below, above = high[high < at], high[high > at]
    lower = at - below[-1] if len(below) else at
    upper = above[0] - at if len(above) else len(profile) - 1 - at
    return float(min(lower, MAX_DISC_HALF_HEIGHT_MM)), float(min(upper, MAX_DISC_HALF_HEIGHT_MM))


def cement_in_discs(grid: WorkingGrid, body_mask: np.ndarray, discs: list[DiscPlane]) -> np.ndarray:
    """Body-mask cement within a disc's extent: between two endplates, so outside both bodies."""
    spacing = np.asarray(grid.spacing_mm)
    out = np.zeros(grid.shape, dtype=bool)
    crop = bounding_box(body_mask)
    if crop is None:
        return out
    points = np.argwhere(body_mask[crop] & (grid.hu[crop] > CEMENT_CORE_HU)) + [c.start for c in crop]
    if len(points) == 0:
        return out
    inside = np.zeros(len(points), dtype=bool)
    for disc in discs:
        height = ((points - disc.centre_zyx) * spacing) @ disc.normal_zyx_mm
        inside |= (height > -disc.slab_mm[0]) & (height < disc.slab_mm[1])
    out[tuple(points[inside].T)] = True
    return out


def _drop_split_bodies(dips: dict[int, float]) -> dict[int, float]:
    """Drop the fainter end of a disc-to-disc stretch shorter than SHORT_SEGMENT times the longer
    of its neighbouring stretches.

    Neighbouring vertebrae differ little in height: such a stretch is one body split by a
    false dip (cement, a fracture cleft, a basivertebral vein).
    """
    dips = dict(dips)
    while len(dips) >= 3:
        at = sorted(dips)
        gaps = np.diff(at).astype(float)
        neighbours = np.maximum(np.r_[0.0, gaps[:-1]], np.r_[gaps[1:], 0.0])
        ratio = gaps / neighbours
        k = int(np.argmin(ratio))
        if ratio[k] >= SHORT_SEGMENT:
            break
        del dips[min(at[k], at[k + 1], key=dips.get)]
    return dips


def _drop_faint_end_dips(dips: dict[int, float], length: int) -> dict[int, float]:
    """Drop an outermost dip lying within half the disc-to-disc pitch of an end of the profile
    when it dips less than FAINT_END_DIP times the median of the other dips.

    Beyond such a dip the view shows too little of a body to check its height (the test of
    `_drop_split_bodies`), and the smoothed centreline bends at the end of the view, tilting the
    sampling disks into the body; a real disc there dips like the others.
    """
    if len(dips) < 3:
        return dips
    dips = dict(dips)
    at = sorted(dips)
    pitch = float(np.median(np.diff(at)))
    for end, distance in ((at[0], at[0]), (at[-1], length - 1 - at[-1])):
        others = [dip for position, dip in dips.items() if position != end]
        if distance < pitch / 2 and dips[end] < FAINT_END_DIP * float(np.median(others)):
            del dips[end]
    return dips


def _missed_discs(profile: np.ndarray, dips: list[int]) -> dict[int, float]:
    """Faint dips in stretches taller than TALL_SEGMENT times the typical disc-to-disc pitch.

    A vertebra is never that much taller than its neighbours; such a stretch holds a disc
    the prominence threshold missed (the steep lumbosacral disc, a disc as dense as the
    osteoporotic bone beside it), and its deepest interior dip is taken.
    """
    if len(dips) < 2:
        return {}
    pitch = float(np.median(np.diff(dips)))
    bounds = [0, *dips, len(profile) - 1]
    extra: dict[int, float] = {}
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop - start <= TALL_SEGMENT * pitch:
            continue
        lo, hi = start + int(0.35 * pitch), stop - int(0.35 * pitch)
        inner, props = find_peaks(-profile[lo:hi], prominence=MIN_FAINT_DIP)
        if len(inner):
            best = int(np.argmax(props["prominences"]))
            extra[lo + int(inner[best])] = float(props["prominences"][best])
    return extra


def _disk_points(spacing, path_mm: np.ndarray, tangent: np.ndarray, radius_mm: float) -> np.ndarray:
    """(3, k, n) grid (z, y, x) coordinates of k samples in a disk perpendicular to the path at each
    of its n points (mm, z y x)."""
    helper = np.where(np.abs(tangent[:, :1]) > 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(tangent, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(tangent, u)
    offsets = [(0.0, 0.0)] + [
        (f * radius_mm * np.cos(a), f * radius_mm * np.sin(a))
        for f in DISC_SAMPLE_RADII[1:]
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ]
    samples = np.stack([path_mm + a * u + b * v for a, b in offsets])  # (k, n, 3) mm
    return np.moveaxis(samples / np.asarray(spacing), -1, 0)


def _sampled_box(coords: np.ndarray, shape) -> tuple[slice, ...]:
    """The box of the grid voxels linear samples at ``coords`` (3, ...) read, with a voxel to spare
    (clipped: a box edge short of a sample is the grid's own edge)."""
    flat = coords.reshape(3, -1)
    lo = np.clip(np.floor(flat.min(axis=1)).astype(int) - 1, 0, shape)
    hi = np.clip(np.ceil(flat.max(axis=1)).astype(int) + 2, lo, shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def _disk_samples(values: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """(k, n) linear samples of ``values`` at the disk points ``coords``; NaN outside or unknown."""
    sampled = ndimage.map_coordinates(values, coords.reshape(3, -1), order=1, mode="constant", cval=np.nan)
    return sampled.reshape(coords.shape[1], -1)


def _disk_mean(values: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Mean of the known (finite, inside) linear samples of ``values`` over each disk of `_disk_points`."""
    return _known_mean(_disk_samples(values, coords))


def _known_mean(sampled: np.ndarray) -> np.ndarray:
    """Mean of the known (finite) samples of each disk (column) of `_disk_samples`; NaN for none."""
    known = np.isfinite(sampled)
    count = known.sum(axis=0)
    total = np.where(known, sampled, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)  # NaN: no sample (outside, cement)


def _adjusted_mean(sampled: np.ndarray) -> np.ndarray:
    """`_known_mean` of disk samples that compares like with like where samples are left out.

    Each known sample counts by how far it lies from its own sample position's median along
    the path, added to the mean of those medians: a disk all of whose samples are known gets
    its plain mean, but one whose centre cement hides is not judged by its rim alone (the rim
    samples, partly beyond the body outline, weigh less than the centre at every level; their
    mean alone would dip like a disc).
    """
    usable = np.isfinite(sampled).any(axis=1)  # sample positions known somewhere along the path
    if not usable.any():
        return np.full(sampled.shape[1], np.nan)
    typical = np.array([np.median(row[np.isfinite(row)]) for row in sampled[usable]])[:, None]
    return _known_mean(sampled[usable] - typical) + float(typical.mean())


def split_bodies(
    grid: WorkingGrid, body_mask: np.ndarray, discs: list[DiscPlane], min_body_ml: float
) -> np.ndarray:
    """Vertebra id per body voxel: 1 + the number of disc planes below it; tiny pieces dropped."""
    spacing = np.asarray(grid.spacing_mm)
    points = voxels(body_mask)
    index = np.ones(len(points), dtype=np.uint16)
    for disc in discs:
        above = ((points - disc.centre_zyx) * spacing) @ disc.normal_zyx_mm > 0
        index += above.astype(np.uint16)
    counts = np.bincount(index, minlength=len(discs) + 2) * grid.voxel_ml
    kept = np.nonzero((counts > 0) & (counts >= min_body_ml))[0]
    lut = np.zeros(len(counts), dtype=np.uint16)  # small pieces become 0, the rest 1, 2, ... in order
    lut[kept] = np.arange(1, len(kept) + 1)
    vertebrae = np.zeros(grid.shape, dtype=np.uint16)
    vertebrae[tuple(points.T)] = lut[index]
    return vertebrae


def disc_mask(
    grid: WorkingGrid,
    vertebrae: np.ndarray,
    discs: list[DiscPlane],
    bone_hu: float,
    half_height_mm: float = 8.0,
    disc_cement: np.ndarray | None = None,
) -> np.ndarray:
    """Disc voxels: near a disc plane, within the adjacent bodies' footprint, not bone; plus
    ``disc_cement`` (from `cement_in_discs`)."""
    spacing = np.asarray(grid.spacing_mm)
    body = vertebrae > 0
    out = np.zeros(grid.shape, dtype=bool)
    for disc in discs:
        lo = np.clip(np.floor(disc.centre_zyx - 30.0 / spacing).astype(int), 0, None)
        hi = np.minimum(np.ceil(disc.centre_zyx + 30.0 / spacing).astype(int) + 1, grid.shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        rel = np.empty((*np.maximum(hi - lo, 0), 3))  # mm from the disc centre, (z, y, x) per voxel
        for axis in range(3):
            along = (np.arange(lo[axis], hi[axis]) - disc.centre_zyx[axis]) * spacing[axis]
            rel[..., axis] = along.reshape([-1 if k == axis else 1 for k in range(3)])
        height = rel @ disc.normal_zyx_mm
        near = body[box] & (np.abs(height) < 12.0)
        radius = np.sqrt(near.sum() * np.prod(spacing) / (24.0 * np.pi)) if near.any() else 0.0
        inside = (np.abs(height) < half_height_mm) & ~body[box] & (grid.hu[box] < bone_hu)
        radial = np.linalg.norm(rel[inside] - height[inside][:, None] * disc.normal_zyx_mm, axis=-1)
        inside[inside] = radial < 0.85 * radius  # the radial distance, where it matters
        out[box] |= inside
    if disc_cement is not None:
        out |= disc_cement
    return out
