"""NRRD, MHA and NIfTI written from a known oblique volume come back with the same LPS geometry."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.io import find_series, load
from cementseg.volume import CTVolume


def _oblique_volume() -> CTVolume:
    angle = np.deg2rad(15)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    hu = np.arange(-500, -500 + 3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5) * 37
    return CTVolume(hu=hu, spacing_mm=(2.5, 0.9, 0.8), origin_lps_mm=(12.0, -30.0, 55.0),
                    direction=rotation @ np.diag([1, -1, 1]))


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".nii.gz"])
def test_image_files_keep_voxels_and_lps_affine(tmp_path, suffix):
    truth = _oblique_volume()
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(truth.to_sitk(), str(path))  # SimpleITK converts LPS -> RAS for NIfTI
    volume = load(path)
    np.testing.assert_array_equal(volume.hu, truth.hu)
    np.testing.assert_allclose(volume.affine, truth.affine, atol=1e-4)
    assert any("values taken as CT HU" in w for w in volume.warnings)
    record = find_series(path)[0]
    assert (record.source, record.n_instances, record.rows, record.columns) == ("image_file", 3, 4, 5)


def test_scaled_float_nifti_is_rounded_and_clipped(tmp_path):
    data = np.array([[[10.4, -2000.6, 40000.0]]], dtype=np.float32).transpose(2, 1, 0)  # (x, y, z)
    nib.save(nib.Nifti1Image(data, np.diag([-1.0, -1.0, 2.0, 1.0])), tmp_path / "f.nii")
    volume = load(tmp_path / "f.nii")
    assert volume.hu.ravel().tolist() == [10, -2001, 32767]
    assert any("1 voxels outside int16 clipped" in w for w in volume.warnings)
    np.testing.assert_allclose(volume.affine, np.diag([1.0, 1.0, 2.0, 1.0]), atol=1e-9)
