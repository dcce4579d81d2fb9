"""CT numbers (HU) of the phantom's tissues per contrast phase, from ../shared/design/CLINICAL.md."""

from __future__ import annotations

from ..errors import SettingsError

PHASES = ("non_contrast", "portal_venous", "ctpa")

#: unenhanced HU of every tissue
TISSUE_HU: dict[str, float] = {
    "air": -1000.0,
    "lung": -860.0,
    "fat": -100.0,
    "epidural_fat": -85.0,
    "skin": 40.0,
    "muscle": 52.0,
    "soft_tissue": 38.0,
    "liver": 58.0,
    "spleen": 48.0,
    "kidney": 32.0,
    "myocardium": 45.0,
    "csf": 8.0,
    "cord": 36.0,
    "disc": 85.0,
    "cortical_bone": 850.0,  # a thin osteoporotic shell; partial volume lowers it further
    "cancellous_bone": 115.0,  # osteoporotic; each vertebra gets its own value in 80-150 HU
    "posterior_bone": 520.0,
    "rib": 420.0,
    "arterial_blood": 42.0,
    "ivc_blood": 40.0,
    "hepatic_vein_blood": 42.0,
    "svc_blood": 42.0,
    "arm_vein_blood": 42.0,
    "azygos_blood": 40.0,
    "right_atrium_blood": 42.0,
    "right_ventricle_blood": 42.0,
    "left_heart_blood": 42.0,
    "pulmonary_blood": 42.0,
}

#: what changes with intravenous contrast
PHASE_HU: dict[str, dict[str, float]] = {
    "non_contrast": {},
    "portal_venous": {
        "arterial_blood": 175.0,
        "ivc_blood": 125.0,
        "hepatic_vein_blood": 165.0,
        "svc_blood": 150.0,
        "arm_vein_blood": 160.0,
        "azygos_blood": 120.0,
        "right_atrium_blood": 150.0,
        "right_ventricle_blood": 150.0,
        "left_heart_blood": 165.0,
        "pulmonary_blood": 150.0,
        "liver": 105.0,
        "spleen": 115.0,
        "kidney": 175.0,
        "myocardium": 100.0,
        "muscle": 58.0,
    },
    "ctpa": {  # undiluted contrast arriving from a left arm injection
        "arm_vein_blood": 2600.0,
        "svc_blood": 2100.0,
        "right_atrium_blood": 1100.0,
        "right_ventricle_blood": 650.0,
        "pulmonary_blood": 480.0,
        "left_heart_blood": 300.0,
        "arterial_blood": 280.0,
        "azygos_blood": 60.0,
        "liver": 62.0,
        "kidney": 60.0,
        "myocardium": 90.0,
    },
}

#: contrast refluxed from the right atrium into the IVC and hepatic veins on CTPA
REFLUX_HU = 1300.0
#: lumens whose contrast reaches this are labelled "contrast" in the truth (cement-like density)
CONTRAST_TRUTH_MIN_HU = 700.0

#: radiopaque PMMA: each case draws its cement density in this range
CEMENT_HU_RANGE = (1700.0, 2800.0)
#: metal implants saturate the 12-bit scale
METAL_HU = 7000.0
CALCIFICATION_HU_RANGE = (450.0, 1000.0)
#: the stored HU range of the 12-bit scale (rescale intercept -1024)
HU_FLOOR, HU_CEILING = -1024.0, 3071.0


def tissue_hu(phase: str) -> dict[str, float]:
    """Every tissue's HU in a contrast phase."""
    if phase not in PHASES:
        raise SettingsError(f"unknown contrast phase {phase!r}; choose one of {', '.join(PHASES)}")
    return {**TISSUE_HU, **PHASE_HU[phase]}
