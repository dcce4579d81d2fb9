"""Look-alikes a real CT holds: metal implants, calcified plaque and dense contrast.

Each function returns `Inclusion` objects of kind "metal", "calcification" or "contrast".
"""

from __future__ import annotations

import numpy as np

from .geometry import (
    AxialEllipse,
    Capsule,
    Difference,
    Ellipsoid,
    Implicit,
    Intersection,
    Torus,
    Union,
    polyline_tube,
)
from .inclusions import Inclusion
from .layout import TORSO_HALF_AP_MM, VERTEBRAE, level_z_mm
from .materials import CALCIFICATION_HU_RANGE, METAL_HU, REFLUX_HU
from .vessels import (
    AORTA_RADIUS_MM,
    IVC_RADIUS_MM,
    RIGHT_VENTRICLE_CENTRE,
    aorta_path,
    hepatic_vein_paths,
    ivc_path,
    left_brachiocephalic_path,
    svc_path,
)

SCREW_RADIUS_MM = 3.0
ROD_RADIUS_MM = 2.75


def screw_entry(level: str, side: int) -> np.ndarray:
    """Where a pedicle screw's head sits (LPS mm): junction of transverse process and facet."""
    v = VERTEBRAE[level]
    return np.array([side * (v.canal_half_lr_mm + 12.0), v.canal_centre[1] + 7.0, v.centre[2] + 3.0])


def screws_and_rods(levels: list[str]) -> list[Inclusion]:
    """Bilateral transpedicular screws (converging into the body) at ``levels`` joined by two rods."""
    inclusions = []
    for level in levels:
        v = VERTEBRAE[level]
        for side in (-1, 1):
            entry = screw_entry(level, side)
            tip = np.array([side * 7.0, v.anterior_y_mm + 6.0, v.centre[2] + 1.0])
            shaft = Capsule(entry, tip, SCREW_RADIUS_MM, 2.5, round_ends=False)
            head = Capsule(entry, entry + (0.0, 9.0, 0.0), 5.5, round_ends=False)
            inclusions.append(
                Inclusion(
                    "metal",
                    Union([shaft, head]),
                    METAL_HU,
                    length_mm=float(np.linalg.norm(tip - entry)) + 9.0,
                    description=f"{'left' if side > 0 else 'right'} pedicle screw {level}",
                )
            )
    for side in (-1, 1):
        heads = [screw_entry(level, side) + (0.0, 5.0, 0.0) for level in levels]
        ends = [heads[0] - (0.0, 0.0, 8.0), *heads, heads[-1] + (0.0, 0.0, 8.0)]
        ends = sorted(ends, key=lambda p: p[2])
        inclusions.append(
            Inclusion(
                "metal",
                polyline_tube(ends, ROD_RADIUS_MM),
                METAL_HU,
                length_mm=float(ends[-1][2] - ends[0][2]),
                description=f"{'left' if side > 0 else 'right'} rod {levels[0]}-{levels[-1]}",
            )
        )
    return inclusions


def _aorta_centre(z):
    path = aorta_path()[::-1]
    return np.interp(z, path[:, 2], path[:, 0]), np.interp(z, path[:, 2], path[:, 1])


def aortic_calcifications(rng: np.random.Generator, count: int = 6) -> list[Inclusion]:
    """Thin plaques on the wall of the abdominal aorta (arcs of 40-110 degrees, 4-12 mm long)."""
    plaques = []
    z_low, z_high = level_z_mm("L4") + 5.0, level_z_mm("T12")
    for _ in range(count):
        z0 = rng.uniform(z_low, z_high)
        height = rng.uniform(4.0, 12.0)
        start, width = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(40.0, 110.0))
        thickness = rng.uniform(1.2, 2.0)

        def test(x, y, z, start=start, width=width, thickness=thickness):
            cx, cy = _aorta_centre(z)
            r = np.hypot(x - cx, y - cy)
            angle = np.mod(np.arctan2(y - cy, x - cx) - start, 2 * np.pi)
            return (r >= AORTA_RADIUS_MM - thickness + 0.3) & (r <= AORTA_RADIUS_MM + 0.3) & (angle <= width)

        cx, cy = _aorta_centre(z0)
        lo = (cx - AORTA_RADIUS_MM - 1, cy - AORTA_RADIUS_MM - 1, z0)
        hi = (cx + AORTA_RADIUS_MM + 1, cy + AORTA_RADIUS_MM + 1, z0 + height)
        plaques.append(
            Inclusion(
                "calcification",
                Implicit(test, lo, hi),
                rng.uniform(*CALCIFICATION_HU_RANGE),
                length_mm=height,
                description="calcified plaque on the abdominal aortic wall",
            )
        )
    return plaques


