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
