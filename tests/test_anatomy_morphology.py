"""The fast anatomy primitives give exactly what the SciPy / scikit-image operations they replace give."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import convex_hull_image

from cementseg.anatomy.body import fill_holes_per_slice, label_per_slice
from cementseg.anatomy.morphology import (
    StackedBoxes,
    convex_hull,
    convex_hulls,
    dilate,
    dilate_in_plane,
    erode,
    over_3x3,
)
from cementseg.anatomy.vertebrae import _median_where, _neck_disk, _smoothed
from cementseg.anatomy.vessels import TUBE_RADIUS_MM, _inscribed_mm

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
        expected = ndimage.maximum_filter(mask.view(np.uint8), size=size, mode="nearest").view(bool)
        assert np.array_equal(dilate(mask, size), expected)


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
        stack = rng.random((3, *values.shape)) > 0.5
        assert np.array_equal(over_3x3(stack, np.logical_or), np.stack([over_3x3(m, np.logical_or) for m in stack]))


@pytest.mark.parametrize("seed", range(3))
def test_stack_convex_hulls_match_scikit_image(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        shape = tuple(int(n) for n in rng.integers(2, 40, 2))
        stack = np.stack([_blobs(rng, shape) if rng.random() < 0.8 else np.zeros(shape, bool) for _ in range(6)])
        for mask, hull in zip(stack, convex_hulls(stack), strict=True):
            assert np.array_equal(hull, convex_hull_image(mask) if mask.any() else mask)


@pytest.mark.parametrize("seed", range(3))
def test_in_plane_dilation_matches_ndimage(seed):
    rng = np.random.default_rng(seed)
    cross, square = ndimage.generate_binary_structure(2, 1), np.ones((3, 3), dtype=bool)
    structures = [cross, square, _neck_disk((2.0, 2.0)), _neck_disk((2.0, 3.0)), _neck_disk((5.0, 5.0))]
    for _ in range(30):
        stack = rng.random(tuple(int(n) for n in rng.integers(1, 30, 3))) > rng.uniform(0.6, 0.99)
        for structure in structures:
            assert np.array_equal(dilate_in_plane(stack, structure), ndimage.binary_dilation(stack, structure[None]))


def test_stacked_boxes_gather_and_paste_the_boxes():
    rng = np.random.default_rng(0)
    volume = rng.random((5, 20, 30))
    lo = np.array([[0, 0], [3, 7], [15, 25], [19, 0], [4, 4]])
    hi = np.array([[20, 30], [9, 8], [20, 30], [20, 1], [4, 9]])  # the last box is empty
    boxes = StackedBoxes([0, 1, 2, 4, 4], lo, hi)
    stack = boxes.gather(volume, fill=-1.0)
    assert stack.shape == (5, 20, 30)
    for layer, z, (y0, x0), (y1, x1) in zip(stack, [0, 1, 2, 4, 4], lo, hi, strict=True):
        assert np.array_equal(layer[: y1 - y0, : x1 - x0], volume[z, y0:y1, x0:x1])
        assert (layer[y1 - y0 :] == -1).all() and (layer[:, x1 - x0 :] == -1).all()
    pasted = np.zeros_like(volume)
    boxes.paste(stack, pasted)
    assert np.array_equal(pasted[2, 15:, 25:], volume[2, 15:, 25:]) and not pasted[3].any()


@pytest.mark.parametrize("spacing_yx", [(2.0, 2.0), (2.5, 2.5), (3.0, 3.0), (2.0, 3.0)])
def test_inscribed_radius_is_the_distance_transform_up_to_the_tube_radius(spacing_yx):
    rng = np.random.default_rng(1)
    tissue = ndimage.uniform_filter(rng.random((4, 60, 70)), (1, 9, 9)) > 0.45
    tissue[:, [0, -1]] = tissue[:, :, [0, -1]] = False  # a non-tissue border
    band = (slice(5, 50), slice(3, 66))
    expected = np.stack([ndimage.distance_transform_edt(t, sampling=spacing_yx) for t in tissue])[:, band[0], band[1]]
    got = _inscribed_mm(tissue, spacing_yx, band)
    within = expected <= TUBE_RADIUS_MM[1]
    assert within.mean() > 0.5 and (~within).any()
    assert np.array_equal(got[within], expected[within]) and (got[~within] > TUBE_RADIUS_MM[1]).all()


def test_per_image_median_and_smoothing_match_numpy_and_ndimage():
    rng = np.random.default_rng(2)
    volume = rng.normal(100, 80, (6, 30, 40)).astype(np.float32)
    boxes = StackedBoxes(np.arange(6), [[0, 0], [5, 9], [20, 30], [2, 2], [0, 39], [7, 1]],
                         [[30, 40], [17, 30], [30, 40], [6, 6], [30, 40], [8, 37]])
    values = boxes.gather(volume)
    where = boxes.in_box & (rng.random(values.shape) > 0.4)
    where[3] = False
    medians = _median_where(values, where)
    for median, image, chosen in zip(medians, values, where, strict=True):
        assert median == np.median(image[chosen]) if chosen.any() else np.isnan(median)
    smooth = _smoothed(volume, boxes, (0.75, 1.2))
    for layer, (z, (y0, x0), (h, w)) in enumerate(zip(boxes.z, boxes.lo, boxes.size, strict=True)):
        expected = ndimage.gaussian_filter(volume[z, y0 : y0 + h, x0 : x0 + w], (0.75, 1.2))
        assert np.array_equal(smooth[layer, :h, :w], expected)
