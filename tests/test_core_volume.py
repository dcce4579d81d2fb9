"""CTVolume geometry agrees with SimpleITK's index-to-physical mapping."""

import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.volume import CTVolume, index_to_lps, lps_to_index


def oblique_volume() -> CTVolume:
    angle = np.deg2rad(20)
    rotation = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    direction = rotation @ np.diag([1, -1, -1])  # flipped rows and slices, tilted
    hu = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    return CTVolume(hu=hu, spacing_mm=(2.5, 0.7, 0.9), origin_lps_mm=(-10.0, 20.0, 30.0), direction=direction)


def test_affine_matches_simpleitk_for_every_corner():
    volume = oblique_volume()
    image = volume.to_sitk()
    for z in (0, 3):
        for y in (0, 4):
            for x in (0, 5):
                expected = image.TransformIndexToPhysicalPoint((x, y, z))
                np.testing.assert_allclose(volume.index_to_lps((z, y, x)), expected, atol=1e-9)


def test_lps_to_index_inverts_index_to_lps():
    volume = oblique_volume()
    zyx = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    np.testing.assert_allclose(lps_to_index(volume.affine, index_to_lps(volume.affine, zyx)), zyx, atol=1e-9)


def test_sitk_round_trip_keeps_voxels_and_geometry():
    volume = oblique_volume()
    back = CTVolume.from_sitk(volume.to_sitk())
    np.testing.assert_array_equal(back.hu, volume.hu)
    np.testing.assert_allclose(back.spacing_mm, volume.spacing_mm)
    np.testing.assert_allclose(back.origin_lps_mm, volume.origin_lps_mm)
    np.testing.assert_allclose(back.direction, volume.direction)


def test_from_sitk_rounds_and_clips_float_images_to_int16():
    image = sitk.GetImageFromArray(np.array([[[-40000.0, 12.6, 40000.0]]]))
    assert CTVolume.from_sitk(image).hu.tolist() == [[[-32768, 13, 32767]]]


def test_axis_of_finds_anterior_whatever_the_array_order():
    volume = oblique_volume()  # y index axis points to -P (anterior)
    assert volume.axis_of(1) == (1, -1)
    assert volume.axis_of(0) == (2, 1)


def test_volume_refuses_non_3d_arrays():
    with pytest.raises(ValueError, match="3D"):
        CTVolume(hu=np.zeros((4, 4), np.int16), spacing_mm=(1, 1, 1), origin_lps_mm=(0, 0, 0))
