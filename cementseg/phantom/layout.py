"""Where things are in the phantom: vertebral levels and landmark positions in LPS mm.

The phantom's patient lies supine; x -> patient left, y -> posterior, z -> superior.
The torso's axial centre is at x = y = 0 and the centre of the L1 vertebral body at z = 0.
Every anatomical module places its structures from these numbers, so scenarios can
aim cement at a level without knowing how the anatomy was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: levels of the phantom spine, caudal to cranial
LEVELS: tuple[str, ...] = ("S1", "L5", "L4", "L3", "L2", "L1", "T12", "T11", "T10", "T9", "T8", "T7", "T6")

#: torso half-widths (mm): left-right and anterior-posterior
TORSO_HALF_LR_MM = 150.0
TORSO_HALF_AP_MM = 108.0

#: y (mm) of the vertebral body centres: posterior of the torso centre
BODY_CENTRE_Y_MM = 32.0


@dataclass(frozen=True)
class Vertebra:
    """One vertebral level: body centre (LPS mm), body half-sizes (mm), canal half-sizes (mm)."""

    name: str
    centre: tuple[float, float, float]
    half_lr_mm: float
    half_ap_mm: float
    half_height_mm: float
    canal_half_lr_mm: float
    canal_half_ap_mm: float

    @property
    def region(self) -> str:
        return {"T": "thoracic", "L": "lumbar", "S": "sacral"}[self.name[0]]

    @property
    def top_mm(self) -> float:
        return self.centre[2] + self.half_height_mm

    @property
    def bottom_mm(self) -> float:
        return self.centre[2] - self.half_height_mm

    @property
    def anterior_y_mm(self) -> float:
        return self.centre[1] - self.half_ap_mm

    @property
    def posterior_y_mm(self) -> float:
        return self.centre[1] + self.half_ap_mm

    @property
    def canal_centre(self) -> tuple[float, float, float]:
        """Centre of the spinal canal at this level (LPS mm)."""
        return (0.0, self.posterior_y_mm + self.canal_half_ap_mm + 1.5, self.centre[2])


def _dimensions(name: str) -> tuple[float, float, float, float, float, float]:
    """(body half LR, half AP, height, disc height below, canal half LR, half AP), mm."""
    if name == "S1":
        return 25.0, 17.0, 30.0, 0.0, 13.0, 8.0
    if name[0] == "L":
        return 23.0, 16.5, 27.0, 10.0, 11.5, 8.5
    index = int(name[1:])  # T6..T12
    half_lr = 15.0 + 0.6 * (index - 6)
    half_ap = 13.0 + 0.4 * (index - 6)
    return half_lr, half_ap, 19.0 + 0.8 * (index - 6), 5.0 + 0.5 * (index - 6), 9.0, 8.0


def _build() -> dict[str, Vertebra]:
    heights = {name: _dimensions(name) for name in LEVELS}
    z = 0.0
    tops: dict[str, float] = {}
    for name in LEVELS:  # stack bodies and discs from the sacrum upwards, then shift L1 to z = 0
        z += heights[name][3]
        tops[name] = z + heights[name][2]
        z = tops[name]
    l1_centre = tops["L1"] - heights["L1"][2] / 2
    vertebrae = {}
    for name in LEVELS:
        half_lr, half_ap, height, _, canal_lr, canal_ap = heights[name]
        centre_z = tops[name] - height / 2 - l1_centre
        vertebrae[name] = Vertebra(
            name, (0.0, BODY_CENTRE_Y_MM, centre_z), half_lr, half_ap, height / 2, canal_lr, canal_ap
        )
    return vertebrae


VERTEBRAE: dict[str, Vertebra] = _build()


def level_z_mm(name: str) -> float:
    """z (mm, superior +) of the centre of a vertebral body."""
    return VERTEBRAE[name].centre[2]


def level_above(name: str) -> str:
    return LEVELS[LEVELS.index(name) + 1]


def level_below(name: str) -> str:
    return LEVELS[LEVELS.index(name) - 1]


# --- landmarks outside the spine (LPS mm), derived from the levels -----------------------
#: centre of the right atrium, where IVC and SVC end
RIGHT_ATRIUM_CENTRE = np.array([-38.0, -22.0, level_z_mm("T9")])
#: IVC axis below the liver: right-anterior of the lumbar bodies
IVC_INFRAHEPATIC_XY = (-26.0, BODY_CENTRE_Y_MM - 32.0)
#: abdominal aorta axis: left-anterior of the lumbar bodies
AORTA_ABDOMINAL_XY = (20.0, BODY_CENTRE_Y_MM - 30.0)
#: descending thoracic aorta axis: left of the thoracic bodies
AORTA_THORACIC_XY = (24.0, BODY_CENTRE_Y_MM - 12.0)
#: dome of the right hemidiaphragm (z mm); the left dome lies 15 mm lower
DIAPHRAGM_DOME_Z = level_z_mm("T10") + 8.0
