"""Cement inserted into the real abdominal CT (TotalSegmentator v1 labels): placement and truth."""

import numpy as np
import pytest

from cementseg.errors import AnatomyError, SettingsError
from cementseg.io import load
from cementseg.phantom import insert
from cementseg.vocabulary import LOCATION_CODES, MATERIAL_TRUTH_CODES

IVC, L1, L2, L3 = 8, 22, 21, 20  # total_v1 codes


@pytest.fixture(scope="module")
def real(totalseg_example):
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    labels = load(totalseg_example / "abdomen_seg_v1.nii.gz")
    return ct, labels


def test_ivc_leak_goes_into_the_real_ivc(real):
    ct, labels = real
    case = insert(ct, labels, "ivc_linear_leak", seed=1)
    assert case.volume.shape == ct.shape and np.allclose(case.volume.affine, ct.affine)
    m = case.manifest
    assert m["cemented_levels"] == ["L2", "L1", "T12"]
    cast = next(leak for leak in m["leaks"] if leak["location"] == "inferior_vena_cava")
    in_cast = case.instances == cast["id"]
    assert np.all(labels.hu[in_cast] == IVC)                   # the cast lies inside the labelled IVC
    z = ct.index_to_lps(np.argwhere(in_cast))[:, 2]
    assert z.max() - z.min() >= 30                              # several cm, running cranially
    assert cast["length_mm"] >= 30
    fill = case.instances == next(f["id"] for f in m["fills"] if f["level"] == "L1")
    assert np.mean(labels.hu[fill] == L1) > 0.95
    # cement raised the CT numbers where it was put, nothing else changed away from it
    assert np.median(case.volume.hu[fill]) > 1500 > np.median(ct.hu[fill])
    far = np.ones(ct.shape, bool)
    far[tuple(slice(max(int(a.min()) - 3, 0), int(a.max()) + 4) for a in np.nonzero(case.instances))] = False
    assert np.array_equal(case.volume.hu[far], ct.hu[far])


def test_truth_matches_manifest_and_keeps_the_real_prosthesis(real):
    ct, labels = real
    case = insert(ct, labels, "ivc_and_pulmonary", seed=2)
    voxel_ml = ct.voxel_volume_mm3 / 1000
    for obj in case.manifest["fills"] + case.manifest["leaks"]:
        mask = case.instances == obj["id"]
        assert obj["volume_ml"] == pytest.approx(mask.sum() * voxel_ml)
        assert np.all(case.truth[mask] == LOCATION_CODES[obj["location"]])
    emboli = [leak for leak in case.manifest["leaks"] if leak["location"] == "pulmonary_artery"]
    assert emboli, "lower-lobe vessels are in this CT, emboli must be placed"
    lungs = np.isin(labels.hu, [14, 17])
    for embolus in emboli:
        assert lungs[case.instances == embolus["id"]].mean() > 0.5
    metal = case.truth == MATERIAL_TRUTH_CODES["metal"]
    assert metal.sum() * voxel_ml > 5                           # the real hip prosthesis
    femur_left = 88  # TotalSegmentator puts it in the left femur (LPS x > 0), as its geometry does
    assert np.mean(labels.hu[metal] == femur_left) > 0.5
    assert ct.index_to_lps(np.argwhere(metal).mean(axis=0))[0] > 0


@pytest.mark.parametrize(("plan", "location", "label"), [
    ("epidural", "spinal_canal", L2), ("intradiscal", "intradiscal", L3), ("paravertebral_soft_tissue", "paravertebral_soft_tissue", L3),
])
def test_local_leaks_sit_outside_the_vertebral_body(real, plan, location, label):
    ct, labels = real
    case = insert(ct, labels, plan, seed=3)
    leak = next(leak for leak in case.manifest["leaks"] if leak["location"] == location)
    mask = case.instances == leak["id"]
    assert np.median(ct.hu[mask]) < 300                         # placed in soft tissue, disc or canal, not bone
    assert leak["volume_ml"] == pytest.approx(leak["geometric_volume_ml"], rel=0.1)
    body = case.anatomy.vertebral_body == 1
    assert body[mask].mean() < 0.3


def test_bad_requests_fail_clearly(real):
    ct, labels = real
    with pytest.raises(AnatomyError, match="vertebrae_T6"):
        insert(ct, labels, {"fills": {"T6": 4.0}, "leaks": []})
    with pytest.raises(SettingsError, match="unknown insertion plan"):
        insert(ct, labels, "no_such_plan")
    with pytest.raises(AnatomyError, match="do not match"):
        insert(ct, labels.hu[:-1], "clean_fill")


def test_other_class_maps(real, totalseg_example):
    from cementseg.anatomy.class_maps import TOTAL

    ct, _ = real
    v2 = load(totalseg_example / "abdomen_seg_v2_spine.nii.gz")
    case = insert(ct, v2, "clean_fill", seed=4, class_map=TOTAL)
    assert [f["level"] for f in case.manifest["fills"]] == ["L1", "L2"]
    for fill in case.manifest["fills"]:
        code = next(c for c, name in TOTAL.items() if name == f"vertebrae_{fill['level']}")
        assert np.mean(v2.hu[case.instances == fill["id"]] == code) > 0.95
