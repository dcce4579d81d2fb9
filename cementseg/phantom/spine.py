"""The phantom spine: vertebral bodies (cortex + cancellous core), discs, posterior elements,
spinal canal with thecal sac, cord and epidural fat, sacrum and ribs."""

from __future__ import annotations

import numpy as np

from .geometry import AxialEllipse, Box, Capsule, Difference, Union, polyline_tube
from .layout import LEVELS, TORSO_HALF_AP_MM, TORSO_HALF_LR_MM, VERTEBRAE, Vertebra, level_below
from .parts import Part

CORTEX_MM = 1.3
#: the conus medullaris ends at the L1-L2 disc; below it the thecal sac holds the cauda equina
CONUS_Z_MM = VERTEBRAE["L1"].bottom_mm


def vertebral_body(v: Vertebra, inset_mm: float = 0.0) -> AxialEllipse:
    """The vertebral body of level ``v`` as an elliptic cylinder (optionally shrunk by ``inset_mm``)."""
    cx, cy, _ = v.centre
    return AxialEllipse(
        cx, cy, v.half_lr_mm - inset_mm, v.half_ap_mm - inset_mm, v.bottom_mm + inset_mm, v.top_mm - inset_mm
    )


def cancellous_core(v: Vertebra) -> AxialEllipse:
    return vertebral_body(v, CORTEX_MM)


def _posterior_elements(v: Vertebra) -> list:
    cx, cyc, cz = v.canal_centre
    crx, cry = v.canal_half_lr_mm, v.canal_half_ap_mm
    ring_bottom, ring_top = cz - 0.55 * v.half_height_mm, v.top_mm + 2.0
    ring = Difference(
        AxialEllipse(cx, cyc + 1.0, crx + 6.0, cry + 6.0, ring_bottom, ring_top),
        AxialEllipse(cx, cyc, crx, cry, ring_bottom - 1, ring_top + 1),
    )
    back = cyc + cry + 4.0
    if v.region == "lumbar":
        spinous = Box((-3.5, back, cz - 9.0), (3.5, back + 30.0, cz + 6.0))
        transverse = [
            Box((s * (crx + 3), cyc - 4, cz - 1), (s * (crx + 32), cyc + 4, cz + 8)) for s in (-1, 1)
        ]
        transverse = [Box(np.minimum(b.lo, b.hi), np.maximum(b.lo, b.hi)) for b in transverse]
    else:
        spinous = Capsule((0, back, cz + 2), (0, back + 34.0, cz - 18), 3.5)
        transverse = [
            Capsule((s * (crx + 3), cyc, cz + 5), (s * (crx + 24), cyc + 10, cz + 5), 5.0) for s in (-1, 1)
        ]
    return [ring, spinous, *transverse]


def rib_path(level: str, side: int) -> np.ndarray:
    """Centre line (LPS mm points) of the rib of a thoracic level, ``side`` +1 left / -1 right:
    head on the posterolateral body (costovertebral joint), neck along the transverse process,
    then around the chest wall, descending anteriorly."""
    v = VERTEBRAE[level]
    index = int(level[1:])
    a, b = TORSO_HALF_LR_MM - 22.0, TORSO_HALF_AP_MM - 20.0
    end = {11: 20.0, 12: 45.0}.get(index, -45.0)  # floating ribs stop short
    angles = np.radians(np.linspace(72.0, end, 6))
    points = [(side * (v.half_lr_mm - 3.0), v.posterior_y_mm - 3.0, v.top_mm - 3.0),
              (side * (v.canal_half_lr_mm + 18.0), v.canal_centre[1] + 6.0, v.centre[2] + 5.0)]
    for angle in angles:  # ribs descend about 0.35 mm per degree of arc from the spine
        drop = 0.35 * (72.0 - np.degrees(angle))
        points.append((side * a * np.cos(angle), b * np.sin(angle), v.centre[2] + 5.0 - drop))
    return np.asarray(points)


def spine_parts() -> list[Part]:
    """Every part of the spine, in painting order."""
    parts: list[Part] = []
    for name in LEVELS:
        v = VERTEBRAE[name]
        label = f"vertebrae_{name}"
        if name == "S1":
            cx, cy, cz = v.centre
            for side in (-1, 1):
                ala = Box(
                    (min(side * 22, side * 62), cy - 12, v.bottom_mm - 20),
                    (max(side * 22, side * 62), cy + 24, v.top_mm - 4),
                )
                parts.append(Part("sacrum", "posterior_bone", ala))
        else:
            below = VERTEBRAE[level_below(name)]
            disc = AxialEllipse(0, v.centre[1], v.half_lr_mm, v.half_ap_mm, below.top_mm, v.bottom_mm)
            parts.append(Part("intervertebral_discs", "disc", disc))
        for solid in _posterior_elements(v):
            parts.append(Part(label, "posterior_bone", solid))
        parts.append(Part(label, "cortical_bone", vertebral_body(v)))
        parts.append(Part(label, "cancellous_bone", cancellous_core(v)))
        if v.region == "thoracic":
            for side in (-1, 1):
                parts.append(
                    Part(
                        f"rib_{'left' if side > 0 else 'right'}_{name[1:]}",
                        "rib",
                        polyline_tube(rib_path(name, side), 4.5),
                    )
                )
    parts.extend(_canal_parts())
    return parts


def _canal_parts() -> list[Part]:
    """Canal (epidural fat), thecal sac (CSF) and cord, continuous from S1 to T6."""
    canal, sac, cord = [], [], []
    for name in LEVELS:
        v = VERTEBRAE[name]
        cx, cyc, _ = v.canal_centre
        z0 = VERTEBRAE[level_below(name)].top_mm if name != "S1" else v.bottom_mm
        z1 = v.top_mm
        canal.append(AxialEllipse(cx, cyc, v.canal_half_lr_mm, v.canal_half_ap_mm, z0, z1))
        sac.append(AxialEllipse(cx, cyc + 0.8, v.canal_half_lr_mm - 2.5, v.canal_half_ap_mm - 2.2, z0, z1))
        if z1 > CONUS_Z_MM:
            cord.append(AxialEllipse(cx, cyc, 5.0, 4.0, max(z0, CONUS_Z_MM), z1))
    return [
        Part("spinal_canal", "epidural_fat", Union(canal)),
        Part("spinal_canal", "csf", Union(sac)),
        Part("spinal_cord", "cord", Union(cord)),
    ]
