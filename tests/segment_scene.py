"""Small synthetic CTs for the stage 1-2 tests: shapes with known HU, rendered with partial volume.

Geometry: identity direction, voxel (z, y, x) centre at LPS ``(x*sx, y*sy, z*sz) + origin``.
A shape is a function ``inside(x, y, z) -> bool array`` of LPS mm; `render` paints shapes
in order, each voxel taking the volume-weighted mix of HU of the shapes covering it
(``supersample`` samples per axis; 1 = voxel-exact painting of voxel centres), then an
optional Gaussian blur (the scanner's point spread, sigma in mm).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from scipy import ndimage as ndi

from cementseg.volume import CTVolume

Shape = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
ORIGIN = (-5.0, -7.0, 11.0)


def sphere(centre, radius_mm: float) -> Shape:
    cx, cy, cz = centre
    return lambda x, y, z: (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2


def ellipsoid(centre, radii) -> Shape:
    (cx, cy, cz), (rx, ry, rz) = centre, radii
    return lambda x, y, z: ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1.0


def tube(p0, p1, radius_mm: float) -> Shape:
    """Cylinder of ``radius_mm`` between points p0 and p1 (flat ends)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    length = np.linalg.norm(axis)
    axis = axis / length

    def inside(x, y, z):
        d = np.stack([x - p0[0], y - p0[1], z - p0[2]], axis=-1)
        t = d @ axis
        radial = np.linalg.norm(d - t[..., None] * axis, axis=-1)
        return (t >= 0) & (t <= length) & (radial <= radius_mm)

    return inside


def box(lo, hi) -> Shape:
    return lambda x, y, z: (
        (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])
    )


def grid_mm(shape, spacing_mm, offsets=(0.0, 0.0, 0.0)):
    """LPS x, y, z (mm) of voxel centres (shifted by ``offsets`` voxels, z y x order)."""
    z, y, x = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return (
        ORIGIN[0] + (x + offsets[2]) * spacing_mm[2],
        ORIGIN[1] + (y + offsets[1]) * spacing_mm[1],
        ORIGIN[2] + (z + offsets[0]) * spacing_mm[0],
    )


def fraction(shape, spacing_mm, solid: Shape, supersample: int = 4) -> np.ndarray:
    """Fraction (0..1) of each voxel inside ``solid``."""
    steps = (np.arange(supersample) + 0.5) / supersample - 0.5
    total = np.zeros(shape)
    for dz in steps:
        for dy in steps:
            for dx in steps:
                total += solid(*grid_mm(shape, spacing_mm, (dz, dy, dx)))
    return total / supersample**3


def render(
    shape,
    spacing_mm,
    parts: list[tuple[Shape, float]],
    background_hu: float = 40.0,
    supersample: int = 4,
    blur_mm: float = 0.0,
) -> CTVolume:
    """A CTVolume with ``parts`` [(shape, HU), ...] painted in order over ``background_hu``."""
    hu = np.full(shape, background_hu, dtype=float)
    for solid, value in parts:
        share = fraction(shape, spacing_mm, solid, supersample)
        hu = hu * (1 - share) + value * share
    if blur_mm > 0:
        hu = ndi.gaussian_filter(hu, [blur_mm / s for s in spacing_mm])
    return CTVolume(np.rint(hu).astype(np.int16), spacing_mm, ORIGIN)


def truth_flat(volume: CTVolume, solid: Shape, min_fraction: float = 0.5, supersample: int = 4) -> np.ndarray:
    """Flat indices of voxels at least ``min_fraction`` inside ``solid``."""
    share = fraction(volume.shape, volume.spacing_mm, solid, supersample)
    return np.flatnonzero(share >= min_fraction)


def holding(candidates, flat_index: np.ndarray):
    """The candidates that hold at least one of ``flat_index``."""
    wanted = set(np.asarray(flat_index).tolist())
    return [c for c in candidates if wanted.intersection(c.flat_index.tolist())]


