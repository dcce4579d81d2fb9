"""Scans with TotalSegmentator's real anatomy: cement inserted into real CTs by `phantom.insert`.

v1 multilabel labels on the abdominal CT, v2 multilabel labels on the DICOM series (stored
with its y axis flipped: only physical matching lines them up). Level names, IVC and canal
locations must come out right, each location decision must name its anatomy source, and a
per-class folder must give the same findings as the multilabel file.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.anatomy.class_maps import TOTAL, TOTAL_V1
from cementseg.anatomy.external import VERTEBRA, structure_of
from cementseg.evaluate import score_scan
from cementseg.io import load
from cementseg.phantom import insert
from cementseg.pipeline import scan

FAST = {"totalseg_level_crosscheck": False}  # the cross-check has tests of its own


def _score(findings, case):
    return score_scan(findings, case, "totalseg")


def _leaks(findings, location):
    return [c for c in findings.leaks if c.location == location]


@pytest.fixture(scope="module")
def ivc_case(totalseg_example):
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    return insert(ct, load(totalseg_example / "abdomen_seg_v1.nii.gz"), "ivc_linear_leak", seed=1)


@pytest.fixture(scope="module")
def ivc_findings(ivc_case, totalseg_example):
    return scan(ivc_case.volume, anatomy=totalseg_example / "abdomen_seg_v1.nii.gz", **FAST)


def test_v1_labels_ivc_leak_and_levels(ivc_case, ivc_findings):
    assert (
        ivc_findings.summary["cemented_levels"] == ["L2", "L1", "T12"] == ivc_case.manifest["cemented_levels"]
    )
    score = _score(ivc_findings, ivc_case)
    assert score.sensitivity == 1.0 and score.false_leaks == []
    cast = max(_leaks(ivc_findings, "inferior_vena_cava"), key=lambda c: c.volume_ml)
    assert cast.source_vertebra == "L1"
    assert cast.evidence["anatomy_source"] == {
        "location": "totalsegmentator",
        "location_structure": "inferior_vena_cava",
        "vertebral_level": "totalsegmentator",
    }
    for component in ivc_findings.components:  # every decision says where its anatomy came from
        assert component.evidence["anatomy_source"]["vertebral_level"] == "totalsegmentator"


def test_v1_labels_epidural_leak_in_the_canal(totalseg_example):
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    case = insert(ct, load(totalseg_example / "abdomen_seg_v1.nii.gz"), "epidural", seed=2)
    findings = scan(case.volume, anatomy=totalseg_example / "abdomen_seg_v1.nii.gz", **FAST)
    assert _score(findings, case).sensitivity == 1.0
    canal = max(_leaks(findings, "spinal_canal"), key=lambda c: c.volume_ml)
    assert canal.vertebral_level == canal.source_vertebra == "L2"
    # total_v1 has no canal class: the built-in canal (or its position rule) decided
    assert canal.evidence["anatomy_source"]["location"] in ("builtin", "builtin position/shape rule")


def test_per_class_folder_gives_identical_findings(totalseg_example, ivc_case, ivc_findings, tmp_path):
    multilabel = sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz"))
    present = np.unique(sitk.GetArrayFromImage(multilabel))
    for code in present:
        name = TOTAL_V1.get(int(code))
        if name and (structure_of(name) or VERTEBRA.match(name)):
            sitk.WriteImage(
                sitk.Cast(multilabel == int(code), sitk.sitkUInt8), str(tmp_path / f"{name}.nii.gz")
            )
    from_folder = scan(ivc_case.volume, anatomy=tmp_path, **FAST)
    as_dicts = [c.to_dict() for c in from_folder.components]
    assert as_dicts == [c.to_dict() for c in ivc_findings.components]
    assert from_folder.anatomy_source == ivc_findings.anatomy_source


def test_v2_labels_on_the_dicom_series(totalseg_example):
    """The v2 file's y axis is flipped relative to the series; insertion uses it resampled onto the CT."""
    ct = load(totalseg_example / "dicom")
    image = sitk.ReadImage(str(totalseg_example / "dicom_seg_v2.nii.gz"))
    on_ct = sitk.GetArrayFromImage(
        sitk.Resample(image, ct.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
    )
    plan = {
        "fills": {"T12": 4.0},
        "leaks": [
            {"route": "epidural", "level": "T12"},
            {"route": "ivc_cast", "level": "T12", "length_mm": 20.0},
        ],
    }
    case = insert(ct, on_ct, plan, seed=0, class_map=TOTAL)
    findings = scan(case.volume, anatomy=totalseg_example / "dicom_seg_v2.nii.gz", **FAST)
    assert findings.summary["cemented_levels"] == ["T12"]
    ivc = _leaks(findings, "inferior_vena_cava")
    assert ivc and all(c.evidence["anatomy_source"]["location"] == "totalsegmentator" for c in ivc)
    canal = _leaks(findings, "spinal_canal")
    assert canal and all(c.vertebral_level == "T12" for c in canal)
    score = _score(findings, case)
    found = {leak["location"]: leak["found"] and leak["location_correct"] for leak in score.required}
    assert found["inferior_vena_cava"] and found["spinal_canal"]


@pytest.mark.parametrize("seed", [0, 1])
def test_v1_labels_epidural_cement_is_not_taken_into_the_body(totalseg_example, seed):
    """v1 labels hold whole vertebrae: the body is cut at the canal's front wall, which must be
    where cement hides the canal interpolated from the clean slices, as for the built-in bodies.
    Before, part of the epidural cast (0.38 mL of 0.54 on seed 1) was 'inside L2: intended fill'
    and the leak volume was -44 % (seed 0) and -78 % (seed 1)."""
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    case = insert(ct, load(totalseg_example / "abdomen_seg_v1.nii.gz"), "epidural", seed=seed)
    findings = scan(case.volume, anatomy=totalseg_example / "abdomen_seg_v1.nii.gz", **FAST)
    score = _score(findings, case)
    assert score.sensitivity == 1.0 and score.false_leaks == []
    assert score.predicted_leak_volume_ml > 0.6 * score.truth_leak_volume_ml


def test_v1_labels_faint_ivc_cast_beside_l4_is_found(totalseg_example):
    """ivc_and_pulmonary seed 1: the IVC cast (at most 1100 HU on 3 mm voxels) and the plexus that
    feeds it join L4's cortex in one candidate that fits no rule as a whole; the part running up the
    IVC lumen is judged on its own (before: the cast was missed, leak volume -81 %)."""
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    case = insert(ct, load(totalseg_example / "abdomen_seg_v1.nii.gz"), "ivc_and_pulmonary", seed=1)
    findings = scan(case.volume, anatomy=totalseg_example / "abdomen_seg_v1.nii.gz", **FAST)
    score = _score(findings, case)
    assert score.sensitivity == 1.0 and score.false_leaks == []
    assert max(c.volume_ml for c in _leaks(findings, "inferior_vena_cava")) > 0.3
