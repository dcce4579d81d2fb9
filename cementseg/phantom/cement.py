"""Cement: the intended vertebral body fill and the leaks along the published routes.

Every function returns `Inclusion` objects of kind "cement" in LPS mm, placed from the
phantom's layout. Thin leaks carry a centre line (see `Inclusion.centrelines`).
"""

from __future__ import annotations

import numpy as np

from .geometry import Difference, Ellipsoid, Intersection, Union, polyline_length_mm, polyline_tube
from .inclusions import Inclusion
from .layout import VERTEBRAE, level_above, level_below
from .lungs import ArterySegment
from .spine import cancellous_core
from .vessels import IVC_RADIUS_MM, RIGHT_VENTRICLE_CENTRE, azygos_path, ivc_path

#: cement clumps (barium / zirconia) make the cast heterogeneous by about this much (HU)
CEMENT_TEXTURE_HU = 120.0


def point_on_path_at_z(path: np.ndarray, z: float) -> np.ndarray:
    """The point of a cranially running centre line (LPS mm) at height ``z`` mm."""
    path = np.asarray(path, float)
    return np.array([np.interp(z, path[:, 2], path[:, k]) for k in range(3)])


def _tube(points, radius_mm, hu, location, level, route, description) -> Inclusion:
    points = np.asarray(points, float)
    return Inclusion(
        "cement",
        polyline_tube(points, radius_mm),
        hu,
        location=location,
        source_vertebra=level,
        route=route,
        centrelines=[points],
        length_mm=polyline_length_mm(points),
        description=description,
        texture_hu=CEMENT_TEXTURE_HU / 2,
    )


def fill(
    level: str, volume_ml: float, hu: float, rng: np.random.Generator, style: str = "ellipsoid"
) -> Inclusion:
    """The intended fill of a vertebral body: one ellipsoid (bipedicular) or a cloud of blobs,
    about ``volume_ml`` mL, kept inside the cancellous core."""
    v = VERTEBRAE[level]
    core = cancellous_core(v)
    shape = np.array([v.half_lr_mm - 4.0, v.half_ap_mm - 3.5, v.half_height_mm - 3.0])
    scale = min((volume_ml * 1000.0 / (4.0 / 3.0 * np.pi * shape.prod())) ** (1 / 3), 1.0)
    centre = np.array(v.centre) + (0.0, -1.0, 0.0)
    if style == "ellipsoid":
        solid = Intersection(Ellipsoid(centre, shape * scale), core)
    elif style == "cloud":
        blobs = [Ellipsoid(centre, shape * scale * 0.8)]
        for _ in range(6):
            offset = rng.uniform(-0.55, 0.55, 3) * shape * scale
            blobs.append(Ellipsoid(centre + offset, shape * scale * rng.uniform(0.3, 0.5, 3)))
        solid = Intersection(Union(blobs), core)
    else:
        raise ValueError(f"unknown fill style {style!r}")
    return Inclusion(
        "cement",
        solid,
        hu,
        location="vertebral_body",
        source_vertebra=level,
        route="intended fill",
        length_mm=float(2 * shape[0] * scale),
        description=f"{level} vertebral body fill ({style})",
        texture_hu=CEMENT_TEXTURE_HU,
    )


def epidural_leak(level: str, hu: float) -> Inclusion:
    """Basivertebral vein -> anterior epidural venous plexus: a flat sheet in the front of the canal."""
    v = VERTEBRAE[level]
    canal_front = v.canal_centre[1] - v.canal_half_ap_mm
    cz = v.centre[2]
    vein = polyline_tube([(0.0, v.posterior_y_mm - 4.0, cz), (0.0, canal_front + 1.5, cz + 1.0)], 1.6)
    sheet = Ellipsoid((0.0, canal_front + 2.2, cz + 3.0), (7.0, 1.8, 9.0))
    return Inclusion(
        "cement",
        Union([vein, sheet]),
        hu,
        location="spinal_canal",
        source_vertebra=level,
        route="basivertebral vein -> anterior epidural plexus",
        length_mm=18.0,
        description=f"epidural cement in the spinal canal at {level}",
        texture_hu=CEMENT_TEXTURE_HU / 2,
    )


