"""Stages 1-2 on the real abdominal CT (3 mm, no cement, a metal right hip prosthesis)."""

import pytest

from cementseg.material import classify_materials
from cementseg.segment import find_candidates
from cementseg.settings import Settings

sitk = pytest.importorskip("SimpleITK")


def test_real_abdomen_has_no_cement_and_its_prosthesis_is_metal(totalseg_example):
    from cementseg.anatomy.external import from_labels
    from cementseg.volume import CTVolume

    volume = CTVolume.from_sitk(sitk.ReadImage(str(totalseg_example / "abdomen_ct.nii.gz")))
    anatomy = from_labels(
        volume,
        sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz")),
        "total_v1",
        vertebrae_body=sitk.ReadImage(str(totalseg_example / "abdomen_vertebrae_body.nii.gz")),
    )
    for with_anatomy in (True, False):
        candidates = find_candidates(volume, Settings())
        classify_materials(candidates, volume, anatomy if with_anatomy else None, Settings())
        assert [(c.id, c.reason) for c in candidates if c.material == "cement"] == []
        largest = max(candidates, key=lambda c: c.volume_ml * (c.hu_p95 >= 1500))
        assert largest.material == "metal" and largest.volume_ml > 15, largest.reason
        assert largest.hu_max >= 3000 and "prosthesis" in largest.reason


@pytest.mark.slow
def test_real_abdomen_ivc_cast_hugging_l4_and_emboli_in_the_lung_bases_are_found(totalseg_example):
    """Cement inserted into the real 3 mm abdominal CT (`phantom.insert`, ivc_and_pulmonary, seed 1).

    The IVC cast (1100 HU at most on 3 mm voxels, fainter than the cortex it runs beside) joined
    L4's bone candidate: it is split off as a cast up the IVC lumen, where no bone lies. The two
    emboli lie in lung bases that the top of the view cuts (about 40 mL each in view): they are
    lung, and a few branches hold no contrast level of their own to call the emboli contrast.
    Before: the cast was bone and both emboli bone or contrast, 0 of 4 leaks found.
    """
    from cementseg.evaluate import score_scan
    from cementseg.io import load
    from cementseg.phantom import insert
    from cementseg.pipeline import scan

    volume = load(totalseg_example / "abdomen_ct.nii.gz")
    labels = load(totalseg_example / "abdomen_seg_v1.nii.gz")
    case = insert(volume, labels, "ivc_and_pulmonary", seed=1)
    score = score_scan(scan(case.volume), case, "real abdomen + ivc_and_pulmonary seed 1")
    found = {(t["location"], t["predicted_location"]) for t in score.truth_leaks if t["found"]}
    assert ("inferior_vena_cava", "inferior_vena_cava") in found
    assert sum(t["location"] == t.get("predicted_location") == "pulmonary_artery" for t in score.truth_leaks) == 2
    assert score.false_leaks == []
