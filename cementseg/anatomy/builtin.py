"""`build`: the built-in anatomy map of a CT, from HU and geometry alone (no model weights).

Order matters: body, then the spinal canal (the most robust landmark), the vertebral
bodies anterior to it, the discs and the level names, the spine frame, and everything
placed relative to the spine (vessels, paravertebral space, foramina). See docs/anatomy.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage

from ..settings import Settings
from ..volume import CTVolume, lps_to_index
from . import levels as level_rules
from .anatomy_map import STRUCTURES, AnatomyMap
from .body import body_mask, lung_mask
from .canal import CanalTrack, extended, track_canal, without_cement_bordered
from .frame import SpineFrame, build_frame
from .grid import WorkingGrid, to_working_grid
from .morphology import bounding_box, dilate, grow_one_voxel, voxels
from .vertebrae import (
    DiscPlane,
    Spine,
    body_slices,
    cement_in_discs,
    centrelines,
    clamp_streaked_slices,
    disc_mask,
    disc_planes,
    screw_slices,
    split_bodies,
)
from .vessels import (
    AORTA_WINDOW,
    BLOOD_HU,
    IVC_WINDOW,
    azygos_prior,
    find_tube,
    heart_mask,
    ivc_course,
    pulmonary_vessels,
    right_heart,
    tube_track,
)

log = logging.getLogger(__name__)

POSTERIOR_ELEMENTS_REACH_MM = 50.0  # laminae, spinous and transverse processes lie within this of the canal
FORAMEN_WIDTH_MM = 15.0
FORAMEN_HALF_HEIGHT_MM = 7.0
PROSTHESIS_HU = 2000.0
LUNG_ISLAND_MAX_ML = 1.0  # a dense piece this small with nearly all of it touching lung is no bone
LUNG_ISLAND_SHARE = 0.9
PROSTHESIS_MIN_ML = 5.0
PROSTHESIS_MIN_LATERAL_MM = 50.0

#: later entries win where structures overlap
PAINT_ORDER = (
    "soft_tissue",
    "paravertebral",
    "lung",
    "other_bone",
    "pulmonary_artery",
    "heart",
    "right_heart",
    "azygos_system",
    "inferior_vena_cava",
    "aorta",
    "neural_foramen",
    "posterior_elements",
    "intervertebral_disc",
    "spinal_canal",
    "vertebral_body",
    "hip_prosthesis",
)


@dataclass
class GivenVertebrae:
    """Vertebrae from an external provider: level name -> whole-vertebra mask, optional body and disc masks."""

    levels: dict[str, np.ndarray]
    body_mask: np.ndarray | None = None
    disc_mask: np.ndarray | None = None


class BoxedMasks(MutableMapping):
    """Structure name -> bool mask on the working grid, each held as the contents of its bounding box.

    Most structures fill a small part of the grid: sixteen whole masks would outweigh the CT.
    Reading a name gives the whole-grid mask back; `boxed` gives the box and its contents.
    """

    def __init__(self, shape: tuple[int, ...], masks: Mapping[str, np.ndarray] | None = None):
        self.shape = tuple(shape)
        self._boxes: dict[str, tuple[tuple[slice, ...], np.ndarray] | None] = {}
        self.update(masks or {})

    def __setitem__(self, name: str, mask: np.ndarray) -> None:
        self.put(name, mask)

    def put(self, name: str, mask: np.ndarray, within: tuple[slice, ...] | None = None) -> None:
        """Hold ``mask``, given on the whole grid or, with ``within``, on that box of it."""
        crop = bounding_box(mask)
        if crop is None:
            self._boxes[name] = None
            return
        part = mask[crop].copy()
        if within is not None:
            crop = _moved(crop, [w.start for w in within])
        self._boxes[name] = (crop, part)

    def __getitem__(self, name: str) -> np.ndarray:
        boxed = self.boxed(name)
        out = np.zeros(self.shape, dtype=bool)
        if boxed is not None:
            out[boxed[0]] = boxed[1]
        return out

    def boxed(self, name: str) -> tuple[tuple[slice, ...], np.ndarray] | None:
        """(bounding box, the mask within it) of ``name``; None when the mask is empty."""
        return self._boxes[name]

    def __delitem__(self, name: str) -> None:
        del self._boxes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._boxes)

    def __len__(self) -> int:
        return len(self._boxes)


def build(volume: CTVolume, settings: Settings | None = None, hardware: np.ndarray | None = None) -> AnatomyMap:
    """The built-in anatomy map of ``volume`` on an axis-aligned LPS working grid.

    Structures the field of view does not show are simply absent (with a warning where a
    reader would expect them); levels are ``None`` with the reason in ``level_note`` when
    they cannot be counted. ``hardware``: flat indices of the screws, rods and wires of
    ``volume`` (`material.hardware.hardware_voxels`); None finds them here. The disc search
    skips the slices where a screw enters a vertebral body: dark streaks between two screws
    look like a disc.
    """
    settings = settings or Settings()
    if hardware is None:
        hardware = _find_hardware(volume, settings)
    grid = to_working_grid(volume, settings.anatomy_working_spacing_mm, settings.scan_threads)
    metal = _on_grid(grid, volume.index_to_lps(np.column_stack(np.unravel_index(hardware, volume.shape))))
    masks, spine_parts = builtin_masks(grid, settings, hardware=metal)
    return compose(grid, masks, spine_parts)


def _find_hardware(volume: CTVolume, settings: Settings) -> np.ndarray:
    from ..material.hardware import hardware_voxels
    from ..segment import find_candidates

    return hardware_voxels(find_candidates(volume, settings), volume, settings)


def _on_grid(grid: WorkingGrid, lps: np.ndarray) -> np.ndarray:
    """Working-grid mask of the voxels holding any of the LPS mm points ``lps`` (n, 3)."""
    mask = np.zeros(grid.shape, dtype=bool)
    zyx = np.rint(lps_to_index(grid.affine, lps)).astype(int)
    zyx = zyx[np.all((zyx >= 0) & (zyx < np.asarray(grid.shape)), axis=1)]
    mask[tuple(zyx.T)] = True
    return mask


def builtin_masks(
    grid: WorkingGrid,
    settings: Settings,
    given: GivenVertebrae | None = None,
    hardware: np.ndarray | None = None,
) -> tuple[BoxedMasks, dict]:
    """Every built-in structure mask on the working grid, and the spine parts (ids, levels, frame).

    With ``given`` vertebrae (an external provider's), bodies, levels and posterior elements
    come from them and the rest of the spine (discs, foramina, frame) is aligned to them.
    ``hardware``: working-grid mask of screws, rods and wires (None: no hardware known).
    """
    warnings: list[str] = []
    body = body_mask(grid, settings.anatomy_body_hu, settings.anatomy_table_max_mm)
    canal = track_canal(
        grid,
        body,
        settings.anatomy_canal_wall_hu,
        settings.anatomy_canal_bridge_mm,
        settings.anatomy_canal_max_gap_mm,
    )
    spine_x = float(np.nanmedian(canal.centre_yx[:, 1])) if canal is not None else None
    lungs = lung_mask(
        grid, body, settings.anatomy_lung_hu, settings.anatomy_min_lung_ml, settings.anatomy_min_cut_lung_ml, spine_x
    )
    masks = BoxedMasks(grid.shape, {"soft_tissue": body, "lung": lungs})
    spine_parts: dict = {
        "levels": {},
        "frame": None,
        "level_note": "no spinal canal found in the field of view",
        "warnings": warnings,
    }
    if canal is not None:
        # bodies end at the canal's front wall (given vertebrae are cut there too): keep it where
        # cement hides the canal
        canal = without_cement_bordered(grid, canal, settings.anatomy_canal_wall_hu)
    if given is not None:
        spine = _spine_from_given(grid, canal, given, settings, spine_parts, masks)
        masks["vertebral_body"] = spine.body_mask
        if canal is not None:
            _spine_structures(grid, canal, spine, settings, masks)
        whole = np.any([m for m in given.levels.values()], axis=0)
        masks["posterior_elements"] = whole & ~spine.body_mask
    if canal is None:
        warnings.append(
            "no spinal canal found: no vertebrae, discs or spine-relative structures"
            if given is None
            else "no spinal canal found: no canal, foramina or spine frame"
        )
    else:
        if given is None:
            spine = _spine(grid, canal, settings, masks, hardware)
            _name_levels(grid, canal, spine, settings, spine_parts)
            _spine_structures(grid, canal, spine, settings, masks)
        spine_parts["vertebrae"] = spine.vertebrae
        frame = build_frame(spine.centreline_zyx, spine.canal_zyx, grid.affine)
        if frame is not None:
            frame.body_centres_lps = _body_centres(grid, spine.vertebrae)
        spine_parts["frame"] = frame
        _vessels(grid, body, lungs, spine, settings, masks)
    spine_structures = [masks.boxed(k) for k in ("vertebral_body", "posterior_elements") if k in masks]
    masks["other_bone"] = _other_bone(grid, (grid.hu > settings.anatomy_bone_hu) & body, spine_structures, lungs)
    masks["hip_prosthesis"] = _hip_prosthesis(grid, canal)
    spine_parts.setdefault("vertebrae", np.zeros(grid.shape, dtype=np.uint16))
    return masks, spine_parts


BODY_SEARCH_BEYOND_CANAL_MM = 15.0


def _spine(
    grid: WorkingGrid, canal: CanalTrack, settings: Settings, masks: BoxedMasks, hardware: np.ndarray | None
) -> Spine:
    """The built-in bodies, discs and centrelines; the disc mask goes to ``masks``."""
    reach = extended(canal, grid, BODY_SEARCH_BEYOND_CANAL_MM)
    unreadable = None if hardware is None else screw_slices(grid, reach, hardware)
    bodies = body_slices(grid, reach, settings.anatomy_canal_wall_hu, settings.anatomy_cancellous_hu)
    body_track, canal_track = centrelines(grid, reach, bodies)
    discs = disc_planes(grid, bodies, body_track, unreadable)
    if unreadable is not None and unreadable.any():
        clamp_streaked_slices(grid, bodies, unreadable)
    disc_cement = cement_in_discs(grid, bodies, discs)
    bodies[disc_cement] = False
    vertebrae = split_bodies(grid, bodies, discs, settings.anatomy_min_body_ml)
    del bodies
    masks["intervertebral_disc"] = disc_mask(
        grid, vertebrae, discs, settings.anatomy_bone_hu, disc_cement=disc_cement
    )
    return Spine(
        body_mask=vertebrae > 0,
        centreline_zyx=body_track,
        canal_zyx=canal_track,
        discs=discs,
        vertebrae=vertebrae,
    )


def _spine_from_given(
    grid: WorkingGrid,
    canal: CanalTrack | None,
    given: GivenVertebrae,
    settings: Settings,
    parts: dict,
    masks: BoxedMasks,
) -> Spine:
    """Bodies, ids, levels and discs from external whole-vertebra labels; the disc mask goes to ``masks``."""
    from .levels import ORDER

    names = sorted((n for n in given.levels if n in ORDER), key=ORDER.index, reverse=True)  # caudal first
    vertebrae = np.zeros(grid.shape, dtype=np.uint16)
    for vid, name in enumerate(names, start=1):
        vertebrae[given.levels[name]] = vid
    if given.body_mask is not None:
        vertebrae[~given.body_mask] = 0
    elif canal is not None:
        vertebrae[~_anterior_of_canal_front(grid, canal)] = 0
    else:
        parts["warnings"].append(
            "no spinal canal to split the given vertebrae: whole vertebrae used as bodies"
        )
    parts["levels"] = {vid: name for vid, name in enumerate(names, start=1)}
    parts["level_note"] = "level names from the external labels"
    parts["vertebrae"] = vertebrae
    body = vertebrae > 0
    if canal is not None:
        body_track, canal_track = centrelines(grid, canal, body)
    else:
        body_track = canal_track = np.full((grid.shape[0], 3), np.nan)
    discs = _discs_between(grid, vertebrae, len(names))
    masks["intervertebral_disc"] = (
        given.disc_mask
        if given.disc_mask is not None
        else disc_mask(grid, vertebrae, discs, settings.anatomy_bone_hu)
    )
    return Spine(
        body_mask=body,
        centreline_zyx=body_track,
        canal_zyx=canal_track,
        discs=discs,
        vertebrae=vertebrae,
    )


def _anterior_of_canal_front(grid: WorkingGrid, canal: CanalTrack) -> np.ndarray:
    """Voxels anterior of the canal's anterior wall (where the canal is tracked)."""
    sy = grid.spacing_mm[1]
    out = np.zeros(grid.shape, dtype=bool)
    y = np.arange(grid.shape[1])
    for z in canal.slices:
        out[z] = ((canal.centre_yx[z][0] - y) * sy > canal.radius_mm[z])[:, None]
    return out


def _discs_between(grid: WorkingGrid, vertebrae: np.ndarray, n: int) -> list[DiscPlane]:
    """A disc plane midway between the facing endplates of each pair of consecutive bodies."""
    spacing = np.asarray(grid.spacing_mm)
    points = {v: np.argwhere(vertebrae == v) * spacing for v in range(1, n + 1)}
    discs = []
    for lower, upper in zip(range(1, n), range(2, n + 1), strict=True):
        if len(points[lower]) == 0 or len(points[upper]) == 0:
            continue
        c_low, c_up = points[lower].mean(axis=0), points[upper].mean(axis=0)
        normal = (c_up - c_low) / np.linalg.norm(c_up - c_low)
        top = (points[lower] - c_low) @ normal
        bottom = (points[upper] - c_low) @ normal
        middle = c_low + normal * 0.5 * (np.percentile(top, 98) + np.percentile(bottom, 2))
        discs.append(DiscPlane(centre_zyx=middle / spacing, normal_zyx_mm=normal, dip=1.0))
    return discs


def _moved(box: tuple[slice, ...], by) -> tuple[slice, ...]:
    """``box`` shifted by ``by`` voxels per axis."""
    return tuple(slice(b.start + d, b.stop + d) for b, d in zip(box, by, strict=True))


def _spine_structures(
    grid: WorkingGrid, canal: CanalTrack, spine: Spine, settings: Settings, masks: BoxedMasks
) -> None:
    """Bodies, canal, posterior elements, neural foramina and paravertebral space, added to ``masks``.

    The posterior elements and foramina are drawn within the per-slice squares around the canal
    that hold them, all slices at once on the box of those squares.
    """
    sy, sx = grid.spacing_mm[1:]
    ny, nx = grid.shape[1:]
    zs = canal.slices
    squares = [  # per slice, the box of what lies within reach of either structure
        _square(
            canal.centre_yx[z], max(POSTERIOR_ELEMENTS_REACH_MM, canal.radius_mm[z] + FORAMEN_WIDTH_MM),
            (sy, sx), (ny, nx),
        )
        for z in zs
    ]
    region = (
        slice(int(zs[0]), int(zs[-1]) + 1),
        *(slice(min(b[k].start for b in squares), max(b[k].stop for b in squares)) for k in range(2)),
    )
    in_square = _in_squares(squares, region)
    cy, cx = (canal.centre_yx[zs, k][:, None, None] for k in range(2))
    radius = canal.radius_mm[zs][:, None, None]
    yy, xx = np.ogrid[region[1], region[2]]
    anterior_mm, lateral_mm = (cy - yy) * sy, (xx - cx) * sx  # per slice a column and a row, broadcast
    bone = grid.hu[region] > settings.anatomy_bone_hu
    posterior = (
        in_square & bone & (anterior_mm < radius + 2.0)
        & (np.hypot(anterior_mm, lateral_mm) < POSTERIOR_ELEMENTS_REACH_MM)
    )
    side = np.abs(lateral_mm)
    foramen = (
        in_square & _disc_slices(grid, spine)[zs][:, None, None]
        & (side > radius) & (side < radius + FORAMEN_WIDTH_MM) & (np.abs(anterior_mm) < radius + 3.0) & ~bone
    )
    outside_bodies = ~spine.body_mask[region]
    masks["vertebral_body"] = spine.body_mask
    masks["spinal_canal"] = canal.mask
    masks.put("posterior_elements", posterior & outside_bodies, region)
    masks.put("neural_foramen", foramen & ~canal.mask[region] & outside_bodies, region)
    _paravertebral(grid, spine, canal, settings.anatomy_paravertebral_mm, masks)


def _in_squares(squares: list[tuple[slice, slice]], region: tuple[slice, ...]) -> np.ndarray:
    """Per slice of ``region``, its pixels inside that slice's (y, x) square."""
    yy, xx = np.ogrid[region[1], region[2]]
    (y0, y1), (x0, x1) = (
        (np.array([b[k].start for b in squares])[:, None, None], np.array([b[k].stop for b in squares])[:, None, None])
        for k in range(2)
    )
    return (yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)


def _square(centre_yx, half_mm: float, spacing_yx, shape) -> tuple[slice, slice]:
    """The (y, x) box holding every pixel within ``half_mm`` of ``centre_yx`` (and a pixel more), clipped."""
    return tuple(
        slice(min(max(int(c - half_mm / s) - 1, 0), n), min(max(int(c + half_mm / s) + 2, 0), n))
        for c, s, n in zip(centre_yx, spacing_yx, shape, strict=True)
    )


def _disc_slices(grid: WorkingGrid, spine: Spine) -> np.ndarray:
    """Slices within FORAMEN_HALF_HEIGHT_MM of a disc centre (the foramina open at disc level)."""
    z = np.arange(grid.shape[0]) * grid.spacing_mm[0]
    near = np.zeros(grid.shape[0], dtype=bool)
    for disc in spine.discs:
        near |= np.abs(z - disc.centre_zyx[0] * grid.spacing_mm[0]) <= FORAMEN_HALF_HEIGHT_MM
    return near


def _paravertebral(
    grid: WorkingGrid, spine: Spine, canal: CanalTrack, reach_mm: float, masks: BoxedMasks
) -> None:
    """Soft tissue within ``reach_mm`` of a vertebral body, lateral or anterior of the canal centre."""
    if not spine.body_mask.any():
        masks["paravertebral"] = np.zeros(grid.shape, dtype=bool)
        return
    margin = np.ceil(reach_mm / np.asarray(grid.spacing_mm)).astype(int) + 1
    bodies = bounding_box(spine.body_mask)
    lo = np.maximum(np.array([b.start for b in bodies]) - margin, 0)
    hi = np.array([b.stop for b in bodies]) + margin
    crop = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    distance = ndimage.distance_transform_edt(~spine.body_mask[crop], sampling=grid.spacing_mm)
    near = (distance > 0) & (distance <= reach_mm) & (grid.hu[crop] < 200)
    del distance
    in_front = np.zeros_like(near)
    for z in canal.slices:
        if crop[0].start <= z < crop[0].stop:  # anterior = smaller y
            rows = int(np.ceil(canal.centre_yx[z][0])) + 1 - crop[1].start
            in_front[z - crop[0].start, : max(rows, 0)] = True
    masks.put("paravertebral", near & in_front, crop)


def _name_levels(grid: WorkingGrid, canal: CanalTrack, spine: Spine, settings: Settings, parts: dict) -> None:
    zyx = voxels(spine.vertebrae)
    values = spine.vertebrae[tuple(zyx.T)]
    counts = np.bincount(values)
    ids = [int(v) for v in np.nonzero(counts)[0] if v]
    if not ids:
        parts["level_note"] = "no vertebral body found"
        return
    z_mean = np.bincount(values, weights=zyx[:, 0]) / np.maximum(counts, 1)
    ids.sort(key=lambda v: z_mean[v])  # caudal to cranial
    ribs = level_rules.rib_bearing_vertebrae(grid, spine.vertebrae, canal, settings.anatomy_bone_hu)
    with_ribs = [v for v in ids if v in ribs]
    lowest_rib = with_ribs[0] if with_ribs else None
    # T12 only if a rib-free vertebra lies below it entirely in view (a rib may leave the field of view)
    rib_count_possible = (
        lowest_rib is not None
        and ids.index(lowest_rib) > 0
        and _entirely_in_view(spine.vertebrae, ids[ids.index(lowest_rib) - 1])
    )
    sacral = None
    for vid in ids[:3]:  # the lowest sacral body among the lowest three, then up while still sacral
        if level_rules.is_sacral(grid, spine.vertebrae, vid, canal, settings.anatomy_bone_hu):
            sacral = vid
        elif sacral is not None:
            break
    levels, note, warnings = level_rules.name_levels(ids, sacral, lowest_rib, rib_count_possible)
    named = [vid for vid in ids if levels[vid] is not None]
    if named:
        below_s1 = ids[: ids.index(named[0])]  # lower sacral segments: sacrum, not vertebral bodies
        order = [vid for vid in ids if vid not in below_s1]
        lut = np.zeros(len(counts), dtype=np.uint16)  # the ids below S1 become 0
        lut[order] = np.arange(1, len(order) + 1)
        crop = tuple(slice(int(c.min()), int(c.max()) + 1) for c in zyx.T)  # the bodies' box: zeros beyond
        spine.vertebrae[crop] = lut[spine.vertebrae[crop]]
        spine.body_mask[crop] &= spine.vertebrae[crop] > 0
        levels = {int(lut[vid]): levels[vid] for vid in order}
    parts["levels"], parts["level_note"] = levels, note
    parts["warnings"].extend(warnings)


def _entirely_in_view(vertebrae: np.ndarray, vid: int) -> bool:
    """Whether body ``vid`` stays clear of the first and last slices of the field of view."""
    zs = np.nonzero((vertebrae == vid).any(axis=(1, 2)))[0]
    return bool(zs[0] > 0 and zs[-1] < vertebrae.shape[0] - 1)


def _spine_slices(grid: WorkingGrid, spine: Spine) -> dict:
    """Per slice: body centre (y, x), anterior and right unit (y, x) mm vectors, body radius mm."""
    sy, sx = grid.spacing_mm[1:]
    out = {}
    areas = spine.body_mask.sum(axis=(1, 2)) * sy * sx
    typical = float(np.median(areas[areas > 0])) if (areas > 0).any() else 400.0
    for z in range(grid.shape[0]):
        body, canal = spine.centreline_zyx[z], spine.canal_zyx[z]
        if not (np.all(np.isfinite(body)) and np.all(np.isfinite(canal))):
            continue
        a = (body[1:] - canal[1:]) * (sy, sx)
        norm = np.linalg.norm(a)
        if norm == 0:
            continue
        a /= norm
        right = np.array([-a[1], a[0]])  # right = anterior x cranial on the (S, P, L) grid
        area = areas[z] if areas[z] > 0.5 * typical else typical
        out[z] = (body[1:], a, right, float(np.sqrt(area / np.pi)))
    return out


def _vessels(
    grid: WorkingGrid,
    body: np.ndarray,
    lungs: np.ndarray,
    spine: Spine,
    settings: Settings,
    masks: BoxedMasks,
) -> None:
    """Aorta, IVC, azygos system, heart, right heart and pulmonary arteries, added to ``masks``
    one by one (each whole-grid intermediate freed as soon as it is used)."""
    slices = _spine_slices(grid, spine)
    tissue = body & (grid.hu > BLOOD_HU[0]) & ~lungs  # dense contrast or cement fills the lumen too
    tissue &= ~grow_one_voxel(spine.body_mask)
    aorta, _ = find_tube(grid, tissue, slices, AORTA_WINDOW, settings.anatomy_canal_max_gap_mm)
    masks["aorta"] = aorta
    tissue &= ~aorta  # the venous side
    del aorta
    ivc_track = tube_track(grid, tissue, slices, IVC_WINDOW, settings.anatomy_canal_max_gap_mm)
    thoracic = lungs.any(axis=(1, 2))
    masks["azygos_system"] = azygos_prior(grid, tissue, slices, thoracic)
    lung_z = np.flatnonzero(thoracic)
    heart_slices = {z: s for z, s in slices.items() if len(lung_z) and lung_z[0] <= z <= lung_z[-1]}
    spine_front = _anterior_of_spine(grid, heart_slices)  # read only where the heart is looked for: between the lungs
    _remove(spine_front, masks.boxed("aorta"))
    spine_x = float(np.median([centre[1] for centre, *_ in slices.values()])) if slices else None
    heart = heart_mask(grid, lungs, body, spine_front, spine_x)
    del spine_front
    masks["heart"] = heart
    right = right_heart(heart, grid)
    del heart
    masks["right_heart"] = right
    masks["inferior_vena_cava"] = ivc_course(grid, tissue, slices, ivc_track, right, thoracic)
    masks["pulmonary_artery"] = pulmonary_vessels(grid, lungs)


def _remove(mask: np.ndarray, boxed) -> None:
    """Clear from ``mask`` the voxels of a `BoxedMasks.boxed` entry (None: empty)."""
    if boxed is not None:
        crop, part = boxed
        mask[crop] &= ~part


def _anterior_of_spine(grid: WorkingGrid, slices: dict, margin_mm: float = 15.0) -> np.ndarray:
    """Voxels more than ``margin_mm`` anterior of the vertebral body front."""
    sy, sx = grid.spacing_mm[1:]
    ny, nx = grid.shape[1:]
    yy, xx = np.ogrid[:ny, :nx]
    out = np.zeros(grid.shape, dtype=bool)
    for z, (centre, a, _, radius) in slices.items():
        anterior = (yy - centre[0]) * sy * a[0] + (xx - centre[1]) * sx * a[1]  # a column plus a row
        out[z] = anterior > radius + margin_mm
    return out


def _other_bone(grid: WorkingGrid, bone: np.ndarray, spine_structures: list, lungs: np.ndarray) -> np.ndarray:
    """``bone`` without the spine structures (`BoxedMasks.boxed` entries, None: empty) and without
    islands in the lung: bone never lies inside the lung (a dense speck there is an embolus, a
    granuloma or a vessel seen end-on), so a piece under LUNG_ISLAND_MAX_ML with at least
    LUNG_ISLAND_SHARE of its voxels touching lung is not bone."""
    for boxed in spine_structures:
        _remove(bone, boxed)
    crop = bounding_box(bone)
    if crop is None or not lungs[crop].any():
        return bone
    labels, n = cc3d.connected_components(bone[crop], connectivity=26, return_N=True)
    by_lung = dilate(lungs[crop], (3, 3, 3))  # = ndimage.binary_dilation by the 3 x 3 x 3 cube
    size = np.bincount(labels[bone[crop]], minlength=n + 1)  # the pieces' sizes (none for the background)
    near_lung = np.bincount(labels[by_lung], minlength=n + 1)
    island = (near_lung >= LUNG_ISLAND_SHARE * size) & (size * grid.voxel_ml < LUNG_ISLAND_MAX_ML)
    island[0] = False
    if island.any():
        bone[crop] &= ~island[labels]
    return bone


def _hip_prosthesis(grid: WorkingGrid, canal: CanalTrack | None) -> np.ndarray:
    """Large metal (> PROSTHESIS_HU on the working grid) components well lateral of the spine."""
    metal = grid.hu > PROSTHESIS_HU
    crop = bounding_box(metal)
    if crop is None:
        return metal
    labels = cc3d.connected_components(metal[crop], connectivity=26)
    del metal
    out = np.zeros(grid.shape, dtype=bool)
    counts = np.bincount(labels.ravel())
    spine_x = float(np.nanmedian(canal.centre_yx[:, 1])) if canal is not None else grid.shape[2] / 2
    for label in np.nonzero(counts[1:] * grid.voxel_ml >= PROSTHESIS_MIN_ML)[0] + 1:
        x = np.nonzero(labels == label)[2]
        centre_x = (int(x.sum()) + len(x) * crop[2].start) / len(x)  # on the whole grid's columns
        if abs(centre_x - spine_x) * grid.spacing_mm[2] >= PROSTHESIS_MIN_LATERAL_MM:
            out[crop] |= labels == label
    return grow_one_voxel(out)


def _body_centres(grid: WorkingGrid, vertebrae: np.ndarray) -> dict[int, np.ndarray]:
    zyx = voxels(vertebrae)
    ids = vertebrae[tuple(zyx.T)]
    counts = np.bincount(ids)
    sums = np.column_stack([np.bincount(ids, weights=c, minlength=len(counts)) for c in zyx.T])
    return {int(v): grid.index_to_lps(sums[v] / counts[v]) for v in np.nonzero(counts)[0]}


def compose(
    grid: WorkingGrid,
    masks: Mapping[str, np.ndarray],
    spine_parts: dict,
    sources: dict[str, str] | None = None,
) -> AnatomyMap:
    """Paint the masks into one label volume (PAINT_ORDER) and wrap everything in an AnatomyMap."""
    boxes = masks if isinstance(masks, BoxedMasks) else BoxedMasks(grid.shape, masks)
    structures = np.zeros(grid.shape, dtype=np.uint8)
    body = boxes["soft_tissue"] if "soft_tissue" in boxes else None
    for name in PAINT_ORDER:
        boxed = boxes.boxed(name) if name in boxes else None
        if boxed is None:
            continue
        crop, mask = boxed
        if body is not None and name not in ("soft_tissue", "hip_prosthesis"):
            mask = mask & body[crop]
        np.copyto(structures[crop], STRUCTURES[name], where=mask)
    present = sorted(name for name in boxes if boxes.boxed(name) is not None)
    source = {name: "builtin" for name in present}
    source.update(sources or {})
    frame: SpineFrame | None = spine_parts.get("frame")
    log.debug("anatomy: %s", ", ".join(present))
    return AnatomyMap(
        structures=structures,
        vertebrae=spine_parts["vertebrae"],
        affine=grid.affine,
        vertebra_levels=dict(spine_parts["levels"]),
        level_note=spine_parts["level_note"],
        source=source,
        warnings=list(spine_parts["warnings"]),
        spine_frame=frame,
    )