def intradural_collection(level: str, hu: float, length_mm: float = 35.0) -> Inclusion:
    """Through the posterior wall and a dural tear into the thecal sac: an elongated collection
    centred on the disc above ``level`` (a 3.5 cm collection at L1-L2 for an L2 leak)."""
    v = VERTEBRAE[level]
    upper = VERTEBRAE[level_above(level)]
    disc_z = 0.5 * (v.top_mm + upper.bottom_mm)
    cy = v.canal_centre[1]
    tract = polyline_tube(
        [(0.0, v.posterior_y_mm - 4.0, v.centre[2] + 5.0), (0.0, cy - 1.5, v.centre[2] + 7.0)], 1.5
    )
    collection = Ellipsoid((-1.5, cy - 0.5, disc_z), (5.0, 3.4, length_mm / 2))
    return Inclusion(
        "cement",
        Union([tract, collection]),
        hu,
        location="spinal_canal",
        source_vertebra=level,
        route="posterior wall -> dural tear -> thecal sac",
        length_mm=length_mm,
        description=f"intradural cement collection at {level_above(level)}-{level}, {length_mm:.0f} mm long",
        texture_hu=CEMENT_TEXTURE_HU / 2,
        extra={"intradural": True},
    )


def anterior_plexus_to_ivc(
    level: str, hu: float, cast_length_mm: float, rng: np.random.Generator
) -> list[Inclusion]:
    """Seed case 1: out of the left anterior cortex, along the anterior external venous plexus
    to the IVC, then a thin linear cast running cranially inside the IVC."""
    v = VERTEBRAE[level]
    z0 = v.centre[2] - 4.0
    front = v.anterior_y_mm
    ivc = point_on_path_at_z(ivc_path(), z0 + 5.0)
    entry = ivc + (7.5, 6.5, 0.0)
    plexus = [
        (8.0, front + 1.0, z0),
        (4.0, front - 2.0, z0 + 1.0),
        (-6.0, front - 3.0, z0 + 2.0),
        (-14.0, front - 4.5, z0 + 3.5),
        tuple(entry),
    ]
    leaks = [
        _tube(
            plexus,
            1.4,
            hu,
            "paravertebral_venous",
            level,
            "anterior external vertebral venous plexus",
            f"cement in the anterior external venous plexus in front of {level}",
        )
    ]
    leaks.append(ivc_cast(level, entry, entry[2] + cast_length_mm, hu, rng, radius_mm=1.0, gap_mm=2.4))
    return leaks


def _abutting(points: np.ndarray, gap_mm: float) -> np.ndarray:
    """Move a polyline's first point ``gap_mm`` along it, so its round end touches, but does not
    overlap, the tube it continues (then no voxel is contested between the two leaks)."""
    direction = points[1] - points[0]
    points[0] = points[0] + direction / np.linalg.norm(direction) * gap_mm
    return points


def ivc_cast(
    level: str,
    start,
    z_end: float,
    hu: float,
    rng: np.random.Generator,
    radius_mm: float = 1.3,
    gap_mm: float = 0.0,
) -> Inclusion:
    """A thin linear cast inside the IVC from ``start`` (LPS mm) cranially up to ``z_end`` mm,
    beginning ``gap_mm`` past ``start``."""
    start = np.asarray(start, float)
    path = ivc_path()
    points = [start]
    for z in np.arange(start[2] + 4.0, z_end + 1e-6, 4.0):
        centre = point_on_path_at_z(path, z)
        offset = np.array([2.0, 5.0, 0.0]) + np.append(rng.uniform(-0.8, 0.8, 2), 0.0)
        points.append(centre + offset * min(1.0, (IVC_RADIUS_MM - 3.0) / np.linalg.norm(offset)))
    points = _abutting(np.asarray(points), gap_mm)
    return _tube(
        points,
        radius_mm,
        hu,
        "inferior_vena_cava",
        level,
        "venous migration into the IVC",
        f"thin linear cement cast in the IVC, {polyline_length_mm(points):.0f} mm, running cranially",
    )


