"""The words of the findings: locations (with their stable codes), materials, severities.

The location codes are also the truth codes of the phantom's label volumes.
"""

from __future__ import annotations

LOCATIONS: dict[int, str] = {
    1: "vertebral_body",
    2: "intradiscal",
    3: "spinal_canal",
    4: "neural_foramen",
    5: "paravertebral_venous",
    6: "paravertebral_soft_tissue",
    7: "inferior_vena_cava",
    8: "azygos_system",
    9: "right_heart",
    10: "pulmonary_artery",
    11: "needle_tract",
    12: "other",
}
LOCATION_CODES: dict[str, int] = {name: code for code, name in LOCATIONS.items()}
#: the venous trunks cement is carried up beside the spine (location and anatomy structure names)
VENOUS_TRUNKS = ("inferior_vena_cava", "azygos_system")

# Truth codes for confounder voxels in the phantom's label volume (after the location codes).
MATERIAL_TRUTH_CODES: dict[str, int] = {"metal": 20, "contrast": 21, "calcification": 22}

MATERIALS = ("cement", "metal", "contrast", "calcification", "bone", "indeterminate")

SEVERITIES = ("none", "info", "warning", "critical")  # ascending

DEFAULT_SEVERITY: dict[str, str] = {
    "vertebral_body": "none",
    "intradiscal": "info",
    "spinal_canal": "critical",
    "neural_foramen": "warning",
    "paravertebral_venous": "warning",
    "paravertebral_soft_tissue": "info",
    "inferior_vena_cava": "critical",
    "azygos_system": "warning",
    "right_heart": "critical",
    "pulmonary_artery": "critical",
    "needle_tract": "info",
    "other": "info",
}


def severity_rank(severity: str) -> int:
    """0 for none up to 3 for critical; used to compare and to pick the highest."""
    return SEVERITIES.index(severity)