def spine_scene(spacing_mm, blur_mm: float = 0.5, supersample: int = 3):
    """Three osteoporotic vertebral bodies joined by a dense posterior bar; cement fills the middle one.

    Bodies: cylinders (axis S) of radius 18 mm, 24 mm high, a 1.2 mm cortex/endplates of 900 HU
    around 120 HU cancellous bone, discs (80 HU) between them; a 6 x 6 mm posterior bar of
    900 HU joins all three (so the bone is one connected structure). The fill, an ellipsoid of
    2200 HU, abuts the upper endplate of the middle body. Returns (volume, fill shape, bodies).
    """
    centre_x, centre_y = 25.0 + ORIGIN[0], 30.0 + ORIGIN[1]
    z_of = [ORIGIN[2] + z for z in (5.0, 35.0, 65.0)]
    parts, bodies = [], []
    for z0 in z_of:
        outer = _cylinder_z(centre_x, centre_y, 18.0, z0, z0 + 24.0)
        bodies.append(outer)
        parts.append((outer, 900.0))
        parts.append((_cylinder_z(centre_x, centre_y, 16.8, z0 + 1.2, z0 + 22.8), 120.0))
    lo = (centre_x - 3.0, centre_y + 17.0, z_of[0])
    bar = box(lo, (centre_x + 3.0, centre_y + 23.0, z_of[2] + 24.0))
    parts.append((bar, 900.0))
    fill = ellipsoid((centre_x, centre_y, z_of[1] + 12.0), (10.0, 9.0, 10.6))
    parts.append((fill, 2200.0))
    extent_mm = (95.0, 60.0, 55.0)  # z, y, x
    shape = tuple(int(round(e / s)) for e, s in zip(extent_mm, spacing_mm, strict=True))
    volume = render(shape, spacing_mm, parts, supersample=supersample, blur_mm=blur_mm)
    return SimpleNamespace(volume=volume, fill=fill, bodies=bodies, bar=bar)


def _cylinder_z(cx, cy, radius, z0, z1) -> Shape:
    return lambda x, y, z: ((x - cx) ** 2 + (y - cy) ** 2 <= radius**2) & (z >= z0) & (z <= z1)


def anatomy_on_grid(volume: CTVolume, structures: list[tuple[str, Shape]], bodies: list[Shape] = ()):
    """An `AnatomyMap` on the CT grid: structures painted in order (later wins), bodies numbered 1.."""
    from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap

    labels = np.ones(volume.shape, dtype=np.uint8)  # soft tissue everywhere
    grid = grid_mm(volume.shape, volume.spacing_mm)
    for name, solid in structures:
        labels[solid(*grid)] = STRUCTURES[name]
    vertebrae = np.zeros(volume.shape, dtype=np.uint8)
    for number, solid in enumerate(bodies, start=1):
        inside = solid(*grid)
        vertebrae[inside] = number
        labels[inside] = STRUCTURES["vertebral_body"]
    levels = {number: None for number in range(1, len(bodies) + 1)}
    return AnatomyMap(labels, vertebrae, volume.affine, levels, level_note="synthetic")


#: phantom (TotalSegmentator-style) label name patterns -> AnatomyMap structure, first match wins
PHANTOM_STRUCTURES = (
    ("lung_", "lung"),
    ("aorta", "aorta"),
    ("inferior_vena_cava", "inferior_vena_cava"),
    ("hepatic_veins", "inferior_vena_cava"),
    ("azygos_vein", "azygos_system"),
    ("heart_atrium_right", "right_heart"),
    ("heart_ventricle_right", "right_heart"),
    ("heart_", "heart"),
    ("pulmonary_artery", "pulmonary_artery"),
    ("spinal_", "spinal_canal"),
    ("intervertebral_discs", "intervertebral_disc"),
    ("rib_", "other_bone"),
    ("sternum", "other_bone"),
    ("sacrum", "other_bone"),
    ("liver", "liver"),
    ("kidney_", "kidney"),
)


def anatomy_from_phantom(case):
    """An `AnatomyMap` on the CT grid straight from a phantom's own labels (no provider involved)."""
    from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap

    labels, codes = case.anatomy.labels, case.anatomy.codes
    structures = np.where(labels > 0, STRUCTURES["soft_tissue"], 0).astype(np.uint8)
    vertebrae = np.zeros(labels.shape, dtype=np.uint8)
    levels = {}
    for name, code in codes.items():
        inside = labels == code
        if name.startswith("vertebrae_"):
            body = inside & (case.anatomy.vertebral_body == 1)
            number = len(levels) + 1
            levels[number] = name.removeprefix("vertebrae_")
            vertebrae[body] = number
            structures[body] = STRUCTURES["vertebral_body"]
            structures[inside & ~body] = STRUCTURES["posterior_elements"]
            continue
        for prefix, structure in PHANTOM_STRUCTURES:
            if name.startswith(prefix):
                structures[inside] = STRUCTURES[structure]
                break
    return AnatomyMap(structures, vertebrae, case.volume.affine, levels, level_note="phantom labels")