def paravertebral_to_ivc(
    level: str, up_to_level: str, hu: float, rng: np.random.Generator
) -> list[Inclusion]:
    """Seed case 2: out of the right anterolateral cortex through the paravertebral plexus into
    the IVC, and up the IVC as a linear tract to ``up_to_level``."""
    v = VERTEBRAE[level]
    cx, cy, cz = v.centre
    angle = np.radians(40.0)
    exit_point = (-(v.half_lr_mm - 1.0) * np.cos(angle), cy - (v.half_ap_mm - 1.0) * np.sin(angle), cz)
    ivc = point_on_path_at_z(ivc_path(), cz + 6.0)
    entry = ivc + (4.0, 7.0, 0.0)
    plexus = [exit_point, (exit_point[0] - 3.0, exit_point[1] - 5.0, cz + 3.0), tuple(entry)]
    leaks = [
        _tube(
            plexus,
            1.5,
            hu,
            "paravertebral_venous",
            level,
            "paravertebral venous plexus",
            f"cement in the right paravertebral venous plexus at {level}",
        )
    ]
    leaks.append(ivc_cast(level, entry, VERTEBRAE[up_to_level].centre[2], hu, rng, radius_mm=1.5, gap_mm=3.0))
    return leaks


def segmental_to_azygos(level: str, hu: float, rng: np.random.Generator) -> list[Inclusion]:
    """Out of the right anterolateral cortex of a thoracic level along a segmental vein into the
    azygos vein, then a short cranial cast in the azygos."""
    v = VERTEBRAE[level]
    cx, cy, cz = v.centre
    start = (-(v.half_lr_mm - 1.0) * 0.7, cy - (v.half_ap_mm - 1.0) * 0.7, cz)
    azygos = point_on_path_at_z(azygos_path(), cz + 4.0)
    segmental = [start, (start[0] - 2.0, start[1] - 3.0, cz + 2.0), tuple(azygos)]
    cast = _abutting(
        np.array(
            [
                azygos,
                point_on_path_at_z(azygos_path(), cz + 16.0),
                point_on_path_at_z(azygos_path(), cz + 28.0),
            ]
        ),
        3.0,
    )
    return [
        _tube(
            segmental,
            1.4,
            hu,
            "paravertebral_venous",
            level,
            "segmental vein",
            f"cement in a right segmental vein at {level}",
        ),
        _tube(
            cast,
            1.6,
            hu,
            "azygos_system",
            level,
            "segmental vein -> azygos vein",
            f"cement cast in the azygos vein above {level}",
        ),
    ]


def intradiscal_leak(level: str, hu: float) -> Inclusion:
    """Through the superior endplate into the disc above ``level``: a flat lens of cement."""
    v = VERTEBRAE[level]
    upper = VERTEBRAE[level_above(level)]
    height = upper.bottom_mm - v.top_mm
    lens = Ellipsoid((5.0, v.centre[1] + 1.0, v.top_mm + 0.45 * height), (11.0, 8.0, 0.42 * height))
    bridge = Ellipsoid((5.0, v.centre[1] + 1.0, v.top_mm), (4.0, 4.0, 2.5))
    return Inclusion(
        "cement",
        Union([lens, bridge]),
        hu,
        location="intradiscal",
        source_vertebra=level,
        route="superior endplate defect",
        length_mm=22.0,
        description=f"intradiscal cement in the {level}-{upper.name} disc",
        texture_hu=CEMENT_TEXTURE_HU / 2,
    )


def needle_tract(level: str, side: int, hu: float) -> Inclusion:
    """Cement left along the transpedicular needle path (``side`` +1 left, -1 right pedicle)."""
    v = VERTEBRAE[level]
    cz = v.centre[2] + 2.0
    pedicle_x = side * (v.canal_half_lr_mm + 3.0)
    points = [
        (side * 6.0, v.posterior_y_mm - 1.0, cz),
        (pedicle_x, v.canal_centre[1], cz + 1.0),
        (side * (v.canal_half_lr_mm + 7.0), v.canal_centre[1] + 14.0, cz + 2.0),
    ]
    return _tube(
        points,
        1.5,
        hu,
        "needle_tract",
        level,
        "transpedicular needle tract",
        f"cement along the {'left' if side > 0 else 'right'} transpedicular needle tract of {level}",
    )


