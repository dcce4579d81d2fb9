"""Great vessels, azygos system and heart, as tubes along centre lines in LPS mm.

The centre lines are public so cement routes and confounders can follow them.
"""

from __future__ import annotations

import numpy as np

from .geometry import AxialEllipse, Ellipsoid, Implicit, Intersection, polyline_tube
from .layout import (
    AORTA_ABDOMINAL_XY,
    AORTA_THORACIC_XY,
    BODY_CENTRE_Y_MM,
    IVC_INFRAHEPATIC_XY,
    RIGHT_ATRIUM_CENTRE,
    VERTEBRAE,
    level_z_mm,
)
from .lungs import PULMONARY_BIFURCATION, below_diaphragm
from .parts import Part

IVC_RADIUS_MM = 11.0
AORTA_RADIUS_MM = 11.5
AZYGOS_RADIUS_MM = 4.0
SVC_RADIUS_MM = 9.5
HEART_CENTRE = np.array([10.0, -46.0, RIGHT_ATRIUM_CENTRE[2] + 6.0])
HEART_RADII = (62.0, 46.0, 50.0)
RIGHT_VENTRICLE_CENTRE = np.array([-4.0, -70.0, RIGHT_ATRIUM_CENTRE[2] - 4.0])
RV_OUTFLOW = np.array([4.0, -72.0, RIGHT_ATRIUM_CENTRE[2] + 32.0])


def ivc_path() -> np.ndarray:
    """IVC centre line from the iliac confluence (L5) up to the right atrium (LPS mm)."""
    x, y = IVC_INFRAHEPATIC_XY
    ra = RIGHT_ATRIUM_CENTRE
    return np.array(
        [
            (x + 4.0, y + 4.0, level_z_mm("L5")),
            (x, y, level_z_mm("L3")),
            (x, y, level_z_mm("L1")),
            (x - 4.0, y - 6.0, level_z_mm("T12") + 10.0),
            (x - 9.0, y - 16.0, level_z_mm("T11") + 10.0),
            (ra[0], ra[1] + 2.0, ra[2] - 14.0),
        ]
    )


def aorta_path() -> np.ndarray:
    """Descending aorta centre line from above T6 to the bifurcation at L4 (LPS mm)."""
    tx, ty = AORTA_THORACIC_XY
    ax, ay = AORTA_ABDOMINAL_XY
    return np.array(
        [
            (tx, ty, VERTEBRAE["T6"].top_mm + 40.0),
            (tx, ty, level_z_mm("T10")),
            (ax + 2.0, ay + 10.0, level_z_mm("T12")),
            (ax, ay, level_z_mm("L1")),
            (ax - 2.0, ay, level_z_mm("L4")),
        ]
    )


def azygos_path() -> np.ndarray:
    """Azygos vein: right-anterior of the thoracic bodies, from L2 up into the SVC."""
    cy = BODY_CENTRE_Y_MM
    return np.array(
        [
            (-9.0, cy - 20.0, level_z_mm("L2")),
            (-11.0, cy - 17.0, level_z_mm("T12")),
            (-11.0, cy - 16.0, level_z_mm("T7")),
            (-16.0, cy - 30.0, VERTEBRAE["T6"].top_mm + 18.0),
            (-30.0, -32.0, VERTEBRAE["T6"].top_mm + 22.0),
        ]
    )


def hemiazygos_path() -> np.ndarray:
    cy = BODY_CENTRE_Y_MM
    return np.array(
        [
            (11.0, cy - 14.0, level_z_mm("L1")),
            (11.0, cy - 14.0, level_z_mm("T9")),
            (-9.0, cy - 17.0, level_z_mm("T8")),
        ]
    )


def svc_path() -> np.ndarray:
    ra = RIGHT_ATRIUM_CENTRE
    return np.array([(-32.0, -32.0, VERTEBRAE["T6"].top_mm + 45.0), (ra[0] + 2.0, ra[1] - 4.0, ra[2] + 14.0)])


def left_brachiocephalic_path() -> np.ndarray:
    top = VERTEBRAE["T6"].top_mm + 42.0
    return np.array([(110.0, -40.0, top + 12.0), (40.0, -45.0, top + 4.0), (-30.0, -33.0, top)])


