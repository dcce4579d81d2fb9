"""Slice order, spacing and stack problems: exact affines, exact resampled values, typed errors."""

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_factory import hu_phantom, write_series
from pydicom.uid import generate_uid

from cementseg.errors import DuplicateSliceError, GeometryError, MissingSlicesError, MixedGeometryError
from cementseg.io import load
from cementseg.settings import Settings

OBLIQUE = (0.8, 0.0, 0.6, 0.0, 1.0, 0.0)  # normal (-0.6, 0, 0.8)
FEET_FIRST = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)  # normal (0, 0, -1)


@pytest.mark.parametrize("orientation", [OBLIQUE, FEET_FIRST], ids=["oblique", "flipped"])
def test_order_comes_from_positions_not_names_or_instance_numbers(tmp_path, orientation):
    hu = hu_phantom((7, 6, 5), seed=7)
    written = write_series(tmp_path, hu, orientation=orientation, instance_numbers=[3, 7, 1, 2, 6, 5, 4])
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    image = reader.Execute()
    np.testing.assert_allclose(volume.origin_lps_mm, image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(volume.direction.ravel(), image.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(volume.hu, sitk.GetArrayFromImage(image))


def test_spacing_comes_from_positions_not_slice_thickness(tmp_path):
    hu = hu_phantom((4, 4, 4))
    write_series(tmp_path, hu, spacing_mm=(1.25, 0.5, 0.5))
    for path in tmp_path.iterdir():  # overlapping reconstruction: 3 mm slices every 1.25 mm
        ds = pydicom.dcmread(path)
        ds.SliceThickness = 3.0
        ds.save_as(path)
    assert load(tmp_path).spacing_mm == pytest.approx((1.25, 0.5, 0.5))


def test_missing_slice_is_an_error_naming_the_neighbours(tmp_path):
    write_series(tmp_path, hu_phantom((5, 4, 4)), z_positions_mm=[0, 2, 4, 8, 10], shuffle=False)
    with pytest.raises(MissingSlicesError, match=r"gap of 4.00 mm between slice0002.dcm and slice0003.dcm"):
        load(tmp_path)


def test_variable_spacing_is_resampled_linearly_with_a_warning(tmp_path):
    z_mm = np.array([0.0, 1.0, 2.0, 3.2, 4.4, 5.6])
    x = np.arange(5)
    hu = np.rint(100 * z_mm)[:, None, None] + 10 * x[None, None, :] + np.zeros((1, 3, 1))
    written = write_series(tmp_path, hu.astype(int), z_positions_mm=z_mm, spacing_mm=(1.0, 0.8, 0.7))
    volume = load(tmp_path)
    target_z = np.arange(6) * 1.0  # smallest step, covering 0..5.6 mm
    expected = np.rint(100 * target_z)[:, None, None] + 10 * x[None, None, :] + np.zeros((1, 3, 1))
    np.testing.assert_array_equal(volume.hu, expected)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    assert any("variable slice spacing (1.00-1.20 mm)" in w for w in volume.warnings)


def test_gantry_tilt_is_corrected_onto_an_orthogonal_grid(tmp_path):
    hu = hu_phantom((4, 6, 8), seed=9)
    # each slice sits one column (0.7 mm) further along x: a sheared stack
    written = write_series(tmp_path, hu, spacing_mm=(2.0, 0.8, 0.7), shear_mm_per_slice=(0.7, 0.0))
    volume = load(tmp_path)
    expected = np.full(hu.shape, -1024)
    for k in range(4):
        expected[k, :, k:] = hu[k, :, : 8 - k]
    np.testing.assert_array_equal(volume.hu, expected)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    assert any("gantry tilt about 19.3 deg" in w for w in volume.warnings)


def test_tilt_without_resampling_is_refused(tmp_path):
    write_series(tmp_path, hu_phantom((3, 4, 4)), shear_mm_per_slice=(0.0, 0.5))
    with pytest.raises(GeometryError, match="sheared stack"):
        load(tmp_path, settings=Settings(resample_irregular=False))


def _copy_as_new_instance(source, target, change_pixels=False):
    shutil.copy(source, target)
    ds = pydicom.dcmread(target)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    if change_pixels:
        pixels = ds.pixel_array.copy()
        pixels[0, 0] += 1
        ds.PixelData = pixels.tobytes()
    ds.save_as(target)


def test_identical_duplicate_is_dropped_with_a_warning(tmp_path):
    hu = hu_phantom((4, 5, 5), seed=10)
    written = write_series(tmp_path, hu, shuffle=False)
    _copy_as_new_instance(written.files[2], tmp_path / "copy.dcm")
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    assert any("share one position with identical pixels" in w for w in volume.warnings)


def test_different_images_at_one_position_are_an_error(tmp_path):
    written = write_series(tmp_path, hu_phantom((4, 5, 5), seed=11), shuffle=False)
    _copy_as_new_instance(written.files[1], tmp_path / "other.dcm", change_pixels=True)
    with pytest.raises(DuplicateSliceError, match=r"other.dcm, slice0001.dcm share one position"):
        load(tmp_path)


def test_mixed_matrix_sizes_in_one_series_are_an_error(tmp_path):
    first = write_series(tmp_path, hu_phantom((3, 4, 4)), shuffle=False)
    write_series(tmp_path, hu_phantom((2, 6, 6)), series_uid=first.series_uid, z_positions_mm=[6, 8], prefix="big")
    with pytest.raises(MixedGeometryError, match=f"series {first.series_uid}: mixed matrix sizes"):
        load(tmp_path)


def test_mixed_orientations_in_one_series_are_an_error(tmp_path):
    first = write_series(tmp_path, hu_phantom((3, 4, 4)))
    write_series(tmp_path, hu_phantom((3, 4, 4)), series_uid=first.series_uid, orientation=OBLIQUE, prefix="obl")
    with pytest.raises(MixedGeometryError, match="mixed orientations"):
        load(tmp_path)


def test_single_slice_takes_z_spacing_from_slice_thickness(tmp_path):
    hu = hu_phantom((1, 4, 4))
    written = write_series(tmp_path, hu, spacing_mm=(3.0, 0.5, 0.5))
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    assert any("single slice" in w for w in volume.warnings)


def test_localizer_inside_the_series_is_left_out_with_a_warning(tmp_path):
    hu = hu_phantom((4, 6, 6), seed=12)
    axial = write_series(tmp_path, hu)
    scout = write_series(tmp_path, hu_phantom((1, 6, 6), seed=13), series_uid=axial.series_uid,
                         orientation=(1, 0, 0, 0, 0, -1), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                         prefix="scout")
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, axial.expected_affine, atol=1e-6)
    assert any(f"localizer image(s) {scout.files[0].name} left out" in w for w in volume.warnings)


def test_slices_far_closer_than_the_median_step_are_an_error(tmp_path):
    write_series(tmp_path, hu_phantom((5, 4, 4)), z_positions_mm=[0, 2, 2.1, 4, 6], shuffle=False)
    with pytest.raises(GeometryError, match=r"slice0001.dcm and slice0002.dcm only 0.10 mm apart"):
        load(tmp_path)
