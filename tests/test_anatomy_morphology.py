"""The fast anatomy primitives give exactly what the SciPy / scikit-image operations they replace give."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import convex_hull_image

from cementseg.anatomy.body import fill_holes_per_slice, label_per_slice
from cementseg.anatomy.morphology import convex_hull, erode, over_3x3, pixel_grid

IN_PLANE_CROSS = np.zeros((3, 3, 3), dtype=bool)
IN_PLANE_CROSS[1] = ndimage.generate_binary_structure(2, 1)


def _blobs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random specks and smoothed blobs filling a random box of an empty volume."""
    mask = np.zeros(shape, dtype=bool)
    lo = [int(rng.integers(0, n)) for n in shape]
    box = tuple(slice(a, int(rng.integers(a, n)) + 1) for a, n in zip(lo, shape, strict=True))
    noise = rng.random(mask[box].shape)
    mask[box] = ndimage.uniform_filter(noise, 3) > 0.5 if rng.random() < 0.5 else noise > 0.7
    return mask


@pytest.mark.parametrize("seed", range(5))
def test_per_slice_labels_and_holes_match_ndimage(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        mask = _blobs(rng, tuple(int(n) for n in rng.integers(1, 40, 3)))
        labels, n = label_per_slice(mask)
        expected, expected_n = ndimage.label(mask, structure=IN_PLANE_CROSS)
        assert n == expected_n and np.array_equal(labels, expected)  # same numbering too
        filled = np.stack([ndimage.binary_fill_holes(s) for s in mask])
        assert np.array_equal(fill_holes_per_slice(mask), filled)


@pytest.mark.parametrize("seed", range(5))
def test_box_erosion_matches_minimum_filter(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        mask = _blobs(rng, tuple(int(n) for n in rng.integers(1, 30, 3)))
        size = tuple(int(2 * rng.integers(0, 4) + 1) for _ in range(3))
        expected = ndimage.minimum_filter(mask.view(np.uint8), size=size, mode="nearest").view(bool)
        assert np.array_equal(erode(mask, size), expected)


@pytest.mark.parametrize("seed", range(5))
def test_convex_hull_matches_scikit_image(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        mask = _blobs(rng, tuple(int(n) for n in rng.integers(2, 50, 2)))
        if mask.any():
            assert np.array_equal(convex_hull(mask), convex_hull_image(mask))


@pytest.mark.parametrize("seed", range(5))
def test_3x3_neighbourhoods_match_ndimage(seed):
    rng = np.random.default_rng(seed)
    square = np.ones((3, 3), dtype=bool)
    for _ in range(60):
        values = rng.random(tuple(int(n) for n in rng.integers(1, 30, 2)))
        mask = values > rng.random()
        assert np.array_equal(over_3x3(values, np.maximum), ndimage.maximum_filter(values, size=3))
        closed = over_3x3(over_3x3(mask, np.logical_or), np.logical_and, edge=False)
        assert np.array_equal(closed, ndimage.binary_closing(mask, square))


def test_pixel_grid_is_ogrid():
    for box in [(slice(3, 9), slice(0, 4)), (slice(None, 5), slice(2, 2)), (slice(7, 3), slice(1, 6))]:
        rows, columns = pixel_grid(box)
        expected_rows, expected_columns = np.ogrid[box]
        assert np.array_equal(rows, expected_rows) and np.array_equal(columns, expected_columns)
        assert rows.shape == expected_rows.shape and columns.shape == expected_columns.shape
