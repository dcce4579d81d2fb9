"""TotalSegmentator-layout labels as the anatomy: class map detection, physical matching, refusal."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.anatomy.external import detect_class_map, from_labels, load_external, structure_of
from cementseg.anatomy.grid import WorkingGrid, labels_to_grid
from cementseg.errors import AnatomyError
from cementseg.volume import CTVolume

LUMBAR_TO_T11 = ["L5", "L4", "L3", "L2", "L1", "T12", "T11"]


@pytest.fixture(scope="module")
def abdomen_ct(totalseg_example) -> CTVolume:
    return CTVolume.from_sitk(sitk.ReadImage(str(totalseg_example / "abdomen_ct.nii.gz")))


def _grid_of(anatomy) -> WorkingGrid:
    return WorkingGrid(
        hu=np.zeros(anatomy.structures.shape, np.float32),
        spacing_mm=anatomy.spacing_mm,
        origin_lps_mm=tuple(anatomy.affine[:3, 3]),
    )


def _ordered_levels(anatomy) -> list:
    return [anatomy.vertebra_levels[v] for v in sorted(anatomy.vertebra_levels)]


def test_v1_multilabel_file(totalseg_example, abdomen_ct):
    path = totalseg_example / "abdomen_seg_v1.nii.gz"
    anatomy = load_external(path, abdomen_ct)
    assert _ordered_levels(anatomy) == LUMBAR_TO_T11
    assert anatomy.source["aorta"] == "totalsegmentator"
    assert anatomy.source["intervertebral_disc"] == "builtin"  # total_v1 has no discs
    labels = labels_to_grid(sitk.ReadImage(str(path)), _grid_of(anatomy))
    # the given vessels are copied voxel for voxel (same 3 mm grid), RAS on disk read as LPS
    np.testing.assert_array_equal(anatomy.mask("aorta"), labels == 7)
    assert (anatomy.mask("inferior_vena_cava") == (labels == 8)).mean() > 0.999
    # each vertebral body id lies in the TotalSegmentator vertebra of its name
    for vid, level in anatomy.vertebra_levels.items():
        code = 18 + LUMBAR_TO_T11.index(level)
        assert np.all(labels[anatomy.vertebrae == vid] == code)


def test_v2_spine_file_detected_as_total(totalseg_example, abdomen_ct):
    """Codes 26-33 are S1..T11 in `total` but T9..T2 in `total_v1`: the lungs decide."""
    anatomy = load_external(totalseg_example / "abdomen_seg_v2_spine.nii.gz", abdomen_ct)
    assert _ordered_levels(anatomy) == ["S1", *LUMBAR_TO_T11]
    assert anatomy.level_note.startswith("level names from the external labels; the built-in count")
    assert anatomy.source["aorta"] == "builtin"  # absent from the file, found by the engine


def test_class_map_detection_by_codes(totalseg_example):
    v2 = sitk.GetArrayFromImage(sitk.ReadImage(str(totalseg_example / "dicom_seg_v2.nii.gz")))
    assert detect_class_map(v2, np.zeros(v2.shape[0], dtype=bool))[115] == "rib_right_12"  # > 104: v2 only


def test_vertebrae_body_task_gives_bodies_and_discs(totalseg_example, abdomen_ct):
    anatomy = from_labels(
        abdomen_ct,
        sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz")),
        "total_v1",
        vertebrae_body=sitk.ReadImage(str(totalseg_example / "abdomen_vertebrae_body.nii.gz")),
    )
    body = labels_to_grid(
        sitk.ReadImage(str(totalseg_example / "abdomen_vertebrae_body.nii.gz")), _grid_of(anatomy)
    )
    assert anatomy.source["vertebral_body"] == anatomy.source["intervertebral_disc"] == "totalsegmentator"
    np.testing.assert_array_equal(anatomy.vertebrae > 0, (body == 1) & (anatomy.vertebrae > 0))
    assert (anatomy.mask("intervertebral_disc") == (body == 2)).mean() > 0.999


def test_folder_of_per_class_masks(totalseg_example, abdomen_ct, tmp_path):
    multilabel = sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz"))
    for code, name in {20: "vertebrae_L3", 21: "vertebrae_L2", 22: "vertebrae_L1", 7: "aorta"}.items():
        sitk.WriteImage(sitk.Cast(multilabel == code, sitk.sitkUInt8), str(tmp_path / f"{name}.nii.gz"))
    sitk.WriteImage(sitk.Cast(multilabel == 57, sitk.sitkUInt8), str(tmp_path / "colon.nii.gz"))  # not used
    anatomy = load_external(tmp_path, abdomen_ct)
    assert _ordered_levels(anatomy) == ["L3", "L2", "L1"]
    assert anatomy.source["aorta"] == "totalsegmentator"


def test_dicom_series_labels_match_in_physical_space(totalseg_example):
    """dicom_seg_v2 stores y flipped relative to the series: only physical matching puts bone on bone."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(totalseg_example / "dicom")))
    volume = CTVolume.from_sitk(reader.Execute())
    anatomy = load_external(totalseg_example / "dicom_seg_v2.nii.gz", volume)
    assert set(anatomy.vertebra_levels.values()) == {"T12", "T11"}  # the codes present (32, 33)
    grid_hu = labels_to_grid(sitk.Cast(volume.to_sitk(), sitk.sitkInt16), _grid_of(anatomy))
    assert np.median(grid_hu[anatomy.vertebrae > 0]) > 150  # vertebral bone
    assert np.median(grid_hu[anatomy.mask("aorta")]) < 400  # blood, not bone


def test_labels_elsewhere_are_refused(totalseg_example, abdomen_ct, tmp_path):
    labels = sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz"))
    labels.SetOrigin(tuple(o + 1000.0 for o in labels.GetOrigin()))
    path = tmp_path / "elsewhere.nii.gz"
    sitk.WriteImage(labels, str(path))
    with pytest.raises(AnatomyError, match="do not overlap"):
        load_external(path, abdomen_ct)


def test_missing_path_and_wrong_array_shape(abdomen_ct, tmp_path):
    with pytest.raises(AnatomyError, match="not found"):
        load_external(tmp_path / "nothing.nii.gz", abdomen_ct)
    with pytest.raises(AnatomyError, match="shape"):
        from_labels(abdomen_ct, np.zeros((3, 3, 3), np.uint8), "total")


def test_class_names_map_to_structures():
    assert structure_of("lung_lower_lobe_right") == "lung"
    assert structure_of("heart_atrium_right") == "right_heart"
    assert structure_of("rib_left_12") == "other_bone"
    assert structure_of("azygos_vein") == "azygos_system"
    assert structure_of("colon") is None
