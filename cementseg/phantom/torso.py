"""Body wall (skin, subcutaneous fat, muscle), abdominal organs and retroperitoneal fat."""

from __future__ import annotations

import numpy as np

from .geometry import AxialEllipse, Ellipsoid, Implicit, Intersection, polyline_tube
from .layout import BODY_CENTRE_Y_MM, TORSO_HALF_AP_MM, TORSO_HALF_LR_MM, VERTEBRAE
from .lungs import below_diaphragm
from .parts import Part

TORSO_Z_MM = (VERTEBRAE["S1"].bottom_mm - 120.0, VERTEBRAE["T6"].top_mm + 60.0)
SKIN_MM, SUBCUTANEOUS_FAT_MM, MUSCLE_WALL_MM = 2.0, 16.0, 9.0


def torso(inset_mm: float = 0.0) -> AxialEllipse:
    """The body outline shrunk by ``inset_mm`` (mm)."""
    return AxialEllipse(0.0, 0.0, TORSO_HALF_LR_MM - inset_mm, TORSO_HALF_AP_MM - inset_mm, *TORSO_Z_MM)


def cavity_inset_mm() -> float:
    return SKIN_MM + SUBCUTANEOUS_FAT_MM + MUSCLE_WALL_MM


def body_wall_parts() -> list[Part]:
    return [
        Part("skin", "skin", torso()),
        Part("subcutaneous_fat", "fat", torso(SKIN_MM)),
        Part("skeletal_muscle", "muscle", torso(SKIN_MM + SUBCUTANEOUS_FAT_MM)),
        Part("soft_tissue", "soft_tissue", torso(cavity_inset_mm())),
    ]


def organ_parts() -> list[Part]:
    """Liver, spleen, kidneys, psoas and paraspinal muscles, retroperitoneal fat (painting order)."""
    cy = BODY_CENTRE_Y_MM
    cavity = torso(cavity_inset_mm())
    lo, hi = cavity.lo, cavity.hi
    under_diaphragm = Implicit(lambda x, y, z: below_diaphragm(x, y, z, 4.0), lo, hi)
    retro_fat = AxialEllipse(
        0.0, cy - 4.0, 78.0, 52.0, VERTEBRAE["S1"].bottom_mm - 40, VERTEBRAE["T12"].top_mm
    )
    liver = Intersection(Ellipsoid((-58.0, -8.0, 35.0), (88.0, 85.0, 78.0)), under_diaphragm, cavity)
    spleen = Intersection(Ellipsoid((78.0, 40.0, 55.0), (28.0, 40.0, 45.0)), under_diaphragm, cavity)
    parts = [
        Part("torso_fat", "fat", retro_fat),
        Part("liver", "liver", liver),
        Part("spleen", "spleen", spleen),
    ]
    for side, z in ((-1, VERTEBRAE["L2"].centre[2]), (1, VERTEBRAE["L2"].centre[2] + 12.0)):
        centre = (side * 70.0, cy + 22.0, z)
        name = "left" if side > 0 else "right"
        parts.append(Part("torso_fat", "fat", Ellipsoid(centre, (36.0, 32.0, 68.0))))
        parts.append(Part(f"kidney_{name}", "kidney", Ellipsoid(centre, (25.0, 21.0, 54.0))))
    levels = ("T12", "L1", "L2", "L3", "L4", "L5")
    for side in (-1, 1):
        name = "left" if side > 0 else "right"
        points = [
            (side * (VERTEBRAE[lv].half_lr_mm + 6.0 + 3.0 * k), cy + 4.0, VERTEBRAE[lv].centre[2])
            for k, lv in enumerate(levels)
        ]
        radii = np.linspace(6.0, 24.0, len(levels))
        parts.append(Part(f"iliopsoas_{name}", "muscle", polyline_tube(points, radii)))
        back = Intersection(
            AxialEllipse(side * 36.0, cy + 64.0, 30.0, 26.0, *TORSO_Z_MM),
            torso(SKIN_MM + SUBCUTANEOUS_FAT_MM),
        )
        parts.append(Part(f"autochthon_{name}", "muscle", back))
    return parts