def paravertebral_soft_tissue(level: str, side: int, hu: float) -> Inclusion:
    """Through a lateral cortical defect into the paravertebral soft tissue: a small blob."""
    v = VERTEBRAE[level]
    cx, cy, cz = v.centre
    blob = Ellipsoid((side * (v.half_lr_mm + 4.0), cy - 2.0, cz - 2.0), (5.5, 4.5, 7.0))
    bridge = polyline_tube(
        [
            (side * (v.half_lr_mm - 4.0), cy - 1.0, cz - 2.0),
            (side * (v.half_lr_mm + 2.0), cy - 2.0, cz - 2.0),
        ],
        2.0,
    )
    return Inclusion(
        "cement",
        Union([blob, bridge]),
        hu,
        location="paravertebral_soft_tissue",
        source_vertebra=level,
        route="lateral cortical defect",
        length_mm=14.0,
        description=f"cement in the {'left' if side > 0 else 'right'} paravertebral soft tissue at {level}",
        texture_hu=CEMENT_TEXTURE_HU / 2,
    )


def neural_foramen_leak(level: str, side: int, hu: float) -> Inclusion:
    """Through the posterolateral cortex into the neural foramen below the pedicle of ``level``."""
    v = VERTEBRAE[level]
    lower = VERTEBRAE[level_below(level)]
    z = 0.5 * (v.bottom_mm + lower.top_mm) + 3.0
    x = side * (v.canal_half_lr_mm + 5.0)
    blob = Ellipsoid((x, v.canal_centre[1] - 3.0, z), (3.5, 3.5, 4.5))
    bridge = polyline_tube(
        [
            (side * (v.canal_half_lr_mm + 2.0), v.posterior_y_mm - 3.0, z + 4.0),
            (x, v.canal_centre[1] - 3.0, z),
        ],
        1.5,
    )
    return Inclusion(
        "cement",
        Union([blob, bridge]),
        hu,
        location="neural_foramen",
        source_vertebra=level,
        route="posterolateral cortical defect",
        length_mm=11.0,
        description=f"cement in the {'left' if side > 0 else 'right'} {level}-{lower.name} neural foramen",
        texture_hu=CEMENT_TEXTURE_HU / 2,
    )


def right_heart_fragment(level: str, hu: float) -> Inclusion:
    """A small linear fragment lodged in the trabeculae of the right ventricle."""
    c = RIGHT_VENTRICLE_CENTRE
    points = [c + (-8.0, 4.0, -6.0), c + (0.0, 2.0, -2.0), c + (8.0, 0.0, 1.0)]
    return _tube(
        points,
        1.5,
        hu,
        "right_heart",
        level,
        "venous embolism to the right heart",
        "cement fragment in the right ventricle",
    )


def split_at_cortex(inclusions: list[Inclusion], cores: dict | None = None) -> list[Inclusion]:
    """Give the part of each leak inside its source vertebra's cancellous core to that level's fill.

    Leaks start inside the body, where their cement is continuous with the fill; the truth
    calls cement inside the core "vertebral_body" and the leak begins at the cortex, as a
    reader splits them. Leaks from a level without a fill are left whole. ``cores`` gives the
    core solid per level (default: the phantom's own vertebrae).
    """
    fills = {inc.source_vertebra: inc for inc in inclusions if inc.kind == "cement" and not inc.is_leak}
    for leak in inclusions:
        fill = fills.get(leak.source_vertebra) if leak.is_leak else None
        if fill is None:
            continue
        core = cores[leak.source_vertebra] if cores is not None else cancellous_core(VERTEBRAE[leak.source_vertebra])
        if np.any(leak.solid.lo > core.hi) or np.any(leak.solid.hi < core.lo):
            continue
        fill.solid = Union([fill.solid, Intersection(leak.solid, core)])
        leak.solid = Difference(leak.solid, core)
    return inclusions


