"""Body outline (without the table) and lungs, on the working grid."""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage

from .grid import WorkingGrid
from .morphology import box, close, open_


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Holes filled in every axial slice: background not connected in-plane to the slice border."""
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    labels, _ = ndimage.label(~mask, structure=in_plane)
    border = np.unique(
        np.concatenate(
            [
                labels[:, 0, :].ravel(),
                labels[:, -1, :].ravel(),
                labels[:, :, 0].ravel(),
                labels[:, :, -1].ravel(),
            ]
        )
    )
    return ~np.isin(labels, border[border > 0])


def largest_component(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """The largest 3D connected component of ``mask`` (empty stays empty)."""
    if not mask.any():
        return mask.copy()
    labels = cc3d.largest_k(mask, k=1, connectivity=connectivity)
    return labels > 0


def body_mask(grid: WorkingGrid, body_hu: float, table_mm: float) -> np.ndarray:
    """The patient's body: HU > ``body_hu``, thin plates (the table) opened away, largest component, holes filled.

    The table is removed by an in-plane opening with a ``table_mm`` square: the
    table and mattress are thinner than that, the trunk is not.
    """
    dense = grid.hu > body_hu
    opened = open_(dense, box(grid.spacing_mm, (0.0, table_mm / 2.0, table_mm / 2.0)))
    return fill_holes_per_slice(largest_component(opened))


def lung_mask(
    grid: WorkingGrid, body: np.ndarray, lung_hu: float, min_lung_ml: float, spine_x_index: float | None
) -> np.ndarray:
    """Aerated lung inside the body (parenchyma, vessels closed in), without trachea and main bronchi.

    Bowel gas is told from lung by its texture: lung parenchyma sits around -850 HU with
    vessels in it, bowel gas is near -1000 HU; a component is lung when most of it lies in
    -950..-500 HU, and it is above every large gas-only pocket.
    """
    air = (grid.hu < lung_hu) & body
    labels, n = ndimage.label(air)
    if n == 0:
        return np.zeros_like(body)
    voxel_ml = grid.voxel_ml
    index = np.arange(1, n + 1)
    counts = ndimage.sum_labels(np.ones_like(labels), labels, index)
    parenchyma = ndimage.sum_labels((grid.hu > -950) & (grid.hu < -500), labels, index)
    keep = index[(counts * voxel_ml >= min_lung_ml) & (parenchyma >= 0.5 * counts)]
    lungs = np.isin(labels, keep)
    if not lungs.any():
        return lungs
    if spine_x_index is not None:
        lungs = _drop_airways(lungs, grid, spine_x_index)
    lungs = close(lungs, box(grid.spacing_mm, (0.0, 4.0, 4.0))) & body
    return fill_holes_per_slice(lungs)


def _drop_airways(lungs: np.ndarray, grid: WorkingGrid, spine_x_index: float) -> np.ndarray:
    """Remove small midline air regions (trachea, main bronchi) slice by slice.

    One in-plane labelling of the whole volume and one bincount give every region's area and
    x centre at once.
    """
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    labels, n = ndimage.label(lungs, structure=in_plane)
    if n == 0:
        return lungs.copy()
    flat = labels.ravel()
    at = np.nonzero(flat)[0]
    counts = np.bincount(flat[at], minlength=n + 1)
    x_sum = np.bincount(flat[at], weights=at % labels.shape[2], minlength=n + 1)
    area_mm2 = counts * float(grid.spacing_mm[1] * grid.spacing_mm[2])
    centre_x = x_sum / np.maximum(counts, 1)
    airway = (area_mm2 < 600.0) & (np.abs(centre_x - spine_x_index) * grid.spacing_mm[2] < 25.0)
    airway[0] = False
    return lungs & ~airway[labels]
