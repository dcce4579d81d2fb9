"""Stage 1 of the detector: high-attenuation candidates and their statistics.

A candidate is one 26-connected component of a *hysteresis mask*: voxels at or above a
grow level (HU) that are connected to, and lie within a short reach (mm) of, voxels at or
above a seed level (HU).

Why the reach limit
    Cement fills sit inside vertebral bodies whose cortex and endplates are dense. A plain
    hysteresis grow down to cortical-bone levels would run from the cement into the
    cortex and from there along the whole bony spine. Growth is therefore allowed only
    within ``grow_reach_mm`` (a box of that half-width in mm, at least 1.5 voxels) of a
    seed voxel: enough to keep the partial-volumed rim of a cement mass (blur plus one
    voxel), never enough to flood a vertebra.

Why the thresholds depend on the voxel size (partial volume)
    A thin leak averages its HU with the tissue around it, after the scanner's blur. The
    *partial-volume factor* ``pv`` is the peak a line of diameter ``d``
    (``thin_leak_diameter_mm``) reaches in its best-aligned voxel -- a disc blurred by a
    Gaussian of ``scanner_blur_sigma_mm`` and averaged over the two coarsest voxel edges,
    computed numerically -- relative to the same line on 0.5 mm voxels, where the dense
    levels are calibrated. With the default 2 mm line and 0.5 mm blur, ``pv`` is 0.96 on
    0.8 mm, 0.8 on 1.5 mm, 0.65 on 2 mm and 0.39 on 3 mm voxels: a 2000 HU line peaks at
    about 1600, 1350, 1100 and 690 HU. Two passes:

    1. *dense pass*: seed ``seed_hu``, grow ``grow_hu`` (unscaled). Cement masses, metal,
       dense contrast and dense cortical bone; radiopaque PMMA (1500-3000 HU) is above
       the seed level at every voxel size once it is thicker than a couple of voxels.
       Components holding several materials are split at their cores (`_split_at_cores`).
    2. *faint pass*, when ``pv < faint_pass_max_pv`` (coarse voxels): seed and grow levels
       scaled towards soft tissue, ``soft_tissue_hu + pv * (level - soft_tissue_hu)``; on
       3 mm voxels 1200/450 HU become about 500/200 HU, so a 2 mm, 2000 HU leak still seeds.
       The faint pass never enters dense-pass voxels: a thin leak leaving a cement fill
       becomes its own candidate next to the fill (``evidence["touches"]`` lists the
       neighbours), and thin osteoporotic cortex (300-700 HU after partial volume) shows
       up as separate, bone-like candidates instead of merging with the fill.

Components smaller than ``min_candidate_mm3`` (mm3, not voxels) are dropped.

Speed and memory: no full-size mask or label volume ever exists. The scan is cut into
blocks; one pass records each block's highest HU, and the hysteresis mask is computed only
in blocks that hold a grow voxel and lie next to a block holding a seed, each from its own
crop plus a margin of the reach. The mask is kept as sorted flat indices; cc3d labels it
64 slices at a time, each slab cropped to its voxels, and the slabs are joined with a
sparse graph. Beyond the int16 scan the memory is a few block-sized crops plus the flat
indices of the masked voxels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import cc3d
import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .candidates import Candidate
from .settings import Settings
from .volume import CTVolume

log = logging.getLogger(__name__)

_BLOCK = (32, 64, 64)  # voxels (z, y, x) per block of the hysteresis mask (at least the reach)
_LABEL_SLAB = 64  # slices per slab when labelling components


@dataclass(frozen=True)
class CandidateThresholds:
    """The levels `find_candidates` uses on one voxel grid (HU and mm)."""

    partial_volume_factor: float
    dense_seed_hu: float
    dense_grow_hu: float
    faint_seed_hu: float | None  # None: no faint pass (voxels fine enough)
    faint_grow_hu: float | None
    grow_reach_mm: tuple[float, float, float]  # (z, y, x)


@lru_cache(maxsize=64)
def _line_peak(edge_a_mm: float, edge_b_mm: float, diameter_mm: float, blur_sigma_mm: float) -> float:
    """Peak fraction of a blurred line of ``diameter_mm`` in its best-aligned ``a x b`` voxel."""
    step = min(edge_a_mm, edge_b_mm, diameter_mm) / 10.0
    half = int((diameter_mm / 2 + 4 * blur_sigma_mm + max(edge_a_mm, edge_b_mm)) / step) + 1
    axis = np.arange(-half, half + 1) * step
    x, y = np.meshgrid(axis, axis, indexing="ij")
    image = (x**2 + y**2 <= (diameter_mm / 2) ** 2).astype(np.float64)
    if blur_sigma_mm > 0:
        image = ndi.gaussian_filter(image, blur_sigma_mm / step)
    box = (max(1, round(edge_a_mm / step)), max(1, round(edge_b_mm / step)))
    return float(ndi.uniform_filter(image, box).max())


def partial_volume_factor(spacing_mm, diameter_mm: float, blur_sigma_mm: float = 0.5) -> float:
    """Peak a ``diameter_mm`` line keeps in its best-aligned voxel of ``spacing_mm``, relative to 0.5 mm voxels (0..1)."""
    a, b = sorted((float(s) for s in spacing_mm), reverse=True)[:2]
    d, sigma = float(diameter_mm), float(blur_sigma_mm)
    reference = _line_peak(0.5, 0.5, d, sigma)
    return min(1.0, _line_peak(round(a, 3), round(b, 3), d, sigma) / reference)


def candidate_thresholds(spacing_mm, settings: Settings) -> CandidateThresholds:
    """Seed/grow levels (HU) and grow reach (mm per axis) for voxels of ``spacing_mm`` (z, y, x)."""
    pv = partial_volume_factor(spacing_mm, settings.thin_leak_diameter_mm, settings.scanner_blur_sigma_mm)
    reach = tuple(max(settings.grow_reach_mm, 1.5 * max(spacing_mm)) for _ in range(3))
    faint_seed = faint_grow = None
    if pv < settings.faint_pass_max_pv:
        base = settings.soft_tissue_hu
        faint_seed = base + pv * (settings.seed_hu - base)
        faint_grow = base + pv * (settings.grow_hu - base)
    return CandidateThresholds(pv, settings.seed_hu, settings.grow_hu, faint_seed, faint_grow, reach)


def find_candidates(volume: CTVolume, settings: Settings) -> list[Candidate]:
    """High-attenuation candidates of ``volume``, with statistics, material not yet set.

    Ids are 1-based: dense-pass components first, then faint-pass ones, each in raster order.
    """
    levels = candidate_thresholds(volume.spacing_mm, settings)
    reach_voxels = tuple(
        int(math.floor(r / s + 1e-6)) for r, s in zip(levels.grow_reach_mm, volume.spacing_mm, strict=True)
    )
    min_voxels = max(1, math.ceil(settings.min_candidate_mm3 / volume.voxel_volume_mm3 - 1e-9))
    block = tuple(max(b, r) for b, r in zip(_BLOCK, reach_voxels, strict=True))
    block_max = _block_max_hu(volume.hu, block)
    dense = _hysteresis_voxels(
        volume.hu, block_max, block, levels.dense_seed_hu, levels.dense_grow_hu, reach_voxels
    )
    cores = (("metal", _metal_core_hu(block_max, settings)), ("cement_dense", settings.cement_min_hu))
    split_min = max(min_voxels, math.ceil(settings.split_min_mm3 / volume.voxel_volume_mm3))
    # a saturated core's blurred rim: three blur sigmas, at least one voxel
    metal_rim = tuple(max(1, math.ceil(3.0 * settings.scanner_blur_sigma_mm / s - 1e-6)) for s in volume.spacing_mm)
    pieces = [
        piece
        for flat in _components(dense, volume.hu, levels.dense_seed_hu, min_voxels)
        for piece in _split_at_cores(flat, volume.hu, cores, levels.dense_seed_hu, metal_rim, min_voxels, split_min)
    ]
    if levels.faint_seed_hu is not None:
        faint = _hysteresis_voxels(
            volume.hu,
            block_max,
            block,
            levels.faint_seed_hu,
            levels.faint_grow_hu,
            reach_voxels,
            exclude=dense,
        )
        pieces += [
            (flat, "faint") for flat in _components(faint, volume.hu, levels.faint_seed_hu, min_voxels)
        ]
    candidates = []
    for flat, core in pieces:
        candidate = candidate_from_voxels(len(candidates) + 1, flat, volume)
        candidate.evidence["pass"] = "faint" if core == "faint" else "dense"
        candidate.evidence["core"] = "none" if core == "faint" else core
        candidates.append(candidate)
    record_touching(candidates, volume.shape)
    log.info("%d candidates (pv factor %.2f)", len(candidates), levels.partial_volume_factor)
    return candidates


def _block_max_hu(hu: np.ndarray, block) -> np.ndarray:
    """Highest HU of each block of ``block`` voxels (z, y, x) of ``hu``; edge blocks may be smaller."""
    counts = tuple(-(-n // b) for n, b in zip(hu.shape, block, strict=True))
    out = np.empty(counts, dtype=hu.dtype)  # empty when the scan is
    y_starts, x_starts = np.arange(0, hu.shape[1], block[1]), np.arange(0, hu.shape[2], block[2])
    for i in range(counts[0]):
        plane = hu[i * block[0] : (i + 1) * block[0]].max(axis=0)
        out[i] = np.maximum.reduceat(np.maximum.reduceat(plane, y_starts, axis=0), x_starts, axis=1)
    return out


def _level(level: float, dtype) -> float | int:
    """``level`` for comparisons with ``dtype`` values: integer HU >= level iff >= its ceiling."""
    if not np.issubdtype(dtype, np.integer):
        return level
    info = np.iinfo(dtype)
    return int(min(max(math.ceil(level), info.min), info.max))


def _hysteresis_voxels(hu, block_max, block, seed_hu, grow_hu, reach_voxels, exclude=None) -> np.ndarray:
    """Sorted flat indices of the voxels >= grow_hu within a box of ``reach_voxels`` of a voxel
    >= seed_hu, seeds and voxels both outside ``exclude`` (sorted flat indices).

    Only blocks (``block_max``: each block's highest HU) holding a grow voxel within one block
    of a block holding a seed can hold any; each is computed from its own crop plus a margin of
    the reach (blocks are at least the reach), and within it only near its seeds.
    """
    seed_level, grow_level = _level(seed_hu, hu.dtype), _level(grow_hu, hu.dtype)
    near_seed = ndi.maximum_filter(block_max >= seed_level, size=3, mode="constant")
    active = near_seed & (block_max >= grow_level)
    shape, reach = np.asarray(hu.shape), np.asarray(reach_voxels)
    pieces = []
    for z_block in np.flatnonzero(active.any(axis=(1, 2))):
        z_lo = max(z_block * block[0] - reach[0], 0)
        z_hi = min((z_block + 1) * block[0] + reach[0], hu.shape[0])
        excluded = None if exclude is None else _slab_mask(exclude, z_lo, z_hi, hu.shape)
        for y_block, x_block in np.argwhere(active[z_block]):
            lo = np.array([z_block, y_block, x_block]) * block
            hi = np.minimum(lo + block, shape)
            piece = _hysteresis_in_box(hu, lo, hi, z_lo, excluded, seed_level, grow_level, reach)
            if piece.size:
                pieces.append(piece)
    return np.sort(np.concatenate(pieces)) if pieces else np.zeros(0, dtype=np.int64)


def _slab_mask(flat: np.ndarray, z_lo: int, z_hi: int, shape) -> np.ndarray:
    """Boolean mask of slices ``z_lo:z_hi`` set at the sorted flat indices ``flat``."""
    plane = shape[1] * shape[2]
    first, last = np.searchsorted(flat, [z_lo * plane, z_hi * plane])
    mask = np.zeros((z_hi - z_lo, shape[1], shape[2]), dtype=bool)
    mask.reshape(-1)[flat[first:last] - z_lo * plane] = True
    return mask


def _hysteresis_in_box(hu, lo, hi, z_lo, excluded, seed_level, grow_level, reach) -> np.ndarray:
    """Flat indices of the hysteresis voxels inside the box ``lo:hi`` (see `_hysteresis_voxels`).

    ``excluded``: None or the excluded voxels of the slices from ``z_lo`` on, full planes.
    """
    outer_lo, outer_hi = np.maximum(lo - reach, 0), np.minimum(hi + reach, hu.shape)
    seeds = hu[_box(outer_lo, outer_hi)] >= seed_level
    if excluded is not None:
        seeds &= ~excluded[_box(outer_lo - (z_lo, 0, 0), outer_hi - (z_lo, 0, 0))]
    profiles = [seeds.any(axis=other) for other in ((1, 2), (0, 2), (0, 1))]
    if not profiles[0].any():
        return np.zeros(0, dtype=np.int64)
    # only voxels within the reach of the seeds' bounding box can be reached
    seed_lo = outer_lo + [int(np.argmax(p)) for p in profiles]
    seed_hi = outer_lo + [p.size - int(np.argmax(p[::-1])) for p in profiles]
    lo, hi = np.maximum(lo, seed_lo - reach), np.minimum(hi, seed_hi + reach)
    if np.any(lo >= hi):
        return np.zeros(0, dtype=np.int64)
    around_lo, around_hi = np.maximum(lo - reach, outer_lo), np.minimum(hi + reach, outer_hi)
    near = ndi.maximum_filter(
        seeds[_box(around_lo - outer_lo, around_hi - outer_lo)], size=tuple(2 * reach + 1), mode="constant"
    )
    keep = near[_box(lo - around_lo, hi - around_lo)] & (hu[_box(lo, hi)] >= grow_level)
    if excluded is not None:
        keep &= ~excluded[_box(lo - (z_lo, 0, 0), hi - (z_lo, 0, 0))]
    local = np.nonzero(keep)
    return np.ravel_multi_index(
        tuple(axis + offset for axis, offset in zip(local, lo, strict=True)), hu.shape
    )


def _box(lo, hi) -> tuple[slice, slice, slice]:
    """Index of the box from ``lo`` to ``hi`` (end exclusive, z, y, x)."""
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _components(flat, hu, seed_hu, min_voxels) -> list[np.ndarray]:
    """Flat indices of each 26-connected component of the voxels ``flat`` (sorted) that holds a seed.

    In raster order of their first voxels. cc3d labels one slab of slices at a time, cropped
    to the slab's voxels; labels 26-adjacent across slab boundaries are joined with a sparse graph.
    """
    if flat.size == 0:
        return []
    plane = hu.shape[1] * hu.shape[2]
    slab_starts = np.searchsorted(flat, np.arange(0, hu.shape[0] + _LABEL_SLAB, _LABEL_SLAB) * plane)
    provisional = np.empty(flat.size, dtype=np.int64)
    count = 0
    for first, last in zip(slab_starts[:-1], slab_starts[1:], strict=True):
        if first == last:
            continue
        zyx = np.unravel_index(flat[first:last], hu.shape)
        lo = [int(axis.min()) for axis in zyx]
        crop = np.zeros(
            [int(axis.max()) + 1 - start for axis, start in zip(zyx, lo, strict=True)], dtype=bool
        )
        local = tuple(axis - start for axis, start in zip(zyx, lo, strict=True))
        crop[local] = True
        labels, n = cc3d.connected_components(crop, connectivity=26, return_N=True)
        provisional[first:last] = labels[local].astype(np.int64) + (count - 1)
        count += n
    pairs = _slab_links(flat, provisional, hu.shape)
    graph = coo_matrix((np.ones(pairs.shape[1], dtype=np.int8), (pairs[0], pairs[1])), shape=(count, count))
    _, component_of = connected_components(graph, directed=False)
    component = component_of[provisional]
    order = np.argsort(component, kind="stable")
    flat, component = flat[order], component[order]
    starts = np.flatnonzero(np.r_[True, component[1:] != component[:-1]])
    peak_hu = np.maximum.reduceat(hu.reshape(-1)[flat], starts)
    sizes = np.diff(np.r_[starts, flat.size])
    kept = [
        flat[start : start + size]
        for start, size, peak in zip(starts, sizes, peak_hu, strict=True)
        if size >= min_voxels and peak >= seed_hu
    ]
    return sorted(kept, key=lambda voxels: int(voxels[0]))


def _slab_links(flat, provisional, shape) -> np.ndarray:
    """(2, n) provisional labels 26-adjacent across the slab boundaries (a slab's last plane, the next one's first)."""
    ny, nx = shape[1], shape[2]
    plane = ny * nx
    pairs = [np.zeros((2, 0), dtype=np.int64)]
    for z in range(_LABEL_SLAB, shape[0], _LABEL_SLAB):
        upper_first, boundary, lower_last = np.searchsorted(
            flat, [(z - 1) * plane, z * plane, (z + 1) * plane]
        )
        if upper_first == boundary or boundary == lower_last:
            continue
        upper = np.full((ny + 2, nx + 2), -1, dtype=np.int64)  # a one-voxel border: no bounds checks
        y, x = np.divmod(flat[upper_first:boundary] - (z - 1) * plane, nx)
        upper[y + 1, x + 1] = provisional[upper_first:boundary]
        y, x = np.divmod(flat[boundary:lower_last] - z * plane, nx)
        lower = provisional[boundary:lower_last]
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                above = upper[y + 1 + dy, x + 1 + dx]
                hit = above >= 0
                pairs.append(np.stack([above[hit], lower[hit]]))
    return np.unique(np.concatenate(pairs, axis=1), axis=1)


def _metal_core_hu(block_max: np.ndarray, settings: Settings) -> float:
    """Saturated voxels on a 12-bit scale; beyond any PMMA on an extended one (``block_max``: per-block peaks)."""
    extended = block_max.size and float(block_max.max()) > settings.hu_ceiling_12bit + 1
    return settings.metal_min_hu_extended if extended else settings.hu_ceiling_12bit


def _split_at_cores(
    flat, hu, cores, seed_hu, metal_rim_voxels, min_voxels, split_min_voxels
) -> list[tuple[np.ndarray, str]]:
    """Split one dense component into material-homogeneous pieces: ``[(flat indices, core kind)]``.

    Metal touching cement or bone, cement touching cortical bone, a cement cast inside a
    contrast-filled lumen: one hysteresis component, several materials. Voxels within
    ``metal_rim_voxels`` (a box: three blur sigmas, at least one voxel) of a metal core (HU at
    the ceiling) form metal pieces -- implants saturate well beyond their surface, so what lies
    further out is no blur of theirs (the cement of a fill around a screw stays cement, and a
    halo beyond meets the touching-metal rule); of what remains, those within one voxel (the partial-volume rim) of a
    cement-dense core (>= ``cement_min_hu``) form cement-dense pieces -- a cast in a dense
    contrast lumen keeps only a one-voxel sleeve of it; the rest (cortical bone, contrast)
    keeps the pieces that still hold a seed voxel. Pieces of the rest smaller than
    ``split_min_voxels``, or holding no seed voxel between two cores' pieces, stay with the
    cores they touch: the gaps between the partial-volume peaks of one thin cast are no second
    material.
    """
    values = hu.reshape(-1)[flat]
    if values.max() < min(level for _, level in cores):
        return [(flat, "none")]
    zyx = np.column_stack(np.unravel_index(flat, hu.shape))
    lo, hi = zyx.min(axis=0), zyx.max(axis=0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    remaining = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
    remaining[tuple((zyx - lo).T)] = True
    hu_box = hu[box]
    pieces = []
    for kind, level in cores:
        core = remaining & (hu_box >= level)
        if not core.any():
            continue
        reach = metal_rim_voxels if kind == "metal" else (1, 1, 1)
        region = remaining & (dilate_box(core.view(np.uint8), reach) > 0)
        _return_crumbs(region, remaining & ~region, hu_box < seed_hu, split_min_voxels)
        remaining &= ~region
        if not remaining.any() and not pieces:
            return [(flat, kind)]
        pieces += [(piece, kind) for piece in _box_components(region, lo, hu, -np.inf, min_voxels)]
    pieces += [(piece, "none") for piece in _box_components(remaining, lo, hu, seed_hu, min_voxels)]
    return pieces


def _return_crumbs(region: np.ndarray, rest: np.ndarray, unseeded: np.ndarray, split_min_voxels: int) -> None:
    """Add to ``region`` the 26-connected pieces of ``rest`` smaller than ``split_min_voxels``, and
    those holding no seed voxel (``unseeded``: box mask of the voxels below the seed level) that
    touch two of its pieces."""
    labels, count = cc3d.connected_components(rest, connectivity=26, return_N=True)
    if count == 0:
        return
    sizes = np.bincount(labels.reshape(-1), minlength=count + 1)
    crumbs = sizes < split_min_voxels
    parts = cc3d.connected_components(region, connectivity=26, out_dtype=np.uint32)
    both = labels.astype(np.uint32)
    both[parts > 0] = parts[parts > 0] + count  # the rest's pieces, then the region's
    beside = np.zeros(count + 1, dtype=np.intp)  # region pieces each rest piece touches
    for a, b in cc3d.contacts(both, connectivity=26, surface_area=False):
        if min(a, b) <= count < max(a, b):
            beside[min(a, b)] += 1
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[labels[rest & ~unseeded]] = True
    crumbs |= ~seeded & (beside >= 2)
    crumbs[0] = False
    region |= crumbs[labels]


def _box_components(mask: np.ndarray, lo: np.ndarray, hu: np.ndarray, seed_hu: float, min_voxels: int):
    """Flat indices (full array) of the 26-connected components of a cropped ``mask`` at offset ``lo``."""
    labels, count = cc3d.connected_components(mask, connectivity=26, return_N=True)
    if count == 0:
        return []
    local = np.flatnonzero(labels)
    label_of = labels.reshape(-1)[local]
    order = np.argsort(label_of, kind="stable")
    local, label_of = local[order], label_of[order]
    zyx = np.column_stack(np.unravel_index(local, mask.shape)) + lo
    flat = np.ravel_multi_index(tuple(zyx.T), hu.shape)
    starts = np.searchsorted(label_of, np.arange(1, count + 2))
    out = []
    for k in range(count):
        piece = flat[starts[k] : starts[k + 1]]
        if piece.size >= min_voxels and hu.reshape(-1)[piece].max() >= seed_hu:
            out.append(np.sort(piece))
    return out


def dense_cores(flat_index: np.ndarray, hu: np.ndarray, core_hu: float) -> tuple[list[np.ndarray], float]:
    """The parts of some voxels around their voxels at least ``core_hu`` dense, and the HU of the rest.

    ``flat_index``: sorted flat indices into ``hu``. The rest's plateau is the median HU of the voxels
    below ``core_hu``. A part is a 26-connected run of voxels more than half-way from the plateau to
    ``core_hu`` holding a core: the core and its partial-volume halo, down to where it meets the
    plateau it sits on (the dips between the partial-volume peaks of one thin cast stay above that).
    Returns the parts (sorted flat indices, raster order of their first voxels; none when no voxel
    reaches ``core_hu``) and the plateau (HU; NaN when every voxel is a core).
    """
    values = hu.reshape(-1)[flat_index]
    level = _level(core_hu, hu.dtype)
    below = values[values < level]
    plateau = float(np.median(below)) if below.size else math.nan
    if below.size == values.size:
        return [], plateau
    if not below.size:
        return [np.asarray(flat_index)], plateau
    zyx = np.column_stack(np.unravel_index(flat_index, hu.shape))
    lo = zyx.min(axis=0)
    shape = tuple(int(v) for v in zyx.max(axis=0) - lo + 1)
    halo, core = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    halo[tuple((zyx[values >= (plateau + core_hu) / 2.0] - lo).T)] = True
    core[tuple((zyx[values >= level] - lo).T)] = True
    labels = cc3d.connected_components(halo, connectivity=26)
    holding_core = np.isin(labels, np.unique(labels[core]))
    return _box_components(holding_core & halo, lo, hu, -np.inf, 1), plateau


def dilate_box(mask: np.ndarray, radius_voxels) -> np.ndarray:
    """Dilation of a uint8/bool ``mask`` by a box of half-widths ``radius_voxels`` (z, y, x); a new array."""
    return ndi.maximum_filter(mask, size=tuple(2 * int(r) + 1 for r in radius_voxels), mode="constant")


def candidate_from_voxels(candidate_id: int, flat_index: np.ndarray, volume: CTVolume) -> Candidate:
    """A `Candidate` with every statistic computed from its voxels (flat indices into ``volume.hu``).

    Public so that later stages can describe the parts of a split candidate the same way.
    """
    flat_index = np.sort(np.asarray(flat_index, dtype=np.int64))
    zyx = np.column_stack(np.unravel_index(flat_index, volume.shape))
    lps = volume.index_to_lps(zyx)
    values = volume.hu.reshape(-1)[flat_index].astype(np.float64)
    p05, p50, p95 = np.percentile(values, [5, 50, 95])
    centroid = lps.mean(axis=0)
    axis, length_mm, tubularity = principal_axis(lps - centroid, volume)
    return Candidate(
        id=candidate_id,
        flat_index=flat_index,
        voxel_count=int(flat_index.size),
        volume_ml=float(flat_index.size * volume.voxel_volume_mm3 / 1000.0),
        hu_max=float(values.max()),
        hu_mean=float(values.mean()),
        hu_p05=float(p05),
        hu_p50=float(p50),
        hu_p95=float(p95),
        centroid_lps_mm=tuple(float(c) for c in centroid),
        bbox_lps_mm=(tuple(float(v) for v in lps.min(axis=0)), tuple(float(v) for v in lps.max(axis=0))),
        bbox_zyx=tuple(int(v) for v in zyx.min(axis=0)) + tuple(int(v) + 1 for v in zyx.max(axis=0)),
        length_mm=length_mm,
        tubularity=tubularity,
        principal_axis_lps=tuple(float(a) for a in axis),
    )


#: the `Candidate` fields `candidate_from_voxels` computes from the voxels
_STATISTICS = (
    "flat_index", "voxel_count", "volume_ml", "hu_max", "hu_mean", "hu_p05", "hu_p50", "hu_p95",
    "centroid_lps_mm", "bbox_lps_mm", "bbox_zyx", "length_mm", "tubularity", "principal_axis_lps",
)


def set_voxels(candidate: Candidate, flat_index: np.ndarray, volume: CTVolume) -> None:
    """Give ``candidate`` the voxels ``flat_index`` and every statistic computed from them; its id,
    material, reason and evidence stay."""
    rebuilt = candidate_from_voxels(candidate.id, flat_index, volume)
    for name in _STATISTICS:
        setattr(candidate, name, getattr(rebuilt, name))


def principal_axis(centred_lps: np.ndarray, volume: CTVolume) -> tuple[np.ndarray, float, float]:
    """Unit principal axis (LPS), length along it (mm) and tubularity of voxels at ``centred_lps``
    (LPS mm, centroid removed), each voxel taken as the solid box it covers.

    The moments add each voxel's own spread (spacing^2 / 12 per axis), so a part of a few voxels
    has a finite width and one voxel lies along its coarsest axis; the length is the span of the
    voxel centres along the axis plus one voxel step along it (the spacing on isotropic grids). Tubularity is
    1 - sqrt(second / largest eigenvalue): 0 for a ball, towards 1 for a thin line.
    """
    steps = volume.direction * np.asarray(volume.spacing_mm[::-1])[np.newaxis, :]  # voxel steps x, y, z (LPS)
    voxel_lps = volume.voxel_extent_lps_mm
    covariance = np.cov(centred_lps.T, bias=True) if len(centred_lps) > 1 else np.zeros((3, 3))
    eigenvalues, vectors = np.linalg.eigh(covariance + np.diag(voxel_lps**2 / 12.0))
    axis = vectors[:, -1] * (1.0 if vectors[np.argmax(np.abs(vectors[:, -1])), -1] >= 0 else -1.0)
    projection = centred_lps @ axis
    length = float(np.ptp(projection) + np.linalg.norm(axis @ steps))
    tubularity = float(1.0 - math.sqrt(max(eigenvalues[1], 0.0) / eigenvalues[2]))
    return axis, length, tubularity


def record_touching(candidates: list[Candidate], shape, targets: list[Candidate] | None = None) -> None:
    """``evidence["touches"]``: ids of the candidates 26-adjacent to each of ``targets`` (default: all)."""
    if not candidates:
        return
    all_flat = np.concatenate([c.flat_index for c in candidates])
    all_ids = np.concatenate([np.full(c.voxel_count, c.id) for c in candidates])
    order = np.argsort(all_flat)
    all_flat, all_ids = all_flat[order], all_ids[order]
    for candidate in candidates if targets is None else targets:
        lo = np.maximum(np.asarray(candidate.bbox_zyx[:3]) - 1, 0)
        hi = np.minimum(np.asarray(candidate.bbox_zyx[3:]) + 1, shape)
        inside = box_mask(candidate, lo, hi, shape, np.uint8)
        ring = np.argwhere((dilate_box(inside, (1, 1, 1)) > 0) & (inside == 0))
        flat = np.ravel_multi_index(tuple((ring + lo).T), shape)
        position = np.minimum(np.searchsorted(all_flat, flat), len(all_flat) - 1)
        hit = all_flat[position] == flat
        candidate.evidence["touches"] = sorted(set(all_ids[position[hit]].tolist()))


def box_mask(candidate: Candidate, lo, hi, shape, dtype=bool) -> np.ndarray:
    """Mask of ``candidate``'s voxels (volume of ``shape``) in the box ``lo``..``hi`` (z, y, x
    indices, end exclusive; it may reach beyond the volume); voxels outside the box are left out."""
    mask = np.zeros(tuple(int(v) for v in np.asarray(hi) - np.asarray(lo)), dtype=dtype)
    zyx = candidate.zyx(shape) - np.asarray(lo)
    zyx = zyx[np.all((zyx >= 0) & (zyx < mask.shape), axis=1)]
    mask[tuple(zyx.T)] = 1
    return mask
