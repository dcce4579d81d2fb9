"""Real CT from ../shared/data/totalseg_example: same voxels and geometry as SimpleITK / nibabel."""

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from cementseg.io import find_series, load


def test_real_jpeg2000_series_matches_simpleitk(totalseg_example):
    folder = totalseg_example / "dicom"
    volume = load(folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    np.testing.assert_array_equal(volume.hu, sitk.GetArrayFromImage(image))
    np.testing.assert_allclose(volume.spacing_mm, image.GetSpacing()[::-1], atol=1e-6)
    np.testing.assert_allclose(volume.origin_lps_mm, image.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(volume.direction.ravel(), image.GetDirection(), atol=1e-9)
    assert volume.hu.shape == (20, 512, 512)
    assert volume.meta["modality"] == "CT" and volume.meta["kernel"] == "Br38f\\3"
    record = find_series(folder)[0]
    assert record.slice_thickness_mm == 3.0 and volume.spacing_mm[0] == 2.0  # overlapping slices


def test_real_nifti_has_lps_geometry_of_the_ras_affine(totalseg_example):
    path = totalseg_example / "abdomen_ct.nii.gz"
    volume = load(path)
    image = nib.load(path)
    expected = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine  # RAS -> LPS
    np.testing.assert_allclose(volume.affine, expected, atol=1e-5)
    data = np.asanyarray(image.dataobj)
    np.testing.assert_array_equal(volume.hu, np.rint(data).transpose(2, 1, 0))
    assert volume.hu.shape == (112, 101, 122)
    # voxel (x, y, z) of the file lands on the same physical point
    ijk = np.array([10, 20, 30])
    lps = volume.index_to_lps(ijk[::-1])
    ras = image.affine @ np.append(ijk, 1)
    np.testing.assert_allclose(lps, ras[:3] * [-1, -1, 1], atol=1e-5)
