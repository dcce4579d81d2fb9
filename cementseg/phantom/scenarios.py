"""Named clinical scenarios: each reproduces a published case (CLINICAL.md) or is a negative control.

A scenario says which contrast phase, which part of the body the default field of view
covers, and builds its cement and confounders from a random generator (so a seed fixes
cement density, emboli and plaques).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from . import cement, confounders
from .inclusions import Inclusion
from .layout import VERTEBRAE
from .lungs import ArterySegment
from .materials import CEMENT_HU_RANGE

Builder = Callable[[np.random.Generator, list[ArterySegment]], list[Inclusion]]


@dataclass(frozen=True)
class Scenario:
    """``z_range_mm``: the cranio-caudal extent (mm, L1 centre = 0) the default field of view covers."""

    name: str
    reader_should_find: str
    seed_case: str
    phase: str
    z_range_mm: tuple[float, float]
    build: Builder
    streaks: bool = True

    def inclusions(self, rng: np.random.Generator, tree: list[ArterySegment]) -> list[Inclusion]:
        """The scenario's cement and confounders, leaks split from the fills at the cortex."""
        return cement.split_at_cortex(self.build(rng, tree))


def _cement_hu(rng: np.random.Generator) -> float:
    return float(rng.uniform(*CEMENT_HU_RANGE))


def _fills(rng, hu, plan: list[tuple[str, float, str]]) -> list[Inclusion]:
    return [
        cement.fill(level, volume_ml * rng.uniform(0.9, 1.1), hu, rng, style)
        for level, volume_ml, style in plan
    ]


def _clean_fill(rng, tree):
    hu = _cement_hu(rng)
    return _fills(
        rng, hu, [("L1", 5.5, "ellipsoid"), ("L2", 4.0, "cloud")]
    ) + confounders.aortic_calcifications(rng, 4)


def _ivc_linear_leak(rng, tree):
    hu = _cement_hu(rng)
    inclusions = _fills(rng, hu, [("T12", 4.0, "ellipsoid"), ("L1", 5.0, "cloud"), ("L2", 4.5, "ellipsoid")])
    inclusions += cement.anterior_plexus_to_ivc("L1", hu, cast_length_mm=50.0, rng=rng)
    return inclusions + confounders.screws_and_rods(["T12", "L2"]) + confounders.ivc_reflux(rng)


def _ivc_and_pulmonary(rng, tree):
    hu = _cement_hu(rng)
    inclusions = _fills(rng, hu, [("L4", 5.0, "cloud"), ("L5", 4.5, "ellipsoid")])
    inclusions += cement.paravertebral_to_ivc("L4", "L1", hu, rng)
    inclusions += cement.pulmonary_emboli(
        tree, 8, "L4", hu, rng, right_weight=2.0, below_z_mm=VERTEBRAE["T10"].top_mm
    )
    return inclusions + confounders.aortic_calcifications(rng, 5)


def _paravertebral_to_lungs(rng, tree):
    hu = _cement_hu(rng)
    inclusions = _fills(rng, hu, [("T12", 4.0, "cloud"), ("L1", 5.0, "cloud")])
    inclusions += cement.segmental_to_azygos("T12", hu, rng)
    inclusions.append(cement.right_heart_fragment("T12", hu))
    return inclusions + cement.pulmonary_emboli(
        tree, 14, "T12", hu, rng, right_weight=1.0, below_z_mm=VERTEBRAE["T7"].top_mm
    )


def _intradural(rng, tree):
    hu = _cement_hu(rng)
    return _fills(rng, hu, [("L2", 5.0, "ellipsoid")]) + [cement.intradural_collection("L2", hu, 35.0)]


def _pulmonary_emboli_only(rng, tree):
    hu = _cement_hu(rng)
    inclusions = _fills(rng, hu, [("T12", 4.0, "ellipsoid"), ("L1", 4.5, "ellipsoid")])
    return inclusions + cement.pulmonary_emboli(
        tree, 6, "L1", hu, rng, right_weight=1.3, below_z_mm=VERTEBRAE["T7"].top_mm
    )


def _intradiscal(rng, tree):
    hu = _cement_hu(rng)
    return _fills(rng, hu, [("L3", 5.0, "cloud")]) + [cement.intradiscal_leak("L3", hu)]


def _minor_leaks(rng, tree):
    hu = _cement_hu(rng)
    inclusions = _fills(rng, hu, [("L2", 4.5, "ellipsoid"), ("L3", 5.0, "ellipsoid")])
    return inclusions + [
        cement.needle_tract("L2", -1, hu),
        cement.paravertebral_soft_tissue("L3", 1, hu),
        cement.neural_foramen_leak("L2", 1, hu),
        cement.epidural_leak("L3", hu),
    ]


