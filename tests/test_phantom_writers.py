"""Phantom output loads back identically with pydicom, SimpleITK, nibabel and cementseg.io.load."""

import json
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from cementseg.cli import main
from click.testing import CliRunner

from cementseg.io import load
from cementseg.phantom import generate
from cementseg.phantom.writers import FAKE_PATIENT, write_case


@pytest.fixture(scope="module")
def case():
    return generate("intradural", seed=2, spacing_mm=(3.0, 2.5, 2.5))


def _sitk_series(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@pytest.mark.parametrize("compression", [None, "rle", "deflate"])
def test_dicom_series_round_trips(case, tmp_path, compression):
    written = write_case(case, tmp_path, "dicom", compression=compression, segmentations=False)
    files = sorted((tmp_path / "ct").glob("*.dcm"))
    assert len(files) == case.volume.shape[0]
    datasets = sorted((pydicom.dcmread(f) for f in files), key=lambda d: float(d.ImagePositionPatient[2]))
    first = datasets[0]
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and first.Modality == "CT"
    assert str(first.PatientName) == FAKE_PATIENT["name"] and first.PatientID.startswith(FAKE_PATIENT["id_prefix"])
    assert len({d.SeriesInstanceUID for d in datasets}) == 1 and len({d.SOPInstanceUID for d in datasets}) == len(files)
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert [float(v) for v in first.ImagePositionPatient] == pytest.approx(case.volume.origin_lps_mm, abs=1e-3)
    hu = np.stack([d.pixel_array.astype(np.int16) + int(d.RescaleIntercept) for d in datasets])
    assert np.array_equal(hu, case.volume.hu)

    image = _sitk_series(written["image"])
    assert np.array_equal(sitk.GetArrayFromImage(image), case.volume.hu)
    assert image.GetOrigin() == pytest.approx(case.volume.origin_lps_mm, abs=1e-3)
    assert image.GetSpacing() == pytest.approx(case.volume.spacing_mm[::-1])
    assert image.GetDirection() == pytest.approx(tuple(np.eye(3).ravel()))

    loaded = load(written["image"])
    assert np.array_equal(loaded.hu, case.volume.hu)
    assert np.allclose(loaded.affine, case.volume.affine, atol=1e-3)


def test_same_case_writes_the_same_uids(case, tmp_path):
    write_case(case, tmp_path / "a", "dicom", segmentations=False)
    write_case(case, tmp_path / "b", "dicom", segmentations=False)
    a = pydicom.dcmread(sorted((tmp_path / "a" / "ct").glob("*.dcm"))[3])
    b = pydicom.dcmread(sorted((tmp_path / "b" / "ct").glob("*.dcm"))[3])
    assert (a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID) == (b.StudyInstanceUID, b.SeriesInstanceUID, b.SOPInstanceUID)


def test_nifti_is_ras_at_the_edge_and_lps_when_read(case, tmp_path):
    written = write_case(case, tmp_path, "nifti")
    image = nib.load(written["image"])
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ case.volume.affine
    assert np.allclose(image.affine, ras)
    assert np.array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), case.volume.hu)
    itk = sitk.ReadImage(written["image"])
    assert itk.GetOrigin() == pytest.approx(case.volume.origin_lps_mm, abs=1e-3)
    assert np.array_equal(load(written["image"]).hu, case.volume.hu)
    truth = np.asarray(nib.load(written["truth"]).dataobj).transpose(2, 1, 0)
    assert np.array_equal(truth, case.truth)
    canal = nib.load(tmp_path / "segmentations" / "spinal_canal.nii.gz")
    assert np.array_equal(np.asarray(canal.dataobj).transpose(2, 1, 0) == 1, case.anatomy["spinal_canal"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["leaks"] == json.loads(json.dumps(case.manifest["leaks"]))
    assert manifest["anatomy_codes"]["spinal_canal"] == case.anatomy.codes["spinal_canal"]


def test_cli_writes_a_case(tmp_path):
    result = CliRunner().invoke(main, ["phantom", "intradiscal", str(tmp_path), "--seed", "3", "--spacing", "3",
                                       "--compression", "deflate"])
    assert result.exit_code == 0, result.output
    assert "intradiscal" in result.output and "L3" in result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["scenario"] == "intradiscal" and manifest["seed"] == 3 and manifest["spacing_mm"] == [3.0, 3.0, 3.0]
    assert len(list((tmp_path / "ct").glob("*.dcm"))) == manifest["shape"][0]


def test_cli_rejects_bad_spacing(tmp_path):
    result = CliRunner().invoke(main, ["phantom", "clean_fill", str(tmp_path), "--spacing", "0.01"])
    assert result.exit_code == 3 and "spacing" in result.output


@pytest.mark.parametrize("compression", [None, "rle"])
def test_dicom_slices_are_valid_ct_image_iods(case, tmp_path, compression):
    """dciodvfy (dicom3tools, installed by tests/system_setup.sh) finds no error in the CT Image IOD."""
    assert shutil.which("dciodvfy"), "dciodvfy (Debian dicom3tools) is needed: run tests/system_setup.sh"
    write_case(case, tmp_path, "dicom", compression=compression, segmentations=False)
    for path in sorted((tmp_path / "ct").glob("*.dcm"))[::7]:
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        output = result.stdout + result.stderr
        assert "CTImage" in output
        assert [line for line in output.splitlines() if line.startswith("Error")] == []
