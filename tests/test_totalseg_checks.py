"""TotalSegmentator's vertebra labels are checked, not trusted: deliberately corrupted real label files.

The real v1 labels of the abdominal CT (L5..T11, codes 18..24) are corrupted the way
TotalSegmentator is known to fail: two levels swapped, one label cut in two, a level left
out, the names shifted past an unlabelled vertebra. Each must give a warning and a doubt on
the vertebrae concerned, and a finding at a doubted level must have lowered confidence.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from cementseg.anatomy.external import from_labels
from cementseg.anatomy.totalseg_checks import cross_check_levels
from cementseg.io import load
from cementseg.phantom import insert
from cementseg.pipeline import scan
from cementseg.settings import Settings

CODE = {"L5": 18, "L4": 19, "L3": 20, "L2": 21, "L1": 22, "T12": 23, "T11": 24}
NO_CROSSCHECK = Settings(totalseg_level_crosscheck=False)


@pytest.fixture(scope="module")
def abdomen(totalseg_example):
    ct = load(totalseg_example / "abdomen_ct.nii.gz")
    image = sitk.ReadImage(str(totalseg_example / "abdomen_seg_v1.nii.gz"))
    return ct, image, load(totalseg_example / "abdomen_seg_v1.nii.gz")


def _corrupted(image: sitk.Image, change) -> sitk.Image:
    labels = sitk.GetArrayFromImage(image)
    changed = labels.copy()
    change(labels, changed)
    out = sitk.GetImageFromArray(changed)
    out.CopyInformation(image)
    return out


def _doubted_levels(anatomy) -> set:
    return {anatomy.vertebra_levels[v] for v in anatomy.level_doubts}


def test_real_labels_pass_every_check(abdomen):
    ct, image, _ = abdomen
    anatomy = from_labels(ct, image, "total_v1")
    assert anatomy.warnings == [] and anatomy.level_doubts == {}
    confirmed = int(anatomy.level_note.split(" confirms ")[1].split(" of ")[0])
    assert confirmed >= 4  # the built-in count names most bodies the same way


def test_swapped_levels(abdomen):
    def swap(labels, changed):
        changed[labels == CODE["L2"]] = CODE["L3"]
        changed[labels == CODE["L3"]] = CODE["L2"]

    anatomy = from_labels(abdomen[0], _corrupted(abdomen[1], swap), "total_v1")
    assert "vertebra labels out of anatomical order: L2 lies below L3" in anatomy.warnings
    assert any("disagree with the built-in count" in w for w in anatomy.warnings)
    assert {"L2", "L3"} <= _doubted_levels(anatomy)
    assert "L5" not in _doubted_levels(anatomy)


def test_split_label(abdomen):
    def cut(labels, changed):
        zs = np.nonzero((labels == CODE["L3"]).any(axis=(1, 2)))[0]
        middle = zs[len(zs) // 2]
        slab = changed[middle - 1 : middle + 1]
        slab[slab == CODE["L3"]] = 0

    anatomy = from_labels(abdomen[0], _corrupted(abdomen[1], cut), "total_v1", settings=NO_CROSSCHECK)
    assert any(w.startswith("the L3 label is split into") for w in anatomy.warnings)
    assert _doubted_levels(anatomy) == {"L3"}


def test_level_left_out(abdomen):
    def drop(labels, changed):
        changed[labels == CODE["L2"]] = 0

    anatomy = from_labels(abdomen[0], _corrupted(abdomen[1], drop), "total_v1", settings=NO_CROSSCHECK)
    assert any(w.startswith("no label for L2 between T11 and L5") for w in anatomy.warnings)
    assert "L2" not in anatomy.vertebra_levels.values()
    assert _doubted_levels(anatomy) == {"L5", "L4", "L3", "L1", "T12", "T11"}


def test_names_shifted_past_an_unlabelled_vertebra(abdomen):
    """L2 unlabelled and L3, L4, L5 renamed L2, L3, L4: consecutive names, a gap in space."""

    def shift(labels, changed):
        changed[labels == CODE["L2"]] = 0
        for old, new in (("L3", "L2"), ("L4", "L3"), ("L5", "L4")):
            changed[labels == CODE[old]] = CODE[new]

    anatomy = from_labels(abdomen[0], _corrupted(abdomen[1], shift), "total_v1")
    assert any(w.startswith("L1 and L2 labels are") and "unlabelled vertebra" in w for w in anatomy.warnings)
    crosscheck = next(w for w in anatomy.warnings if "disagree with the built-in count" in w)
    assert "L2 (built-in L3)" in crosscheck
    assert {"L2", "L3", "L4"} <= _doubted_levels(anatomy)


def test_whole_numbering_shifted_is_caught_by_the_builtin_count(abdomen):
    """Every name one level too low (L4 called L5, ...): the labels pass their own checks, only the count disagrees."""

    def shift(labels, changed):
        names = list(CODE)  # L5 ... T11, caudal to cranial
        for old, new in zip(names[1:], names[:-1], strict=True):  # the real L4 gets L5's code, ...
            changed[labels == CODE[old]] = CODE[new]
        changed[labels == CODE["L5"]] = 0

    anatomy = from_labels(abdomen[0], _corrupted(abdomen[1], shift), "total_v1")
    crosscheck = [w for w in anatomy.warnings if "disagree with the built-in count" in w]
    assert len(crosscheck) == 1 and len(anatomy.warnings) == 1
    assert "L5 (built-in L4)" in crosscheck[0] and "L1 (built-in T12)" in crosscheck[0]
    assert {"L5", "L4", "L3", "L2"} <= _doubted_levels(anatomy)


def test_cross_check_matches_bodies_one_to_one():
    """A built-in body spanning two labelled bodies (a missed disc) or without a name decides nothing."""
    external = np.zeros((30, 4, 4), np.uint8)
    builtin = np.zeros_like(external)
    for vid, z in ((1, 0), (2, 10), (3, 20)):
        external[z + 1 : z + 9] = vid
    builtin[1:9] = 1  # the same body as external 1
    builtin[11:29] = 2  # spans external 2 and 3
    warnings, doubts, confirmed = cross_check_levels(external, {1: "L3", 2: "L2", 3: "L1"}, builtin, {1: "L4", 2: "L2"})
    assert doubts == {1: "TotalSegmentator calls this body L3, the built-in count L4"} and confirmed == 0
    assert "L3 (built-in L4)" in warnings[0]
    _, doubts, confirmed = cross_check_levels(external, {1: "L3", 2: "L2", 3: "L1"}, builtin, {1: "L3", 2: None})
    assert doubts == {} and confirmed == 1


def test_findings_at_doubted_levels_have_lowered_confidence(abdomen, tmp_path):
    ct, image, labels = abdomen
    case = insert(ct, labels, "clean_fill", seed=5)  # cement in the real L1 and L2 bodies

    def swap(labels, changed):
        changed[labels == CODE["L1"]] = CODE["L2"]
        changed[labels == CODE["L2"]] = CODE["L1"]

    sitk.WriteImage(image, str(tmp_path / "good.nii.gz"))
    sitk.WriteImage(_corrupted(image, swap), str(tmp_path / "swapped.nii.gz"))
    good = scan(case.volume, anatomy=tmp_path / "good.nii.gz", totalseg_level_crosscheck=False)
    bad = scan(case.volume, anatomy=tmp_path / "swapped.nii.gz", totalseg_level_crosscheck=False)
    good_fills = {c.source_vertebra: c for c in good.components if c.location == "vertebral_body"}
    bad_fills = {c.source_vertebra: c for c in bad.components if c.location == "vertebral_body"}
    assert set(good_fills) == set(bad_fills) == {"L1", "L2"}
    for level, fill in good_fills.items():
        assert fill.confidence == 1.0 and "level_doubt" not in fill.evidence
        assert fill.evidence["share_in_labelled_body"] > 0.9
        assert fill.evidence["anatomy_source"]["vertebral_level"] == "totalsegmentator"
        doubted = bad_fills[level]
        assert doubted.confidence == 0.5
        assert "out of anatomical order" in doubted.evidence["level_doubt"]
    assert "vertebra labels out of anatomical order: L1 lies below L2" in bad.warnings