def hepatic_vein_paths() -> list[np.ndarray]:
    join = ivc_path()[4]
    return [
        np.array([join, join + offset])
        for offset in ((-60.0, -30.0, -25.0), (-30.0, -50.0, -15.0), (12.0, -45.0, -12.0))
    ]


def heart_parts() -> list[Part]:
    heart = Ellipsoid(HEART_CENTRE, HEART_RADII)
    ra = RIGHT_ATRIUM_CENTRE
    return [
        Part("heart_myocardium", "myocardium", heart),
        Part(
            "heart_ventricle_left",
            "left_heart_blood",
            Ellipsoid(HEART_CENTRE + (22.0, 4.0, -6.0), (24.0, 22.0, 30.0)),
        ),
        Part(
            "heart_atrium_left",
            "left_heart_blood",
            Ellipsoid(HEART_CENTRE + (2.0, 30.0, 16.0), (24.0, 13.0, 17.0)),
        ),
        Part(
            "heart_ventricle_right",
            "right_ventricle_blood",
            Ellipsoid(RIGHT_VENTRICLE_CENTRE, (28.0, 16.0, 28.0)),
        ),
        Part("heart_atrium_right", "right_atrium_blood", Ellipsoid(ra, (21.0, 19.0, 24.0))),
    ]


def vessel_parts() -> list[Part]:
    """Mediastinal fat, oesophagus, heart, great veins, aorta and azygos system (painting order)."""
    cy = BODY_CENTRE_Y_MM
    top = VERTEBRAE["T6"].top_mm + 60.0
    above = Implicit(lambda x, y, z: ~below_diaphragm(x, y, z), (-40.0, -100.0, 0.0), (45.0, cy + 10.0, top))
    mediastinum = Intersection(AxialEllipse(4.0, -28.0, 40.0, 74.0, 0.0, top), above)
    oesophagus = np.array(
        [(4.0, cy - 26.0, top), (6.0, cy - 26.0, level_z_mm("T10")), (22.0, -24.0, level_z_mm("T12"))]
    )
    x, y = IVC_INFRAHEPATIC_XY
    x_a, y_a = AORTA_ABDOMINAL_XY
    bottom = VERTEBRAE["S1"].bottom_mm - 30.0
    parts = [
        Part("torso_fat", "fat", mediastinum),
        Part("esophagus", "soft_tissue", polyline_tube(oesophagus, 7.0)),
        *heart_parts(),
        Part("pulmonary_artery", "pulmonary_blood", polyline_tube([RV_OUTFLOW, PULMONARY_BIFURCATION], 13.0)),
        Part("aorta", "arterial_blood", polyline_tube(aorta_path(), AORTA_RADIUS_MM)),
        Part("inferior_vena_cava", "ivc_blood", polyline_tube(ivc_path(), IVC_RADIUS_MM)),
        Part("superior_vena_cava", "svc_blood", polyline_tube(svc_path(), SVC_RADIUS_MM)),
        Part("brachiocephalic_vein_left", "arm_vein_blood", polyline_tube(left_brachiocephalic_path(), 6.5)),
        Part("azygos_vein", "azygos_blood", polyline_tube(azygos_path(), AZYGOS_RADIUS_MM)),
        Part("azygos_vein", "azygos_blood", polyline_tube(hemiazygos_path(), 3.0)),
    ]
    for path in hepatic_vein_paths():
        parts.append(Part("hepatic_veins", "hepatic_vein_blood", polyline_tube(path, [6.0, 3.0])))
    aorta_end, ivc_start = aorta_path()[-1], ivc_path()[0]
    for side in (-1, 1):
        name = "left" if side > 0 else "right"
        artery = [aorta_end, (side * 45.0 + x_a * 0.2, y_a + 12.0, bottom)]
        vein = [ivc_start, (side * 42.0 + x * 0.2, y + 20.0, bottom)]
        parts.append(Part(f"iliac_artery_{name}", "arterial_blood", polyline_tube(artery, 6.5)))
        parts.append(Part(f"iliac_vena_{name}", "ivc_blood", polyline_tube(vein, 8.0)))
    return parts
