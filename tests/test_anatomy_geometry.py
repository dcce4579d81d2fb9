"""The built-in anatomy answers in LPS, whatever the array orientation; crops and short series work."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.anatomy import build
from cementseg.anatomy.class_maps import TOTAL
from cementseg.anatomy.grid import _Blocks, _lps_bounds, _resample_sitk, to_working_grid, working_spacing
from cementseg.volume import CTVolume, index_to_lps


def _abdomen(totalseg_example) -> CTVolume:
    return CTVolume.from_sitk(sitk.ReadImage(str(totalseg_example / "abdomen_ct.nii.gz")))


def _flipped(volume: CTVolume, axis: int) -> CTVolume:
    """The same patient with array axis ``axis`` (0 z, 1 y, 2 x) stored reversed."""
    last = [0, 0, 0]
    last[axis] = volume.shape[axis] - 1
    direction = volume.direction.copy()
    direction[:, 2 - axis] *= -1
    return CTVolume(hu=np.flip(volume.hu, axis=axis).copy(), spacing_mm=volume.spacing_mm,
                    origin_lps_mm=tuple(index_to_lps(volume.affine, last)), direction=direction)


def _rows_and_columns_swapped(volume: CTVolume) -> CTVolume:
    direction = volume.direction[:, [1, 0, 2]]
    spacing = (volume.spacing_mm[0], volume.spacing_mm[2], volume.spacing_mm[1])
    return CTVolume(hu=volume.hu.transpose(0, 2, 1).copy(), spacing_mm=spacing,
                    origin_lps_mm=volume.origin_lps_mm, direction=direction)


@pytest.fixture(scope="module")
def reference(totalseg_example):
    volume = _abdomen(totalseg_example)
    return volume, build(volume)


@pytest.mark.parametrize("reorient", ["flip_z", "flip_y", "flip_x", "swap_rows_columns"])
def test_orientation_does_not_change_the_lps_answer(reference, reorient):
    volume, anatomy = reference
    other = {"flip_z": lambda v: _flipped(v, 0), "flip_y": lambda v: _flipped(v, 1),
             "flip_x": lambda v: _flipped(v, 2), "swap_rows_columns": _rows_and_columns_swapped}[reorient](volume)
    # the same voxel centres in LPS, stored differently
    np.testing.assert_allclose(other.index_to_lps([0, 0, 0]) if reorient == "swap_rows_columns" else 0, 0 if
                               reorient != "swap_rows_columns" else volume.index_to_lps([0, 0, 0]))
    again = build(other)
    np.testing.assert_allclose(again.affine, anatomy.affine, atol=1e-6)
    assert again.vertebra_levels == anatomy.vertebra_levels
    agree = np.mean(again.structures == anatomy.structures)
    assert agree > 0.999
    np.testing.assert_array_equal(again.vertebrae, anatomy.vertebrae)


def _crop_z(volume: CTVolume, z0: int, z1: int) -> CTVolume:
    return CTVolume(hu=volume.hu[z0:z1].copy(), spacing_mm=volume.spacing_mm,
                    origin_lps_mm=tuple(volume.index_to_lps([z0, 0, 0])), direction=volume.direction)


def test_three_vertebrae_crop(totalseg_example):
    """L2-L4 only (no sacrum, no ribs): three bodies found, levels unknown and said why."""
    volume = _abdomen(totalseg_example)
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(totalseg_example / "abdomen_seg_v2_spine.nii.gz")))
    code = {name: c for c, name in TOTAL.items()}
    zs = np.nonzero(np.isin(labels, [code["vertebrae_L2"], code["vertebrae_L3"], code["vertebrae_L4"]]).any(axis=(1, 2)))[0]
    # the NIfTI is read by SimpleITK with the same z order as CTVolume.from_sitk
    crop = _crop_z(volume, zs[0] + 2, zs[-1] - 1)
    anatomy = build(crop)
    bodies = [v for v in np.unique(anatomy.vertebrae) if v]
    assert len(bodies) == 3
    assert set(anatomy.vertebra_levels.values()) == {None}
    assert "levels unknown" in anatomy.level_note
    # each body lies in a different TotalSegmentator vertebra, in order
    crop_labels = labels[zs[0] + 2: zs[-1] - 1]
    owners = []
    for vid in sorted(bodies):
        lps = anatomy.voxel_centres_lps(np.argwhere(anatomy.vertebrae == vid).mean(0))
        zyx = np.rint(crop.lps_to_index(lps)).astype(int)
        owners.append(int(crop_labels[tuple(zyx)]))
    assert owners == [code["vertebrae_L4"], code["vertebrae_L3"], code["vertebrae_L2"]]


def _short_dicom_anatomy(totalseg_example):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(totalseg_example / "dicom")))
    return build(CTVolume.from_sitk(reader.Execute()))


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: over 40 mm of spine the T11/T12 disc dips the body profile by 0.08, "
    "below MIN_DISC_DIP (0.2), so T11 and T12 come out as one body (docs/anatomy.md)",
)
def test_short_dicom_series_splits_t11_from_t12(totalseg_example):
    anatomy = _short_dicom_anatomy(totalseg_example)
    assert len([v for v in np.unique(anatomy.vertebrae) if v]) >= 2


def test_short_dicom_series_around_t12(totalseg_example):
    """20 slices x 2 mm at T11-T12: bodies and canal found; levels only if they can be counted."""
    anatomy = _short_dicom_anatomy(totalseg_example)
    assert anatomy.mask("spinal_canal").any()
    assert anatomy.vertebrae.any()
    truth = sitk.ReadImage(str(totalseg_example / "dicom_seg_v2.nii.gz"))  # y stored flipped: physical match only
    names = {c: n.removeprefix("vertebrae_") for c, n in TOTAL.items() if n.startswith("vertebrae_")}
    truth_array = sitk.GetArrayFromImage(truth)
    for vid, level in anatomy.vertebra_levels.items():
        lps = anatomy.voxel_centres_lps(np.argwhere(anatomy.vertebrae == vid).mean(0))
        xyz = truth.TransformPhysicalPointToIndex(tuple(float(c) for c in lps))
        owner = names.get(int(truth_array[xyz[2], xyz[1], xyz[0]]))
        assert level is None or level == owner, f"body {vid}: {level} vs TotalSegmentator {owner}"
    if set(anatomy.vertebra_levels.values()) == {None}:
        assert anatomy.level_note


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_short_dicom_series_with_a_t12_fill(totalseg_example, seed):
    """The 40 mm series with 4 mL of cement inserted into T12, an IVC cast and a plexus leak.

    The fill hides the middle of T12 from the disc profile; its rim alone dipped like a disc
    (seed 1: T12 cut in two there, the fill called disc cement from no cemented vertebra, no
    leak found). The fill's blurred rim, denser than the cortex threshold, also cut it off
    from the body's core on one slice (a false intradiscal leak of 0.5 mL).
    """
    from cementseg.evaluate import score_scan
    from cementseg.io import load
    from cementseg.phantom import insert
    from cementseg.pipeline import scan

    volume = load(totalseg_example / "dicom")
    image = sitk.ReadImage(str(totalseg_example / "dicom_seg_v2.nii.gz"))
    labels = sitk.GetArrayFromImage(
        sitk.Resample(image, volume.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
    )
    plan = {"fills": {"T12": 4.0}, "leaks": [{"route": "ivc_cast", "level": "T12", "length_mm": 20.0}]}
    case = insert(volume, labels, plan, seed=seed, class_map=TOTAL)
    findings = scan(case.volume)
    score = score_scan(findings, case, f"short DICOM series + T12 fill, seed {seed}")
    assert len(findings.summary["cemented_levels"]) == 1
    assert score.false_leaks == [] and score.fills_called_leak == 0
    assert all(t["found"] and t["predicted_location"] == t["location"] for t in score.truth_leaks), score.truth_leaks


@pytest.mark.parametrize("reorient", ["as_stored", "flip_z", "flip_y", "flip_x"])
@pytest.mark.parametrize("target_mm", [2.0, 3.0])
def test_working_grid_is_simpleitks_linear_resampling(totalseg_example, reorient, target_mm):
    """For a CT stored along the LPS axes the working grid is resampled without SimpleITK: the same
    float32 values as SimpleITK's ResampleImageFilter (the path kept for other orientations)."""
    volume = _abdomen(totalseg_example)
    volume = {"as_stored": volume, "flip_z": _flipped(volume, 0), "flip_y": _flipped(volume, 1),
              "flip_x": _flipped(volume, 2)}[reorient]
    grid = to_working_grid(volume, target_mm)
    spacing_zyx = working_spacing(volume, target_mm)
    low, _ = _lps_bounds(volume.shape, volume.affine)
    target = (tuple(float(s) for s in spacing_zyx[::-1]), tuple(float(v) for v in low), grid.shape[::-1])
    np.testing.assert_array_equal(grid.hu, _resample_sitk(_Blocks(volume, target_mm), *target))


def test_working_grid_in_threads_is_the_same():
    """Slabs of blocks shared among threads give the very same working grid as one thread."""
    rng = np.random.default_rng(0)
    hu = rng.integers(-1024, 2000, size=(75, 40, 36), dtype=np.int16)
    volume = CTVolume(hu=hu, spacing_mm=(0.8, 0.7, 0.7), origin_lps_mm=(0.0, 0.0, 0.0), direction=np.eye(3))
    one = to_working_grid(volume, 2.0, threads=1).hu
    for threads in (0, 2, 3, 50):
        np.testing.assert_array_equal(to_working_grid(volume, 2.0, threads=threads).hu, one)
