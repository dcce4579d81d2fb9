"""Cement that joins the bone it hugs in one candidate (coarse voxels) is split off it.

`segment.dense_cores` finds the parts of a candidate around voxels denser than any bone;
`material.classify_materials` makes those of a bone candidate in a vertebra candidates of their
own when the rules call them cement (the rest stays bone).
"""

from __future__ import annotations

import numpy as np
import pytest

from cementseg.evaluate import score_scan
from cementseg.phantom import generate
from cementseg.pipeline import scan
from cementseg.segment import dense_cores
from cementseg.settings import Settings

CORTEX_MAX_HU = Settings().cortex_max_hu


def test_a_cast_on_a_bone_plateau_is_its_core_and_halo():
    """A 1400 HU line with a 1000 HU halo on a 600 HU cortex: the line and halo, not the cortex."""
    hu = np.full((6, 8, 8), 40, np.int16)
    hu[1:5, 2:6, 2:5] = 600  # cortex plateau
    hu[1:5, 3, 5] = 1400  # the cast beside it
    hu[1:5, 4, 5] = 1000  # its partial-volume halo: more than half-way from 600 to the core level
    hu[1:5, 2, 5] = 900  # less than half-way: plateau side
    hu[1:5, 6, 2] = 1250  # a denser bump of the cortex beyond the halo, no core of its own
    candidate = np.flatnonzero(hu >= 450)
    parts, plateau_hu = dense_cores(candidate, hu, CORTEX_MAX_HU)
    assert plateau_hu == 600.0
    assert len(parts) == 1
    np.testing.assert_array_equal(parts[0], np.flatnonzero((hu == 1400) | (hu == 1000)))


def test_no_voxel_denser_than_bone_no_part():
    hu = np.full((4, 6, 6), 40, np.int16)
    hu[1:3, 1:5, 1:5] = 850
    hu[2, 2, 2] = int(CORTEX_MAX_HU) - 1
    parts, plateau_hu = dense_cores(np.flatnonzero(hu >= 450), hu, CORTEX_MAX_HU)
    assert parts == []
    assert plateau_hu == 850.0


def _leak_ml_on(findings, case, leak_id: int) -> float:
    """Cement volume (mL) of the leak findings lying mostly on the truth leak ``leak_id``."""
    owner = case.instances.reshape(-1)
    total = 0.0
    for component in findings.components:
        if component.is_leak:
            ids, counts = np.unique(owner[component.flat_index], return_counts=True)
            total += component.volume_ml if ids[np.argmax(counts)] == leak_id else 0.0
    return total


def _needle_tract_3mm():
    case = generate("minor_leaks", seed=1, spacing_mm=(3.0, 3.0, 3.0))
    findings = scan(case.volume)
    score = score_scan(findings, case, "minor_leaks 3 mm seed 1")
    [tract] = [t for t in score.truth_leaks if t["location"] == "needle_tract"]
    return case, findings, score, tract


@pytest.mark.slow
def test_a_needle_tract_in_the_pedicle_on_3_mm_voxels_is_cement():
    """minor_leaks seed 1 on 3 mm voxels: the tract (1500-1700 HU) joins the 520 HU pedicle; split
    off it, it is found as a cement leak (before: all of it bone), and nothing else is."""
    _, _, score, tract = _needle_tract_3mm()
    assert tract["found"]
    assert score.false_leaks == []


@pytest.mark.slow
def test_a_needle_tract_on_3_mm_voxels_keeps_its_location_and_volume():
    """The tract's partial-volume peaks came out as three pieces 6-10 mm long (before: called neural
    foramen and other, -30 % of its volume): a dip with no seed voxel between two peaks stays with
    them (`segment`), and one denser than the 520 HU pedicle it lies in joins the pieces beside it
    (`material`): one tract, 30 mm along the pedicle."""
    case, findings, _, tract = _needle_tract_3mm()
    assert tract["predicted_location"] == "needle_tract"
    assert _leak_ml_on(findings, case, tract["manifest_id"]) == pytest.approx(tract["volume_ml"], rel=0.15)
