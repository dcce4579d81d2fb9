"""The accuracy bar of issue 4 on a subset of benchmarks/validate.py small enough for the suite.

Each case is generated, scanned end to end (candidates, built-in anatomy, materials, locate) and
scored with `cementseg.evaluate`; `bar_failures` lists every figure below the bar (a missed or
mislocated leak >= 0.02 mL, a fill or confounder called a leak, any leak on a negative control,
total leak volume off by more than 15 %). docs/validation.md has the full table.
"""

from __future__ import annotations

import pytest

from cementseg.evaluate import NEGATIVE_CONTROLS, bar_failures, score_scan
from cementseg.phantom import generate
from cementseg.pipeline import scan

# (scenario, isotropic voxel size mm, seed): the negative controls on coarse voxels, where partial
# volume and metal streaks are hardest, a large canal leak, the small leaks (needle tract,
# foramen, soft tissue, canal), the IVC cast, pulmonary emboli and a disc leak. Cases of
# docs/validation.md that do not meet the bar yet are left out so that this test guards what
# works; add them as they pass.
PHANTOM_CASES = [
    ("clean_fill", 3.0, 1),
    ("hardware_no_cement", 3.0, 0),
    ("ctpa_no_cement", 3.0, 0),
    ("intradural", 3.0, 0),
    ("minor_leaks", 1.5, 0),
    ("minor_leaks", 3.0, 0),  # the foramen lump at disc level, not a needle tract
    ("intradural", 0.8, 0),  # the canal tracked past a 35 mm cast; the fill not cut in two
    ("ivc_linear_leak", 1.5, 0),
    ("pulmonary_emboli_only", 1.5, 1),
    ("intradiscal", 3.0, 0),
    ("ctpa_no_cement", 1.5, 0),
    ("ivc_and_pulmonary", 1.5, 0),  # a faint dip at the end of the view no longer splits L5
    ("pulmonary_emboli_only", 3.0, 1),  # an embolus at the lung base, in lung, not in the heart
    ("ivc_linear_leak", 1.5, 1),  # the cortex beside the plexus cast is not its blurred tail (+16 %)
    ("paravertebral_to_lungs", 3.0, 1),  # venous casts hugging the cortex, split off the bone
    ("intradiscal", 1.5, 1),  # the cemented disc reaches its endplates (-19 % before)
    ("paravertebral_to_lungs", 1.5, 0),  # the segmental vein's end is not the azygos cast's foot
    ("ivc_linear_leak", 3.0, 0),  # CTPA: an enhanced artery at the lung's edge is no leak (+19 %)
]

# (plan, seed) of `cementseg.phantom.insert` on the real abdominal CT
REAL_CASES = [
    ("clean_fill", 0),
    ("intradiscal", 0),
    ("epidural", 0),
    ("paravertebral_soft_tissue", 0),
    ("ivc_linear_leak", 0),
    ("ivc_linear_leak", 1),  # the plexus cast against the cortex (+21 % with the cortex as its tail)
]


def _score(case, name):
    return score_scan(scan(case.volume), case, name)


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "spacing_mm", "seed"), PHANTOM_CASES)
def test_phantom_case_meets_the_bar(scenario, spacing_mm, seed):
    case = generate(scenario, seed=seed, spacing_mm=(spacing_mm,) * 3)
    score = _score(case, f"{scenario} {spacing_mm} mm seed {seed}")
    assert bar_failures(score, scenario in NEGATIVE_CONTROLS) == []
    if scenario not in NEGATIVE_CONTROLS:
        assert score.required, "the scenario must hold leaks of at least 0.02 mL"


@pytest.mark.slow
@pytest.mark.parametrize(("plan", "seed"), REAL_CASES)
def test_real_ct_with_inserted_cement_meets_the_bar(totalseg_example, plan, seed):
    from cementseg.io import load
    from cementseg.phantom import insert

    volume = load(totalseg_example / "abdomen_ct.nii.gz")
    labels = load(totalseg_example / "abdomen_seg_v1.nii.gz")
    case = insert(volume, labels, plan, seed=seed)
    score = _score(case, f"real abdomen + {plan} seed {seed}")
    assert bar_failures(score, plan == "clean_fill") == []
