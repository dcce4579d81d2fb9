"""Body outline (without the table) and lungs, on the working grid."""

from __future__ import annotations

import cc3d
import numpy as np

from .grid import WorkingGrid
from .morphology import bounding_box, box, close, open_

SLAB_SLICES = 16  # slices labelled or counted at a time (bounds the temporaries)


def label_per_slice(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The 4-connected components within each axial slice of ``mask`` and their number: the labels
    and numbering of ``ndimage.label`` with an in-plane cross, found as one 2D image of the slices
    stacked, each followed by a separator row."""
    nz, ny, nx = mask.shape
    stacked = np.zeros((nz, ny + 1, nx), dtype=bool)
    stacked[:, :ny] = mask
    labels, n = cc3d.connected_components(stacked.reshape(nz * (ny + 1), nx), connectivity=4, return_N=True)
    return labels.reshape(nz, ny + 1, nx)[:, :ny], n


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Holes filled in every axial slice: background not connected in-plane to the slice border.

    SLAB_SLICES slices at a time, within their part of the mask's bounding box grown by one
    voxel in-plane (its rim is background or the slice border, so what touches the rim is what
    reaches the slice border), are labelled at once (`label_per_slice`).
    """
    out = np.zeros_like(mask)
    for z0 in range(0, len(mask), SLAB_SLICES):
        slab = bounding_box(mask[z0 : z0 + SLAB_SLICES], (0, 1, 1))
        if slab is not None:
            slab = (slice(z0 + slab[0].start, z0 + slab[0].stop), *slab[1:])
            out[slab] = _fill_stacked(mask[slab])
    return out


def _fill_stacked(part: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes`` of every slice of ``part``, its background labelled slice by
    slice at once."""
    labels, n = label_per_slice(~part)
    hole = np.ones(n + 1, dtype=bool)
    for rim in (labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]):
        hole[rim] = False
    hole[0] = True  # the mask itself
    return hole[labels]


def largest_component(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """The largest 3D connected component of ``mask`` (empty stays empty), found within its bounding box."""
    out = np.zeros_like(mask)
    crop = bounding_box(mask)
    if crop is not None:
        out[crop] = cc3d.largest_k(mask[crop], k=1, connectivity=connectivity) > 0
    return out


def body_mask(grid: WorkingGrid, body_hu: float, table_mm: float) -> np.ndarray:
    """The patient's body: HU > ``body_hu``, thin plates (the table) opened away, largest component, holes filled.

    The table is removed by an in-plane opening with a ``table_mm`` square: the
    table and mattress are thinner than that, the trunk is not.
    """
    dense = grid.hu > body_hu
    opened = open_(dense, box(grid.spacing_mm, (0.0, table_mm / 2.0, table_mm / 2.0)))
    return fill_holes_per_slice(largest_component(opened))


def lung_mask(
    grid: WorkingGrid,
    body: np.ndarray,
    lung_hu: float,
    min_lung_ml: float,
    min_cut_lung_ml: float,
    spine_x_index: float | None,
) -> np.ndarray:
    """Aerated lung inside the body (parenchyma, vessels closed in), without trachea and main bronchi.

    Bowel gas is told from lung by its texture: lung parenchyma sits around -850 HU with
    vessels in it, bowel gas is near -1000 HU; a component is lung when most of it lies in
    -950..-500 HU and it holds at least ``min_lung_ml``, or ``min_cut_lung_ml`` (mL) when the
    first or last slice cuts it (the lung bases atop an abdominal CT: what the view shows of
    them says nothing of their size, while gas mixed with stool makes only small pockets).
    """
    lungs = np.zeros_like(body)
    crop = bounding_box(body)  # the air components lie inside the body
    if crop is None:
        return lungs
    hu = grid.hu[crop]
    air = hu < lung_hu
    air &= body[crop]
    labels = cc3d.connected_components(air, connectivity=6)
    del air
    counts = np.zeros(int(labels.max()) + 1, dtype=np.intp)
    parenchyma = np.zeros_like(counts)
    for z0 in range(0, len(labels), SLAB_SLICES):  # a slab at a time: no whole-box (int64) temporaries
        slab = slice(z0, z0 + SLAB_SLICES)
        counts += np.bincount(labels[slab].ravel(), minlength=len(counts))
        parenchyma += np.bincount(labels[slab][(hu[slab] > -950) & (hu[slab] < -500)], minlength=len(counts))
    cut = np.zeros(len(counts), dtype=bool)
    for at_view_end, end in ((crop[0].start == 0, 0), (crop[0].stop == grid.shape[0], -1)):
        if at_view_end:
            cut[labels[end]] = True
    min_ml = np.where(cut, min_cut_lung_ml, min_lung_ml)
    keep = (counts * grid.voxel_ml >= min_ml) & (parenchyma >= 0.5 * counts)
    keep[0] = False
    lungs[crop] = keep[labels]
    del labels
    if not lungs.any():
        return lungs
    if spine_x_index is not None:
        lungs = _drop_airways(lungs, grid, spine_x_index)
    lungs = close(lungs, box(grid.spacing_mm, (0.0, 4.0, 4.0))) & body
    return fill_holes_per_slice(lungs)


def _drop_airways(lungs: np.ndarray, grid: WorkingGrid, spine_x_index: float) -> np.ndarray:
    """Remove small midline air regions (trachea, main bronchi) slice by slice.

    One in-plane labelling of the lungs' bounding box and one bincount give every region's
    area and x centre at once.
    """
    crop = bounding_box(lungs)
    if crop is None:
        return lungs.copy()
    labels, n = label_per_slice(lungs[crop])
    flat = labels.ravel()
    at = np.nonzero(flat)[0]
    counts = np.bincount(flat[at], minlength=n + 1)
    x_sum = np.bincount(flat[at], weights=at % labels.shape[2], minlength=n + 1) + counts * crop[2].start
    area_mm2 = counts * float(grid.spacing_mm[1] * grid.spacing_mm[2])
    centre_x = x_sum / np.maximum(counts, 1)
    airway = (area_mm2 < 600.0) & (np.abs(centre_x - spine_x_index) * grid.spacing_mm[2] < 25.0)
    airway[0] = False
    out = lungs.copy()
    out[crop] &= ~airway[labels]
    return out
