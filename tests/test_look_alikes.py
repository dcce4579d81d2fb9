"""Look-alikes added to a plain fill case (`generate(..., extra_confounders=...)`), scanned end to end.

Each case failed before its fix: the stent graft's rings cut the aortic lumen with streaks, so
the aorta was lost over the stent and its struts became paravertebral leaks; contrast refluxed
into the IVC and hepatic veins with no heart in view (an abdominal CT in an early phase) was
11 mL of cement in the IVC and liver.
"""

from __future__ import annotations

import numpy as np
import pytest

from cementseg.anatomy import build
from cementseg.anatomy.anatomy_map import STRUCTURES
from cementseg.evaluate import score_scan
from cementseg.phantom import generate
from cementseg.pipeline import scan


@pytest.mark.slow
def test_the_aorta_is_mapped_through_a_stent_graft_on_3_mm_voxels():
    """Every slice of the stented aorta (rings from L4 to L1) has the map's aorta on its lumen: its
    centre within the aortic radius (11.5 mm) of the true one (streaks cut the lumen, so the
    map's part of it wanders by a few mm)."""
    case = generate("clean_fill", seed=0, spacing_mm=(3.0, 3.0, 3.0), extra_confounders=("stent_graft",))
    stent = next(c for c in case.manifest["confounders"] if "stent graft" in c["description"])
    truth = case.volume.index_to_lps(np.argwhere(case.anatomy["aorta"]))
    anatomy = build(case.volume)
    mapped = anatomy.voxel_centres_lps(np.argwhere(anatomy.structures == STRUCTURES["aorta"]))
    off_mm = {}
    for z in np.unique(truth[:, 2]):
        if abs(z - stent["centroid_lps_mm"][2]) < stent["length_mm"] / 2:
            here = mapped[np.abs(mapped[:, 2] - z) < 1.0]
            centre = truth[truth[:, 2] == z, :2].mean(axis=0)
            off_mm[round(float(z))] = float(np.linalg.norm(here[:, :2].mean(axis=0) - centre)) if len(here) else None
    assert len(off_mm) > 20
    assert all(off is not None and off < 10.0 for off in off_mm.values()), str(off_mm)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spacing_mm", "phase"), [(1.5, "ctpa"), (3.0, "ctpa"), (3.0, "portal_venous")]
)
def test_contrast_refluxed_into_the_ivc_and_hepatic_veins_is_not_cement(spacing_mm, phase):
    """The reflux (1100-1430 HU in the IVC, 910-1240 HU in the hepatic veins) fills lumens wide
    enough to show their own HU, below any PMMA's; the fills stay cement."""
    case = generate(
        "clean_fill", seed=0, spacing_mm=(spacing_mm,) * 3, phase=phase, extra_confounders=("ivc_reflux",)
    )
    findings = scan(case.volume)
    score = score_scan(findings, case, f"clean_fill + reflux {spacing_mm} mm {phase}")
    assert score.cement_on_confounder == 0
    assert [f for f in score.false_leaks if f["location"] != "pulmonary_artery"] == []
    assert findings.summary["cemented_levels"] == ["L2", "L1"]


@pytest.mark.slow
def test_an_aortic_plaque_the_map_calls_bone_is_calcification_on_5_mm_slices():
    """clean_fill's plaques with screws and rods in L3-L4, 5 mm slices: a plaque on the aortic wall
    (peak 660 HU) lies half in what the map calls other bone -- any dense voxel outside the spine,
    the plaque's own -- and was a paravertebral leak."""
    case = generate("clean_fill", seed=0, spacing_mm=(5.0, 0.8, 0.8), extra_confounders=("screws_rods",))
    score = score_scan(scan(case.volume), case, "clean_fill + screws 5 mm")
    assert score.cement_on_confounder == 0 and score.false_leaks == []


@pytest.mark.slow
def test_a_cement_fragment_beside_a_pacing_lead_tip_is_found():
    """paravertebral_to_lungs with a pacing lead, 1.5 mm: the cement fragment in the right
    ventricle (peak 2460 HU, thin) lies 6 mm from the lead's tip and was taken for a streak."""
    case = generate("paravertebral_to_lungs", seed=0, spacing_mm=(1.5,) * 3, extra_confounders=("pacing_lead",))
    score = score_scan(scan(case.volume), case, "paravertebral_to_lungs + pacing lead 1.5 mm")
    right_heart = [leak for leak in score.required if leak["location"] == "right_heart"]
    assert [leak["location_correct"] for leak in right_heart] == [True]
    assert score.cement_on_confounder == 0 and score.false_leaks == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_stent_graft_struts_outside_the_mapped_lumen_are_no_leak_on_3_mm_voxels(seed):
    """3 mm voxels: the struts read 1300-1900 HU (no saturation) and streaks push the map's aortic
    lumen off the far wall, so one or two struts 4-5 mm outside it, or dense enough to be no
    plaque, were paravertebral or 'other' leaks. Together the struts ring the lumen."""
    case = generate("clean_fill", seed=seed, spacing_mm=(3.0,) * 3, extra_confounders=("stent_graft",))
    findings = scan(case.volume)
    score = score_scan(findings, case, f"clean_fill + stent graft 3 mm seed {seed}")
    assert score.cement_on_confounder == 0 and score.false_leaks == []
    assert findings.summary["cemented_levels"] == ["L2", "L1"]


@pytest.mark.slow
def test_stent_graft_rings_on_5_mm_slices_are_no_leak():
    """On 5 mm slices a slice through a ring is one piece of 0.5-3 mL, and the streaks hide the
    aorta from the map: no piece lies on its wall. The pieces still ring a lumen outside the spine."""
    case = generate("clean_fill", seed=0, spacing_mm=(5.0, 0.8, 0.8), extra_confounders=("stent_graft",))
    score = score_scan(scan(case.volume), case, "clean_fill + stent graft 5 mm")
    assert score.cement_on_confounder == 0 and score.false_leaks == []


@pytest.mark.slow
def test_an_ivc_cast_beside_a_stent_graft_is_found():
    """ivc_linear_leak with a stent graft, 1.5 mm, portal venous phase: the IVC cast (peak 2460 HU)
    lies 9 mm from a saturated strut and was taken for a streak, the map calling a third of its
    own voxels other bone; the struts themselves must still be no leak."""
    case = generate(
        "ivc_linear_leak", seed=0, spacing_mm=(1.5,) * 3, phase="portal_venous", extra_confounders=("stent_graft",)
    )
    score = score_scan(scan(case.volume), case, "ivc_linear_leak + stent graft 1.5 mm")
    assert score.sensitivity == 1.0
    assert score.cement_on_confounder == 0 and score.false_leaks == []


@pytest.mark.slow
def test_contrast_refluxed_up_5_mm_slices_is_not_cement():
    """CTPA on 5 mm slices, seed 0: the reflux columns run up the slices, 6-9 pixels of 0.8 mm
    across but not five 5 mm voxels, so their core (1100-1430 HU) was not taken for pure material
    and passed for PMMA: 7.7 mL of cement in the IVC and hepatic veins."""
    case = generate("clean_fill", seed=0, spacing_mm=(5.0, 0.8, 0.8), phase="ctpa", extra_confounders=("ivc_reflux",))
    score = score_scan(scan(case.volume), case, "clean_fill + reflux 5 mm ctpa")
    assert score.cement_on_confounder == 0 and score.false_leaks == []