def stent_graft(rng: np.random.Generator) -> list[Inclusion]:
    """An aortic stent graft: zig-zag metal rings every 15 mm inside the aortic wall, L1 to L4."""
    rings = []
    radius = AORTA_RADIUS_MM - 0.8
    for z in np.arange(level_z_mm("L4") + 8.0, level_z_mm("L1") + 1.0, 15.0):
        cx, cy = _aorta_centre(z)
        angles = np.linspace(0, 2 * np.pi, 17) + rng.uniform(0, np.pi / 8)
        points = [
            (cx + radius * np.cos(a), cy + radius * np.sin(a), z + (4.0 if k % 2 else -4.0))
            for k, a in enumerate(angles)
        ]
        rings.append(np.asarray(points))
    return [
        Inclusion(
            "metal",
            Union([polyline_tube(ring, 0.6) for ring in rings]),
            METAL_HU,
            centrelines=rings,
            length_mm=level_z_mm("L1") - level_z_mm("L4"),
            description="aortic stent graft (metal rings)",
        )
    ]


def sternal_wires(count: int = 4) -> list[Inclusion]:
    """Cerclage wires looped around the sternum at ``count`` levels."""
    wires = []
    y = -TORSO_HALF_AP_MM + 16.0
    for z in np.linspace(VERTEBRAE["T9"].centre[2], VERTEBRAE["T6"].top_mm - 6.0, count):
        angles = np.linspace(0, 2 * np.pi, 33)
        loop = np.stack([17.0 * np.cos(angles), y + 9.0 * np.sin(angles), np.full_like(angles, z)], axis=1)
        wires.append(
            Inclusion(
                "metal",
                Torus((0.0, y, z), 17.0, 9.0, 0.8),
                METAL_HU,
                centrelines=[loop],
                length_mm=2 * np.pi * 13.0,
                description="sternal cerclage wire",
            )
        )
    return wires


def pacing_lead() -> list[Inclusion]:
    """A pacemaker lead: left brachiocephalic vein -> SVC -> right atrium -> right ventricular apex."""
    svc = svc_path()
    apex = RIGHT_VENTRICLE_CENTRE + (12.0, -6.0, -14.0)
    points = np.vstack([left_brachiocephalic_path(), svc[1:], [svc[1] + (4.0, -6.0, -20.0), apex]])
    tip = Capsule(apex - (4.0, -2.0, -6.0), apex, 1.6)
    return [
        Inclusion(
            "metal",
            Union([polyline_tube(points, 1.0), tip]),
            METAL_HU,
            centrelines=[points],
            length_mm=float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()),
            description="pacemaker lead from the left subclavian/brachiocephalic vein into the right ventricle",
        )
    ]


def hip_prosthesis(side: int = -1) -> list[Inclusion]:
    """A total hip prosthesis (cup, head, stem) well below S1 (``side`` -1 right, +1 left)."""
    centre = np.array([side * 92.0, 10.0, VERTEBRAE["S1"].bottom_mm - 75.0])
    cup = Intersection(
        Difference(Ellipsoid(centre, (27.0, 27.0, 27.0)), Ellipsoid(centre, (24.0, 24.0, 24.0))),
        AxialEllipse(centre[0], centre[1], 30.0, 30.0, centre[2] - 2.0, centre[2] + 30.0),
    )
    head = Ellipsoid(centre, (14.0, 14.0, 14.0))
    neck = centre + (side * 28.0, 0.0, -30.0)
    stem = polyline_tube([centre, neck, neck + (side * 5.0, 0.0, -60.0)], [6.0, 8.0, 5.0])
    return [
        Inclusion(
            "metal",
            Union([cup, head, stem]),
            METAL_HU,
            length_mm=120.0,
            description=f"{'left' if side > 0 else 'right'} total hip prosthesis",
        )
    ]


def ivc_reflux(rng: np.random.Generator) -> list[Inclusion]:
    """CTPA reflux: dense contrast layering in the dependent (posterior) IVC and hepatic veins,
    from the right atrium down to the top of the infrahepatic IVC."""
    path = ivc_path()
    z_low, z_high = path[3][2] - 6.0, path[-1][2]

    def in_ivc(x, y, z):
        cx = np.interp(z, path[:, 2], path[:, 0])
        cy = np.interp(z, path[:, 2], path[:, 1])
        return ((x - cx) ** 2 + (y - cy) ** 2 <= (IVC_RADIUS_MM - 0.5) ** 2) & (y >= cy - 2.0)

    lo = (path[:, 0].min() - IVC_RADIUS_MM, path[:, 1].min() - IVC_RADIUS_MM, z_low)
    hi = (path[:, 0].max() + IVC_RADIUS_MM, path[:, 1].max() + IVC_RADIUS_MM, z_high)
    veins = [Capsule(p[0], p[0] + 0.6 * (p[1] - p[0]), 4.0, 2.5) for p in hepatic_vein_paths()]
    return [
        Inclusion(
            "contrast",
            Implicit(in_ivc, lo, hi),
            REFLUX_HU * rng.uniform(0.85, 1.1),
            length_mm=z_high - z_low,
            description="contrast reflux layering in the IVC (CTPA)",
        ),
        Inclusion(
            "contrast",
            Union(veins),
            REFLUX_HU * rng.uniform(0.7, 0.95),
            length_mm=30.0,
            description="contrast reflux into the hepatic veins (CTPA)",
        ),
    ]
