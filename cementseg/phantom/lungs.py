"""Lungs (five lobes above a domed diaphragm) and a pulmonary artery tree that really branches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Capsule, Implicit, Union
from .layout import BODY_CENTRE_Y_MM, DIAPHRAGM_DOME_Z, TORSO_HALF_AP_MM, TORSO_HALF_LR_MM, VERTEBRAE
from .parts import Part

LUNG_INSET_MM = 28.0
LUNG_TOP_Z_MM = VERTEBRAE["T6"].top_mm + 40.0
#: the pulmonary trunk divides here (LPS mm)
PULMONARY_BIFURCATION = np.array([4.0, -28.0, VERTEBRAE["T6"].centre[2] + 8.0])
HILUM = {
    "right": np.array([-52.0, -8.0, VERTEBRAE["T7"].centre[2]]),
    "left": np.array([50.0, -4.0, VERTEBRAE["T7"].centre[2] + 4.0]),
}


def diaphragm_z(x, y):
    """z (mm) of the lung base above (x, y): domes at x = -70 (right, higher) and +70 (left)."""
    right = x < 0
    dome = np.where(right, DIAPHRAGM_DOME_Z, DIAPHRAGM_DOME_Z - 15.0)
    dx = np.abs(x) - 70.0
    dy = y + 10.0
    slope = np.where(dy > 0, 0.009, 0.006)  # the posterior recess reaches lower
    return dome - 0.006 * dx**2 - slope * dy**2


def below_diaphragm(x, y, z, margin_mm: float = 0.0):
    return z < diaphragm_z(x, y) - margin_mm


def _in_thorax(x, y, z):
    ax, ay = TORSO_HALF_LR_MM - LUNG_INSET_MM, TORSO_HALF_AP_MM - LUNG_INSET_MM
    inside = (x / ax) ** 2 + (y / ay) ** 2 <= 1.0
    mediastinum = (x > -30.0) & (x < 34.0) & (y < BODY_CENTRE_Y_MM + 6.0)
    spine = (x / 42.0) ** 2 + ((y - BODY_CENTRE_Y_MM - 10.0) / 42.0) ** 2 <= 1.0
    return inside & ~mediastinum & ~spine & ~below_diaphragm(x, y, z) & (z <= LUNG_TOP_Z_MM)


def lung_solid(side: str | None = None) -> Implicit:
    """The lung on one side ("left"/"right") or both (None)."""
    lo = np.array([-TORSO_HALF_LR_MM, -TORSO_HALF_AP_MM, VERTEBRAE["L1"].centre[2]])
    hi = np.array([TORSO_HALF_LR_MM, TORSO_HALF_AP_MM, LUNG_TOP_Z_MM])
    if side == "left":
        lo[0] = 0.0
        return Implicit(lambda x, y, z: _in_thorax(x, y, z) & (x > 0), lo, hi)
    if side == "right":
        hi[0] = 0.0
        return Implicit(lambda x, y, z: _in_thorax(x, y, z) & (x < 0), lo, hi)
    return Implicit(_in_thorax, lo, hi)


def oblique_fissure_z(y):
    """z (mm) of the oblique fissure: the lower lobe lies below it (posterior-inferior)."""
    return VERTEBRAE["T8"].centre[2] + 10.0 + 0.9 * y


def lobe_of(point) -> str:
    """TotalSegmentator lobe name at an LPS mm point inside a lung."""
    x, y, z = point
    side = "left" if x > 0 else "right"
    if z < oblique_fissure_z(y):
        return f"lung_lower_lobe_{side}"
    if side == "right" and z < VERTEBRAE["T7"].centre[2] + 5.0:
        return "lung_middle_lobe_right"
    return f"lung_upper_lobe_{side}"


def lung_parts() -> list[Part]:
    """The lobes, painted as: whole lung = upper lobe, then middle and lower lobes over it."""
    parts = []
    for side in ("right", "left"):
        lung = lung_solid(side)
        parts.append(Part(f"lung_upper_lobe_{side}", "lung", lung))
        if side == "right":
            middle = Implicit(
                lambda x, y, z, lung=lung: (
                    lung.test(x, y, z) & (x < 0) & (z < VERTEBRAE["T7"].centre[2] + 5.0)
                ),
                lung.lo,
                lung.hi,
            )
            parts.append(Part("lung_middle_lobe_right", "lung", middle))
        lower = Implicit(
            lambda x, y, z, lung=lung: lung.test(x, y, z) & (z < oblique_fissure_z(y)), lung.lo, lung.hi
        )
        parts.append(Part(f"lung_lower_lobe_{side}", "lung", lower))
    return parts


@dataclass(frozen=True)
class ArterySegment:
    """One pulmonary artery segment: LPS mm end points, radius (mm), generation, lobe."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    radius_mm: float
    generation: int
    lobe: str


def _perpendicular(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    v -= v @ direction * direction
    return v / np.linalg.norm(v)


def pulmonary_tree(rng: np.random.Generator, generations: int = 5) -> list[ArterySegment]:
    """Main, lobar and segmental pulmonary arteries, branching dichotomously inside the lungs.

    Trunk and main arteries run from the bifurcation to each hilum; lobar arteries leave
    the hilum up, forward, laterally and (two of them) down into the lower lobes.
    """
    lungs = {side: lung_solid(side) for side in ("left", "right")}
    segments: list[ArterySegment] = []
    for side, hilum in HILUM.items():
        segments.append(ArterySegment(tuple(PULMONARY_BIFURCATION), tuple(hilum), 10.0, 0, "hilum"))
        sign = 1.0 if side == "left" else -1.0
        starts = [
            (sign * 0.5, 0.2, 0.85),
            (sign * 0.6, -0.7, 0.1),
            (sign * 0.4, 0.5, -0.8),
            (sign * 0.7, 0.0, -0.7),
            (0.0, 0.8, -0.6),
        ]
        stack = [(hilum, np.asarray(d) / np.linalg.norm(d), 6.5, 34.0, 1) for d in starts]
        while stack:
            start, direction, radius, length, generation = stack.pop()
            end = start + direction * length
            if not bool(lungs[side].contains(*end)):
                end = start + direction * length * 0.45
                if not bool(lungs[side].contains(*end)):
                    continue
            segments.append(ArterySegment(tuple(start), tuple(end), radius, generation, lobe_of(end)))
            if generation >= generations or radius < 1.6:
                continue
            for turn in (-1.0, 1.0):
                angle = np.radians(rng.uniform(22.0, 38.0))
                child = np.cos(angle) * direction + turn * np.sin(angle) * _perpendicular(direction, rng)
                child += np.array([0.0, 0.0, -0.15])  # gravity: lower-lobe branches dominate
                stack.append(
                    (
                        end,
                        child / np.linalg.norm(child),
                        radius * rng.uniform(0.68, 0.8),
                        length * rng.uniform(0.65, 0.9),
                        generation + 1,
                    )
                )
    return segments


def pulmonary_artery_parts(tree: list[ArterySegment]) -> list[Part]:
    """The arteries of ``tree`` as one part (the trunk belongs to the heart's outflow)."""
    if not tree:
        return []
    return [
        Part(
            "pulmonary_artery",
            "pulmonary_blood",
            Union([Capsule(s.start, s.end, s.radius_mm, s.radius_mm * 0.9) for s in tree]),
        )
    ]
