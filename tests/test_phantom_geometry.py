"""Sub-voxel rendering of the phantom's solids: exact volumes, boxes and centre lines."""

import numpy as np
import pytest

from cementseg.phantom.geometry import Capsule, Ellipsoid, Grid, Union, fraction, paint
from cementseg.phantom.render import mark_centreline


def _grid(spacing=(1.0, 1.0, 1.0), n=40):
    origin = tuple(-(n - 1) / 2 * s for s in spacing[::-1])
    return Grid((n, n, n), spacing, origin)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 0.8, 0.8), (3.0, 3.0, 3.0)])
def test_ellipsoid_fraction_sums_to_its_volume(spacing):
    solid = Ellipsoid((1.3, -2.1, 0.7), (9.0, 6.0, 4.5))
    box, f = fraction(_grid(spacing, int(48 / min(spacing))), solid, samples=4)
    measured = f.sum() * np.prod(spacing)
    assert measured == pytest.approx(4 / 3 * np.pi * 9 * 6 * 4.5, rel=0.02)


def test_oblique_capsule_fraction_matches_cylinder_plus_caps():
    p0, p1, r = np.array([-8.0, -5.0, -6.0]), np.array([9.0, 6.0, 7.0]), 1.5
    box, f = fraction(_grid((0.5, 0.5, 0.5), 80), Capsule(p0, p1, r), samples=4)
    length = np.linalg.norm(p1 - p0)
    assert f.sum() * 0.125 == pytest.approx(np.pi * r**2 * length + 4 / 3 * np.pi * r**3, rel=0.02)


def test_union_evaluates_each_part_in_its_own_box():
    a, b = Ellipsoid((-10, 0, 0), (3, 3, 3)), Ellipsoid((10, 0, 0), (3, 3, 3))
    labels = np.zeros((40, 40, 40), np.uint8)
    grid = _grid()
    paint(labels, grid, Union([a, b]), 5)
    single = np.zeros_like(labels)
    paint(single, grid, a, 5)
    paint(single, grid, b, 5)
    assert np.array_equal(labels, single)
    assert labels.sum() > 0
    # the left-most painted voxel lies at x = -13 mm (index 6.5 + ... on a centred 40-voxel grid)
    xs = np.nonzero(labels)[2]
    assert grid.axis_mm(2)[xs.min()] == pytest.approx(-12.5, abs=0.51)


def test_box_slices_cover_exactly_the_touched_voxels():
    grid = Grid((10, 10, 10), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    slices = grid.box_slices(np.array([2.4, 0.6, 2.8]), np.array([4.4, 2.4, 5.2]))
    # x voxels 2..4 (centre 2 spans 1.5-2.5), y 1..2, z 1..3 (2 mm slices: slice 1 spans 1-3 mm, slice 3 spans 5-7 mm)
    assert slices == (slice(1, 4), slice(1, 3), slice(2, 5))
    assert grid.box_slices(np.array([50.0, 0, 0]), np.array([60.0, 1, 1])) is None


def test_centre_line_marks_every_voxel_along_a_diagonal():
    grid = Grid((10, 10, 10), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    volume = np.zeros(grid.shape)
    mark_centreline(volume, grid, np.array([[0.0, 0.0, 0.0], [9.0, 9.0, 9.0]]), 1.0)
    assert np.array_equal(np.nonzero(volume)[0], np.arange(10))
    assert np.all(volume[np.arange(10), np.arange(10), np.arange(10)] == 1)
