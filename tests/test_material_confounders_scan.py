"""CTPA contrast around a venous leak on 3 mm voxels, scanned end to end (built-in anatomy).

`ivc_linear_leak` (seed case 1) is a CT pulmonary angiogram: contrast fills the pulmonary
arteries (480 HU) and refluxes into the IVC (about 1300 HU) next to the cement cast. On 3 mm
voxels the densest pieces of an enhanced artery in the lung and the blurred edge of the reflux
column reach the faint pass; neither may become a leak (phantom truth, `cementseg.evaluate`).
"""

from __future__ import annotations

import pytest

from cementseg.evaluate import score_scan
from cementseg.phantom import generate
from cementseg.pipeline import scan


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_enhanced_pulmonary_arteries_and_reflux_edge_are_no_leaks_on_3_mm_voxels(seed):
    case = generate("ivc_linear_leak", seed=seed, spacing_mm=(3.0, 3.0, 3.0))
    findings = scan(case.volume)
    score = score_scan(findings, case, f"ivc_linear_leak 3 mm seed {seed}")
    assert all(leak["location"] != "pulmonary_artery" for leak in case.manifest["leaks"])  # no embolus
    assert [c.location for c in findings.components if c.is_leak and c.location == "pulmonary_artery"] == []
    assert [f for f in score.false_leaks if f["location"] == "inferior_vena_cava"] == []
