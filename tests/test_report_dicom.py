"""DICOM SEG and SR of phantom findings: read back voxel-exact, validated by dciodvfy."""

from __future__ import annotations

import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from report_cases import phantom, truth_findings

from cementseg.io import load
from cementseg.phantom.writers import write_case
from cementseg.report.dicom_codes import LOCATION_DICOM_CODES
from cementseg.report.dicom_seg import SourceImagesError, slice_order, source_datasets, write_dicom_seg
from cementseg.report.dicom_sr import write_dicom_sr
from cementseg.vocabulary import LOCATIONS


@pytest.fixture(scope="module")
def dicom_case(tmp_path_factory):
    case = phantom()
    folder = tmp_path_factory.mktemp("report_dicom")
    written = write_case(case, folder, segmentations=False)
    volume = load(written["image"])
    assert np.array_equal(volume.hu, case.volume.hu)  # the loaded grid is the truth's grid
    findings = truth_findings(volume, case.truth)
    datasets = source_datasets(written["image"], findings)
    seg = write_dicom_seg(findings, datasets, folder / "seg.dcm")
    sr_path = write_dicom_sr(findings, seg, datasets, folder / "sr.dcm")
    return case, findings, datasets, folder / "seg.dcm", sr_path


def _dciodvfy_errors(path) -> list[str]:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed; tests/system_setup.sh installs it")
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def test_location_codes_cover_the_vocabulary():
    assert set(LOCATION_DICOM_CODES) == set(LOCATIONS.values())
    assert all(c.type.scheme_designator == "SCT" and c.category.scheme_designator == "SCT"
               for c in LOCATION_DICOM_CODES.values())


def test_seg_reads_back_voxel_exact_per_location(dicom_case):
    case, findings, datasets, seg_path, _ = dicom_case
    seg = hd.seg.segread(seg_path)
    present = [name for code, name in LOCATIONS.items() if (case.truth == code).any()]
    assert [seg.get_segment_description(n).segment_label for n in seg.get_segment_numbers()] == [
        f"PMMA cement: {name}" for name in present]
    description = seg.get_segment_description(present.index("inferior_vena_cava") + 1)
    assert description.segmented_property_type == LOCATION_DICOM_CODES["inferior_vena_cava"].type
    assert description.anatomic_regions[0] == LOCATION_DICOM_CODES["inferior_vena_cava"].site
    order = slice_order(findings, datasets)
    uids = [ds.SOPInstanceUID for ds in datasets]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, combine_segments=True,
                                               skip_overlap_checks=True)
    expected = np.zeros_like(case.truth)
    for number, name in enumerate(present, start=1):
        expected[case.truth == {v: k for k, v in LOCATIONS.items()}[name]] = number
    np.testing.assert_array_equal(pixels, expected[order])
    assert seg.SeriesInstanceUID != datasets[0].SeriesInstanceUID
    assert seg.FrameOfReferenceUID == datasets[0].FrameOfReferenceUID
    algorithm = pydicom.dcmread(seg_path).SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert algorithm.AlgorithmName == "cementseg"


def test_sr_reports_volume_and_length_of_every_finding(dicom_case):
    _, findings, _, seg_path, sr_path = dicom_case
    sr = hd.sr.srread(sr_path)
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(findings.components)
    seg_uid = pydicom.dcmread(seg_path, stop_before_pixels=True).SOPInstanceUID
    by_tracking = {g.tracking_identifier: g for g in groups}
    for component in findings.components:
        group = by_tracking[f"finding {component.id}"]
        volume = group.get_measurements(name=pydicom.sr.codedict.codes.SCT.Volume)[0]
        length = group.get_measurements(name=pydicom.sr.codedict.codes.SCT.Length)[0]
        assert volume.value == pytest.approx(component.volume_ml) and volume.unit.value == "ml"
        assert length.value == pytest.approx(component.length_mm) and length.unit.value == "mm"
        assert group.finding_type == LOCATION_DICOM_CODES[component.location].type
        assert group.referenced_segment.referenced_sop_instance_uid == seg_uid


def test_seg_and_sr_pass_dciodvfy(dicom_case):
    _, _, _, seg_path, sr_path = dicom_case
    assert _dciodvfy_errors(seg_path) == []
    assert _dciodvfy_errors(sr_path) == []


def test_nifti_source_is_refused_in_one_line(tmp_path):
    case = phantom()
    written = write_case(case, tmp_path, fmt="nifti", segmentations=False)
    findings = truth_findings(case.volume, case.truth)
    with pytest.raises(SourceImagesError, match="need a DICOM source series") as error:
        source_datasets(written["image"], findings)
    assert "\n" not in str(error.value)


def test_no_cement_writes_no_seg_or_sr(dicom_case, tmp_path):
    case, findings, datasets, seg_path, _ = dicom_case
    from cementseg.report.outputs import write_outputs

    empty = truth_findings(load(seg_path.parent / "ct"), np.zeros_like(case.truth))
    written = write_outputs(empty, seg_path.parent / "ct", dicom_seg=tmp_path / "seg.dcm",
                            dicom_sr=tmp_path / "sr.dcm", csv=tmp_path / "f.csv")
    assert set(written) == {"csv"}
    assert not (tmp_path / "seg.dcm").exists() and not (tmp_path / "sr.dcm").exists()


def test_real_series_without_study_series_and_frame_uids_is_refused_in_one_line(totalseg_example):
    series = totalseg_example / "dicom"  # anonymised: StudyInstanceUID, SeriesInstanceUID, ... blank
    volume = load(series)
    findings = truth_findings(volume, np.zeros(volume.shape, np.uint8))
    findings.input["series_uid"] = volume.meta["series_uid"]
    with pytest.raises(SourceImagesError, match="no StudyInstanceUID, SeriesInstanceUID;") as error:
        source_datasets(series, findings)
    assert "\n" not in str(error.value)


def test_sr_of_a_one_segment_seg_references_that_segment(dicom_case, tmp_path):
    """Fill only (one location): highdicom keeps the segment in the shared functional groups."""
    case, _, datasets, seg_path, _ = dicom_case
    fill_only = np.where(case.truth == 1, 1, 0).astype(case.truth.dtype)
    findings = truth_findings(load(seg_path.parent / "ct"), fill_only)
    seg = write_dicom_seg(findings, datasets, tmp_path / "seg.dcm")
    sr = hd.sr.srread(write_dicom_sr(findings, seg, datasets, tmp_path / "sr.dcm"))
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(findings.components) > 0
    assert {n for g in groups for n in g.referenced_segment.referenced_segment_numbers} == {1}
    assert _dciodvfy_errors(tmp_path / "sr.dcm") == []
