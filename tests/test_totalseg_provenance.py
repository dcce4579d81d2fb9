"""Per-component anatomy source, lowered confidence at doubted levels, fill-in-its-body check.

On the hand-made scene of locate_scene.py (exact geometry: bodies L2 and L1, IVC, canal), with
its anatomy declared as coming from TotalSegmentator.
"""

from __future__ import annotations

import copy

from locate_scene import BODY_L1, BODY_L2, IVC, anatomy_map, ball, box, candidate, volume_with

from cementseg.anatomy.totalseg_checks import POSITION_RULE, record_anatomy_sources
from cementseg.locate import locate_findings
from cementseg.settings import Settings

TS = "totalsegmentator"


def _scene(source_of_levels: str | None = TS):
    fill_l1 = box(BODY_L1) & ball((58, 55, 49), 9)
    fill_l2 = box(BODY_L2) & ball((24, 55, 49), 9)
    ivc_cast = box((slice(40, 70), slice(21, 25), slice(17, 21)))  # thin cast inside the IVC, away from the spine
    assert ivc_cast.sum() and (box(IVC) & ivc_cast).sum() == ivc_cast.sum()
    volume = volume_with(fill_l1, fill_l2, ivc_cast)
    anatomy = anatomy_map()
    anatomy.source = {"vertebral_body": TS, "inferior_vena_cava": TS, "spinal_canal": "builtin"}
    if source_of_levels:
        anatomy.source["vertebral_levels"] = source_of_levels
    candidates = [candidate(volume, m, i) for i, m in enumerate((fill_l1, fill_l2, ivc_cast), start=1)]
    components = locate_findings(candidates, volume, anatomy, Settings())
    return volume, anatomy, components


def _by_location(components):
    out = {}
    for c in components:
        out.setdefault(c.location if c.location != "vertebral_body" else c.source_vertebra, c)
    return out


def test_each_decision_names_its_anatomy_source():
    volume, anatomy, components = _scene()
    assert record_anatomy_sources(components, volume, anatomy, Settings()) == []
    found = _by_location(components)
    assert found["L1"].evidence["anatomy_source"] == {
        "location": TS, "location_structure": "vertebral_body", "vertebral_level": TS}
    assert found["L1"].evidence["share_in_labelled_body"] == 1.0
    ivc = found["inferior_vena_cava"]
    assert ivc.evidence["anatomy_source"]["location"] == TS
    assert ivc.evidence["anatomy_source"]["location_structure"] == "inferior_vena_cava"
    assert all(c.confidence == 1.0 for c in (found["L1"], found["L2"]))


def test_doubted_level_lowers_confidence_of_its_findings_only():
    volume, anatomy, components = _scene()
    anatomy.level_doubts = {2: "the L1 label is split into 2 separate pieces"}  # body 2 is L1
    before = {id(c): c.confidence for c in components}
    record_anatomy_sources(components, volume, anatomy, Settings())
    found = _by_location(components)
    assert found["L1"].confidence == 0.5 * before[id(found["L1"])]
    assert found["L1"].evidence["level_doubt"] == "the L1 label is split into 2 separate pieces"
    assert found["L2"].confidence == before[id(found["L2"])] and "level_doubt" not in found["L2"].evidence


def test_fill_outside_the_body_it_is_said_to_be_in():
    volume, anatomy, components = _scene()
    wrong = copy.deepcopy(_by_location(components)["L1"])
    wrong.evidence["source_vertebra_id"], wrong.source_vertebra = 1, "L2"  # said to be L2, lies in L1
    warnings = record_anatomy_sources([wrong], volume, anatomy, Settings())
    assert wrong.evidence["share_in_labelled_body"] == 0.0
    assert wrong.confidence == 0.5 and "only 0% of the fill lies in the body labelled L2" in wrong.evidence["level_doubt"]
    assert len(warnings) == 1 and "mix neighbouring vertebrae" in warnings[0]


def test_builtin_levels_are_not_second_guessed():
    volume, anatomy, components = _scene(source_of_levels=None)
    wrong = copy.deepcopy(_by_location(components)["L1"])
    wrong.evidence["source_vertebra_id"] = 1
    assert record_anatomy_sources([wrong], volume, anatomy, Settings()) == []
    assert wrong.confidence == 1.0 and wrong.evidence["anatomy_source"]["vertebral_level"] == "builtin"


def test_position_rule_is_named_when_no_structure_decided():
    volume, anatomy, components = _scene()
    anatomy.structures[...] = 1  # soft tissue everywhere: no structure means "inferior_vena_cava"
    ivc = _by_location(components)["inferior_vena_cava"]
    record_anatomy_sources([ivc], volume, anatomy, Settings())
    assert ivc.evidence["anatomy_source"]["location"] == POSITION_RULE
    assert ivc.evidence["anatomy_source"]["location_structure"] is None
