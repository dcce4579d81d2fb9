"""Stages 1-2 on phantom scenarios at 0.8, 1.5 and 3 mm voxels, scored against voxel truth.

Field of view: 200 mm in-plane and 120 mm cranio-caudal around each scenario's levels, to keep
the 0.8 mm cases small; the anatomy map comes straight from the phantom's own labels, so these
tests judge the material rules, not an anatomy provider.
"""

import numpy as np
import pytest
from segment_scene import anatomy_from_phantom

from cementseg.material import classify_materials
from cementseg.segment import find_candidates
from cementseg.settings import Settings
from cementseg.vocabulary import LOCATION_CODES, MATERIAL_TRUTH_CODES

phantom = pytest.importorskip("cementseg.phantom")

SPACINGS = (0.8, 1.5, 3.0)
CONFOUNDER_CODES = [MATERIAL_TRUTH_CODES["metal"], MATERIAL_TRUTH_CODES["contrast"]]
CEMENT_CODES = list(LOCATION_CODES.values())


def scan(scenario: str, spacing: float):
    shape = (round(120 / spacing), round(200 / spacing), round(200 / spacing))
    case = phantom.generate(scenario, seed=3, spacing_mm=(spacing,) * 3, shape=shape)
    candidates = find_candidates(case.volume, Settings())
    classify_materials(candidates, case.volume, anatomy_from_phantom(case), Settings())
    return case, candidates


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("scenario", ["hardware_no_cement", "ctpa_no_cement"])
def test_no_cement_in_negative_controls(scenario, spacing):
    """Screws, rods, stent, wires, lead, dense contrast: never cement; and nothing else is either."""
    case, candidates = scan(scenario, spacing)
    truth = case.truth.reshape(-1)
    confounders = [c for c in candidates if np.isin(truth[c.flat_index], CONFOUNDER_CODES).any()]
    assert confounders, "the scenario's confounders must show up as candidates"
    assert [(c.id, c.reason) for c in confounders if c.material == "cement"] == []
    assert [(c.id, c.reason) for c in candidates if c.material == "cement"] == []
    assert {c.material for c in confounders} & {"metal", "contrast"}


HUGGING_LEAK_ON_3MM = pytest.mark.xfail(
    strict=True,
    reason="known limitation: on 3 mm voxels (seed 3, cement 1750 HU) the plexus leak along the L1 "
    "cortex peaks at 1116 HU, below cortex_max_hu (real cortex reaches that on 3 mm voxels), and stays "
    "bone with the cortex candidate; the IVC cast in the 1300 HU reflux is mostly taken as contrast",
)


@pytest.mark.parametrize(
    "scenario, spacing",
    [("clean_fill", s) for s in SPACINGS]
    + [
        ("ivc_linear_leak", 0.8),
        ("ivc_linear_leak", 1.5),
        pytest.param("ivc_linear_leak", 3.0, marks=HUGGING_LEAK_ON_3MM),
    ],
)
def test_every_cement_object_is_found_as_cement(scenario, spacing):
    """Every fill and leak of the manifest lies mostly in cement candidates; no cement without truth."""
    case, candidates = scan(scenario, spacing)
    truth, owner = case.truth.reshape(-1), case.instances.reshape(-1)
    cement = [c for c in candidates if c.material == "cement"]
    cement_voxels = np.concatenate([c.flat_index for c in cement])
    objects = case.manifest["fills"] + case.manifest["leaks"]
    assert objects
    for item in objects:
        voxels = np.flatnonzero(owner == item["id"])
        if voxels.size:  # an object outside the field of view has no voxels
            assert np.isin(voxels, cement_voxels).mean() >= 0.5, item["description"]
    assert [(c.id, c.reason) for c in cement if not np.isin(truth[c.flat_index], CEMENT_CODES).any()] == []
    assert [
        (c.id, c.reason)
        for c in candidates
        if c.material == "cement"
        and c.evidence["core"] == "metal"
        and np.isin(truth[c.flat_index], CONFOUNDER_CODES).mean() > 0.5
    ] == []