def _hardware_no_cement(rng, tree):
    return confounders.screws_and_rods(["T12", "L1", "L2"]) + confounders.aortic_calcifications(rng, 3)


def _ctpa_no_cement(rng, tree):
    return (
        confounders.stent_graft(rng)
        + confounders.sternal_wires()
        + confounders.pacing_lead()
        + confounders.aortic_calcifications(rng, 3)
    )


def _z(low: str, high: str, margin_mm: float = 10.0) -> tuple[float, float]:
    return VERTEBRAE[low].bottom_mm - margin_mm, VERTEBRAE[high].top_mm + margin_mm


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "clean_fill",
            "cement only inside the L1 and L2 vertebral bodies; no leak (aortic wall calcifications)",
            "negative control",
            "non_contrast",
            _z("L3", "T11"),
            _clean_fill,
        ),
        Scenario(
            "ivc_linear_leak",
            "T12-L2 fills with pedicle screws; cement from the left anterior cortex of L1 in the "
            "anterior external plexus and a thin 5 cm linear cast running up the infrahepatic IVC; CTPA contrast "
            "refluxing into the IVC and hepatic veins (not cement)",
            "case 1: 63-year-old woman, T12-L2 vertebroplasty with transpedicular fixation",
            "ctpa",
            _z("L3", "T9", 0.0),
            _ivc_linear_leak,
        ),
        Scenario(
            "ivc_and_pulmonary",
            "L4-L5 fills; a linear tract through the right paravertebral plexus into the IVC up to "
            "L1; 8 pulmonary emboli, right lower lobe predominant",
            "case 2: 55-year-old man, L4-L5 augmentation after spondylodiscitis",
            "non_contrast",
            _z("L5", "T10", 0.0),
            _ivc_and_pulmonary,
        ),
        Scenario(
            "paravertebral_to_lungs",
            "T12-L1 fills; cement in a right segmental vein and the azygos vein; a fragment "
            "in the right ventricle; 14 tubular and branching emboli through both lungs",
            "case 3: 69-year-old woman, osteoporotic fractures",
            "non_contrast",
            _z("L2", "T7", 0.0),
            _paravertebral_to_lungs,
        ),
        Scenario(
            "intradural",
            "L2 fill; cement through the posterior wall into the thecal sac: a 3.5 cm intradural "
            "collection at L1-L2",
            "case 4: 64-year-old woman, L2 vertebroplasty",
            "non_contrast",
            _z("L4", "T11"),
            _intradural,
        ),
        Scenario(
            "pulmonary_emboli_only",
            "T12-L1 fills, no visible venous route; 6 small pulmonary emboli",
            "case 5: 75-year-old woman, chest CT after vertebroplasty",
            "non_contrast",
            _z("L1", "T7", 0.0),
            _pulmonary_emboli_only,
        ),
        Scenario(
            "intradiscal",
            "L3 fill; cement through the superior endplate into the L3-L2 disc",
            "endplate (type D) leak",
            "non_contrast",
            _z("L5", "L1"),
            _intradiscal,
        ),
        Scenario(
            "minor_leaks",
            "L2-L3 fills; right needle tract at L2, left paravertebral soft tissue at L3, left L2-L3 "
            "neural foramen, epidural sheet at L3",
            "the minor routes (types C and B, needle tract)",
            "non_contrast",
            _z("L4", "L1"),
            _minor_leaks,
        ),
        Scenario(
            "hardware_no_cement",
            "pedicle screws and rods T12-L2 (metal, streaks); no cement",
            "negative control",
            "non_contrast",
            _z("L3", "T11"),
            _hardware_no_cement,
        ),
        Scenario(
            "ctpa_no_cement",
            "CTPA: dense contrast in the SVC and right heart, an aortic stent graft, sternal wires, a "
            "pacemaker lead; no cement",
            "negative control",
            "ctpa",
            _z("L3", "T6", 0.0),
            _ctpa_no_cement,
        ),
    )
}

#: extra confounders any scenario can be asked for by name
EXTRA_CONFOUNDERS: dict[str, Callable[[np.random.Generator], list[Inclusion]]] = {
    "screws_rods": lambda rng: confounders.screws_and_rods(["L3", "L4"]),
    "aortic_calcification": lambda rng: confounders.aortic_calcifications(rng, 5),
    "stent_graft": confounders.stent_graft,
    "sternal_wires": lambda rng: confounders.sternal_wires(),
    "pacing_lead": lambda rng: confounders.pacing_lead(),
    "hip_prosthesis": lambda rng: confounders.hip_prosthesis(-1),
    "ivc_reflux": confounders.ivc_reflux,
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise SettingsError(
            f"unknown phantom scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None
