"""The lung mask: aerated parenchyma told from bowel gas by texture and size, and lung bases
cut by the end of the field of view (atop an abdominal CT) kept for what they are."""

from __future__ import annotations

import numpy as np
import pytest

from cementseg.anatomy.body import lung_mask
from cementseg.anatomy.grid import WorkingGrid
from cementseg.settings import Settings

SPACING_MM = (2.0, 2.0, 2.0)


def _grid_with(pockets) -> tuple[WorkingGrid, np.ndarray]:
    """A 40-slice soft-tissue trunk holding ``pockets``: (z slice, HU, depth in slices)."""
    rng = np.random.default_rng(0)
    hu = np.full((40, 60, 80), 40.0, np.float32)
    hu[:, :5], hu[:, -5:], hu[:, :, :5], hu[:, :, -5:] = -1000.0, -1000.0, -1000.0, -1000.0
    for z0, level_hu, depth, x0 in pockets:
        noise = rng.normal(0.0, 60.0, (depth, 30, 25))
        hu[z0 : z0 + depth, 15:45, x0 : x0 + 25] = level_hu + noise
    body = hu > -500.0
    body[:, 5:-5, 5:-5] = True
    return WorkingGrid(hu=hu, spacing_mm=SPACING_MM, origin_lps_mm=(0.0, 0.0, 0.0)), body


def _lungs(grid, body):
    s = Settings()
    return lung_mask(grid, body, s.anatomy_lung_hu, s.anatomy_min_lung_ml, s.anatomy_min_cut_lung_ml, None)


@pytest.mark.parametrize("top", [True, False])
def test_a_lung_base_cut_by_the_end_of_the_view_is_lung(top):
    """Parenchyma (about -800 HU) 6 slices deep, 36 mL: too small for a whole lung, but the first
    or last slice cuts it, so its size in view says nothing."""
    z0 = 34 if top else 0
    grid, body = _grid_with([(z0, -800.0, 6, 10)])
    lungs = _lungs(grid, body)
    assert 0.8 * 36.0 < lungs.sum() * grid.voxel_ml < 1.2 * 36.0


def test_the_same_pocket_inside_the_view_is_no_lung():
    grid, body = _grid_with([(17, -800.0, 6, 10)])
    assert not _lungs(grid, body).any()


def test_gas_cut_by_the_end_of_the_view_is_no_lung():
    """Bowel gas (about -1000 HU) at the end of the view keeps failing the texture test."""
    grid, body = _grid_with([(34, -1000.0, 6, 10)])
    assert not _lungs(grid, body).any()


def test_a_small_parenchyma_like_pocket_at_the_end_of_the_view_is_no_lung():
    """Gas mixed with stool reads like parenchyma but makes only small pockets (below
    `anatomy_min_cut_lung_ml`)."""
    grid, body = _grid_with([(39, -800.0, 1, 10)])
    assert (30 * 25) * grid.voxel_ml < Settings().anatomy_min_cut_lung_ml
    assert not _lungs(grid, body).any()