LOBE_WEIGHT = {"lower": 4.0, "middle": 1.5, "upper": 0.6}


def pulmonary_emboli(
    tree: list[ArterySegment],
    count: int,
    level: str,
    hu: float,
    rng: np.random.Generator,
    right_weight: float = 1.5,
    below_z_mm: float = np.inf,
) -> list[Inclusion]:
    """``count`` linear, branching or nodular emboli in peripheral pulmonary arteries,
    lower-lobe predominant (and right-predominant when ``right_weight`` > 1), all in
    arteries below ``below_z_mm`` (to keep them in a field of view)."""
    ends = {}
    for s in tree:
        ends.setdefault(s.start, []).append(s)
    candidates = [
        s
        for s in tree
        if s.generation >= 2
        and s.radius_mm <= 4.0
        and s.lobe.startswith("lung_")
        and max(s.start[2], s.end[2]) < below_z_mm - 6.0
    ]
    weights = np.array(
        [
            LOBE_WEIGHT[s.lobe.split("_")[1]] * (right_weight if s.lobe.endswith("right") else 1.0)
            for s in candidates
        ]
    )
    order = rng.choice(len(candidates), size=len(candidates), replace=False, p=weights / weights.sum())
    used: set = set()
    emboli: list[Inclusion] = []
    for index in order:
        if len(emboli) == count:
            break
        s = candidates[index]
        if s.start in used or s.end in used:
            continue
        used.update((s.start, s.end))
        start, end = np.asarray(s.start), np.asarray(s.end)
        radius = min(0.85 * s.radius_mm, 2.2)
        kind = rng.choice(["tubular", "branching", "nodular"], p=[0.45, 0.3, 0.25])
        lobe = s.lobe.replace("lung_", "").replace("_", " ")
        if kind == "nodular":
            r = min(rng.uniform(1.8, 3.0), 0.85 * s.radius_mm)  # a nodule filling, not bursting, its artery
            emboli.append(
                Inclusion(
                    "cement",
                    Ellipsoid(end, (r, r, r)),
                    hu,
                    location="pulmonary_artery",
                    source_vertebra=level,
                    route="venous embolism",
                    length_mm=2 * r,
                    description=f"nodular cement embolus, {lobe}",
                    texture_hu=CEMENT_TEXTURE_HU / 2,
                    extra={"shape": "nodular", "lobe": s.lobe},
                )
            )
            continue
        points = [start + rng.uniform(0.1, 0.5) * (end - start), end]
        children = ends.get(s.end, []) if kind == "branching" else []
        if not children:
            emboli.append(_embolus(points, radius, hu, level, "tubular", s.lobe))
            continue
        branches = [np.asarray(points)] + [
            np.array([end, end + 0.5 * (np.asarray(c.end) - end)])
            for c in children
            if np.asarray(c.end)[2] < below_z_mm - 6.0
        ]
        solid = Union([polyline_tube(b, radius * (0.8 if k else 1.0)) for k, b in enumerate(branches)])
        emboli.append(
            Inclusion(
                "cement",
                solid,
                hu,
                location="pulmonary_artery",
                source_vertebra=level,
                route="venous embolism",
                centrelines=branches,
                length_mm=sum(polyline_length_mm(b) for b in branches),
                description=f"branching cement embolus, {lobe}",
                texture_hu=CEMENT_TEXTURE_HU / 2,
                extra={"shape": "branching", "lobe": s.lobe},
            )
        )
        used.update(tuple(c.end) for c in children)
    return emboli


def _embolus(points, radius, hu, level, shape, lobe) -> Inclusion:
    inclusion = _tube(
        points,
        radius,
        hu,
        "pulmonary_artery",
        level,
        "venous embolism",
        f"{shape} cement embolus, {lobe.replace('lung_', '').replace('_', ' ')}",
    )
    inclusion.extra = {"shape": shape, "lobe": lobe}
    return inclusion
