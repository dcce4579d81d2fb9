"""Stored values -> HU: per-slice rescale, padding, high bits, extended HU, clipping."""

import numpy as np
from dicom_factory import hu_phantom, write_series

from cementseg.io import load


def test_rescale_applied_per_slice_even_when_slices_differ(tmp_path):
    hu = hu_phantom((4, 10, 12), seed=1) // 2 * 2  # even values: representable with slope 2
    slopes = [1.0, 2.0, 1.0, 2.0]
    intercepts = [-1024.0, -2048.0, -1000.0, -1500.0]
    write_series(tmp_path, hu, slopes=slopes, intercepts=intercepts)
    np.testing.assert_array_equal(load(tmp_path).hu, hu)


def test_fractional_slope_is_rounded_to_the_nearest_hu(tmp_path):
    hu = np.full((2, 4, 4), 100)
    hu[1] = 301  # stored (301 + 1024) / 0.5 = 2650
    write_series(tmp_path, hu, slopes=[0.5, 0.5], intercepts=[-1024.0, -1024.0])
    np.testing.assert_array_equal(load(tmp_path).hu, hu)


def test_signed_storage_with_zero_intercept(tmp_path):
    hu = hu_phantom((3, 8, 8), seed=2, low=-3024, high=3071)
    write_series(tmp_path, hu, signed=True, intercepts=[0.0] * 3)
    np.testing.assert_array_equal(load(tmp_path).hu, hu)


def test_pixel_padding_becomes_air(tmp_path):
    hu = hu_phantom((3, 8, 8), seed=3, low=-1000, high=2000)
    padding = np.zeros(hu.shape, bool)
    padding[:, :2, :] = True  # outside the reconstruction circle
    write_series(tmp_path, hu, signed=True, intercepts=[-1024.0] * 3, padding_value=-2000, padding_mask=padding)
    volume = load(tmp_path)
    expected = np.where(padding, -1024, hu)
    np.testing.assert_array_equal(volume.hu, expected)
    assert any(f"{padding.sum()} padding voxels set to air" in w for w in volume.warnings)


def test_unused_high_bits_are_masked(tmp_path):
    hu = hu_phantom((2, 8, 8), seed=4, low=-1024, high=3071)  # 12-bit stored values 0..4095
    write_series(tmp_path, hu, bits_stored=12)  # the factory sets junk in bits 12 and 13
    np.testing.assert_array_equal(load(tmp_path).hu, hu)


def test_extended_hu_scale_survives(tmp_path):
    hu = hu_phantom((2, 8, 8), seed=5, low=-1024, high=30000)
    hu[0, 0, 0] = 30000  # metal on an extended scale, far above 3071
    write_series(tmp_path, hu, intercepts=[-8192.0, -8192.0])
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    assert volume.hu.max() == 30000
    assert volume.warnings == []


def test_values_beyond_int16_are_clipped_with_a_warning(tmp_path):
    hu = np.full((2, 4, 4), 500)
    hu[1, 0, :3] = [40000, 64000, 32767]  # stored 41024, 65024, 33791 (uint16)
    write_series(tmp_path, hu, intercepts=[-1024.0, -1024.0])
    volume = load(tmp_path)
    expected = np.clip(hu, -32768, 32767)
    np.testing.assert_array_equal(volume.hu, expected)
    assert any("2 voxels outside int16 clipped" in w for w in volume.warnings)
