"""`insert`: put cement fills and leaks into a real CT, guided by its TotalSegmentator labels.

The real CT keeps its own anatomy, noise and artefacts; only the cement is synthetic, so
its truth is exact. Placement uses the labels: each cemented vertebra's body (the anterior
part of its ``vertebrae_*`` label), the IVC centre line (``inferior_vena_cava``), the
lower-lobe pulmonary vessels (``lung_lower_lobe_*`` voxels denser than -300 HU).
Cement is blended by its sub-voxel fraction, blurred by the point-spread function, and the
truth is chosen exactly as in `generate` (see `case`). Voxels at or above 2500 HU before
insertion (a hip prosthesis, screws) are marked metal in the truth, as an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..anatomy.class_maps import TOTAL_V1
from ..errors import AnatomyError, GeometryError, SettingsError
from ..vocabulary import MATERIAL_TRUTH_CODES
from ..volume import CTVolume
from .anatomy import PhantomAnatomy
from .case import PhantomCase, build_manifest, truth_labels
from .cement import CEMENT_TEXTURE_HU, split_at_cortex
from .geometry import Ellipsoid, Grid, Intersection, MaskSolid, Union, polyline_length_mm, polyline_tube
from .inclusions import Inclusion
from .layout import LEVELS
from .materials import CEMENT_HU_RANGE
from .render import add_inclusions, blur

#: dense voxels already in the CT are taken as metal in the truth
PRE_EXISTING_METAL_HU = 2500.0
#: the vertebral body is the anterior part of a vertebra label, this share of its AP extent
BODY_SHARE_OF_AP = 0.40

#: named insertion plans: fills {level: mL} and leaks (route, level, options)
PLANS: dict[str, dict] = {
    "clean_fill": {"fills": {"L1": 5.0, "L2": 4.0}, "leaks": []},
    "ivc_linear_leak": {"fills": {"T12": 4.0, "L1": 5.0, "L2": 4.5},
                        "leaks": [{"route": "ivc_cast", "level": "L1", "length_mm": 50.0}]},
    "ivc_and_pulmonary": {"fills": {"L4": 5.0, "L5": 4.5},
                          "leaks": [{"route": "ivc_cast", "level": "L4", "up_to": "L1"},
                                    {"route": "pulmonary_emboli", "level": "L4", "count": 6}]},
    "epidural": {"fills": {"L2": 5.0}, "leaks": [{"route": "epidural", "level": "L2"}]},
    "intradiscal": {"fills": {"L3": 5.0}, "leaks": [{"route": "intradiscal", "level": "L3"}]},
    "paravertebral_soft_tissue": {"fills": {"L3": 5.0}, "leaks": [{"route": "paravertebral_soft_tissue", "level": "L3"}]},
}


@dataclass
class VertebralBody:
    """A real vertebral body: its mask (canonical grid), centre (LPS mm) and half-extents (mm)."""

    level: str
    mask: np.ndarray
    grid: Grid
    centre: np.ndarray
    half_lr_mm: float
    half_ap_mm: float
    half_height_mm: float

    @property
    def anterior_y_mm(self) -> float:
        return float(self.centre[1] - self.half_ap_mm)


def _canonical(volume: CTVolume) -> tuple[Grid, tuple[int, ...]]:
    """The identity-direction grid of an axis-aligned CT, and the array axes to flip to reach it."""
    direction = volume.direction
    if not np.allclose(np.abs(direction), np.eye(3), atol=1e-3):
        raise GeometryError("insert needs an axial CT whose axes run along L, P and S (direction +-identity)")
    flips = tuple(2 - column for column in range(3) if direction[column, column] < 0)
    corner = [0, 0, 0]
    for axis in flips:
        corner[axis] = volume.shape[axis] - 1
    return Grid(volume.shape, volume.spacing_mm, tuple(volume.index_to_lps(corner))), flips


def _flip(array: np.ndarray, flips: tuple[int, ...]) -> np.ndarray:
    return np.flip(array, flips) if flips else array


def _lps_of(grid: Grid, zyx: np.ndarray) -> np.ndarray:
    return np.asarray(grid.origin_lps_mm) + np.asarray(zyx, float)[..., ::-1] * np.asarray(grid.spacing_mm)[::-1]


def vertebral_body(labels: np.ndarray, grid: Grid, code: int, level: str) -> VertebralBody:
    """The body of a labelled vertebra: its anterior part near the midline, largest component."""
    vertebra = labels == code
    zyx = np.argwhere(vertebra)
    if len(zyx) < 20:
        raise AnatomyError(f"vertebra {level} has too few labelled voxels to place cement")
    lps = _lps_of(grid, zyx)
    front, back = lps[:, 1].min(), lps[:, 1].max()
    midline = np.median(lps[:, 0])
    keep = (lps[:, 1] <= front + BODY_SHARE_OF_AP * (back - front)) & (np.abs(lps[:, 0] - midline) < 30.0)
    body = np.zeros(labels.shape, bool)
    body[tuple(zyx[keep].T)] = True
    components, n = ndimage.label(body)
    if n == 0:
        raise AnatomyError(f"no vertebral body found in the {level} label")
    body = components == (np.argmax(np.bincount(components.ravel())[1:]) + 1)
    points = _lps_of(grid, np.argwhere(body))
    centre = points.mean(axis=0)
    half = (points.max(axis=0) - points.min(axis=0) + np.asarray(grid.spacing_mm)[::-1]) / 2
    return VertebralBody(level, body, grid, centre, float(half[0]), float(half[1]), float(half[2]))


def _ivc_path(labels: np.ndarray, grid: Grid, code: int) -> tuple[np.ndarray, np.ndarray]:
    """IVC centre line (LPS mm points, caudal to cranial) and radius (mm) per slice."""
    ivc = labels == code
    points, radii = [], []
    for z in range(ivc.shape[0]):
        if ivc[z].sum() >= 3:
            yx = np.argwhere(ivc[z]).mean(axis=0)
            points.append(_lps_of(grid, np.array([z, *yx])))
            radii.append(np.sqrt(ivc[z].sum() * grid.spacing_mm[1] * grid.spacing_mm[2] / np.pi))
    if len(points) < 3:
        raise AnatomyError("the labels hold no inferior_vena_cava to guide an IVC leak")
    return np.asarray(points), np.asarray(radii)


def _at_z(path: np.ndarray, values: np.ndarray, z: float):
    return np.array([np.interp(z, path[:, 2], path[:, k]) for k in range(3)]), float(np.interp(z, path[:, 2], values))


def _core(body: VertebralBody) -> MaskSolid:
    """The body inside its cortex: the label eroded by one voxel."""
    return MaskSolid(ndimage.binary_erosion(body.mask) | _centre_voxel(body), body.grid)


def _fill(body: VertebralBody, volume_ml: float, hu: float) -> Inclusion:
    shape = np.array([body.half_lr_mm - 5.0, body.half_ap_mm - 4.0, body.half_height_mm - 4.0]).clip(3.0)
    scale = min((volume_ml * 1000.0 / (4.0 / 3.0 * np.pi * shape.prod())) ** (1 / 3), 1.0)
    solid = Intersection(Ellipsoid(body.centre, shape * scale), _core(body))
    return Inclusion("cement", solid, hu, location="vertebral_body", source_vertebra=body.level, route="intended fill",
                     length_mm=float(2 * shape[0] * scale), description=f"{body.level} vertebral body fill",
                     texture_hu=CEMENT_TEXTURE_HU)


def _centre_voxel(body: VertebralBody) -> np.ndarray:
    grid = body.grid
    zyx = np.rint((body.centre - np.asarray(grid.origin_lps_mm)) / np.asarray(grid.spacing_mm)[::-1])[::-1].astype(int)
    mask = np.zeros(body.mask.shape, bool)
    mask[tuple(zyx)] = True
    return mask


def _tube(points, radius_mm, hu, location, level, route, description) -> Inclusion:
    points = np.asarray(points, float)
    return Inclusion("cement", polyline_tube(points, radius_mm), hu, location=location, source_vertebra=level,
                     route=route, centrelines=[points], length_mm=polyline_length_mm(points), description=description,
                     texture_hu=CEMENT_TEXTURE_HU / 2)


def _ivc_leak(body: VertebralBody, path, radii, hu, rng, length_mm=50.0, up_to_z=None) -> list[Inclusion]:
    """Anterior cortex -> anterior external plexus -> IVC, then a thin cast running cranially."""
    z0 = body.centre[2] - 3.0
    centre, radius = _at_z(path, radii, z0 + 4.0)
    start = np.array([body.centre[0] + 4.0, body.anterior_y_mm + 1.5, z0])
    towards = (start - centre) * (1, 1, 0)
    entry = centre + towards / np.linalg.norm(towards) * max(radius - 2.0, 1.0)
    middle = 0.5 * (start + entry) + (0.0, -2.0, 1.5)
    plexus = _tube([start, middle, entry], 1.4, hu, "paravertebral_venous", body.level, "anterior external venous plexus",
                   f"cement in the anterior external venous plexus in front of {body.level}")
    z_end = up_to_z if up_to_z is not None else entry[2] + length_mm
    z_end = min(z_end, path[-1, 2] - 2.0)
    cast_points = [entry]
    for z in np.arange(entry[2] + 4.0, z_end + 1e-6, 4.0):
        c, r = _at_z(path, radii, z)
        cast_points.append(c + np.append(rng.uniform(-0.6, 0.6, 2) + (0.0, 0.35 * r), 0.0))
    cast_points = np.asarray(cast_points)
    step = cast_points[1] - cast_points[0]
    cast_points[0] += step / np.linalg.norm(step) * 2.6  # touch, do not overlap, the plexus tube
    cast = _tube(cast_points, 1.2, hu, "inferior_vena_cava", body.level, "venous migration into the IVC",
                 f"thin linear cement cast in the IVC, {polyline_length_mm(cast_points):.0f} mm, running cranially")
    return [plexus, cast]


def _canal_front_y(labels: np.ndarray, code: int, body: VertebralBody) -> float:
    """y (LPS mm) where the spinal canal begins behind the body: on the ray from the body centre
    backwards, the first point outside the vertebra's label (TotalSegmentator leaves the canal out)."""
    grid = body.grid
    cx, cy, cz = body.centre
    for y in np.arange(cy, cy + body.half_ap_mm + 25.0, 0.5):
        zyx = np.rint((np.array([cx, y, cz]) - grid.origin_lps_mm) / np.asarray(grid.spacing_mm)[::-1])[::-1].astype(int)
        if np.any(zyx < 0) or np.any(zyx >= np.asarray(grid.shape)):
            break
        if labels[tuple(zyx)] != code:
            return float(y)
    raise AnatomyError(f"no spinal canal found behind the {body.level} vertebral body")


def _epidural(body: VertebralBody, canal_front: float, hu) -> Inclusion:
    cx, cz = body.centre[0], body.centre[2]
    vein = polyline_tube([(cx, canal_front - 6.0, cz), (cx, canal_front + 1.5, cz + 1.0)], 1.6)
    sheet = Ellipsoid((cx, canal_front + 2.2, cz + 3.0), (7.0, 1.8, 9.0))
    return Inclusion("cement", Union([vein, sheet]), hu, location="spinal_canal", source_vertebra=body.level,
                     route="basivertebral vein -> anterior epidural plexus", length_mm=18.0,
                     description=f"epidural cement in the spinal canal at {body.level}", texture_hu=CEMENT_TEXTURE_HU / 2)


def _intradiscal(body: VertebralBody, above: VertebralBody | None, hu) -> Inclusion:
    top = body.centre[2] + body.half_height_mm
    height = (above.centre[2] - above.half_height_mm - top) if above is not None else 8.0
    height = float(np.clip(height, 4.0, 14.0))
    lens = Ellipsoid((body.centre[0] + 4.0, body.centre[1], top + 0.45 * height), (10.0, 8.0, 0.42 * height))
    bridge = Ellipsoid((body.centre[0] + 4.0, body.centre[1], top), (4.0, 4.0, 2.5))
    return Inclusion("cement", Union([lens, bridge]), hu, location="intradiscal", source_vertebra=body.level,
                     route="superior endplate defect", length_mm=22.0,
                     description=f"intradiscal cement above {body.level}", texture_hu=CEMENT_TEXTURE_HU / 2)


def _paravertebral(body: VertebralBody, hu, side: int = 1) -> Inclusion:
    cx, cy, cz = body.centre
    blob = Ellipsoid((cx + side * (body.half_lr_mm + 4.0), cy, cz - 2.0), (5.5, 4.5, 7.0))
    bridge = polyline_tube([(cx + side * (body.half_lr_mm - 5.0), cy, cz - 2.0), (cx + side * (body.half_lr_mm + 2.0), cy, cz - 2.0)], 2.0)
    return Inclusion("cement", Union([blob, bridge]), hu, location="paravertebral_soft_tissue", source_vertebra=body.level,
                     route="lateral cortical defect", length_mm=14.0,
                     description=f"cement in the paravertebral soft tissue at {body.level}", texture_hu=CEMENT_TEXTURE_HU / 2)


def _emboli(hu_ct: np.ndarray, labels: np.ndarray, grid: Grid, lobe_codes: list[int], level: str, count: int, hu,
            rng) -> list[Inclusion]:
    """Short tubular emboli along real lower-lobe vessels: the lobe's densest 8% of voxels
    (above -650 HU), away from its surface."""
    lobes = np.isin(labels, lobe_codes)
    if not lobes.any():
        return []
    threshold = max(-650.0, float(np.percentile(hu_ct[lobes], 92)))
    vessels = np.argwhere(lobes & (hu_ct > threshold) & ndimage.binary_erosion(lobes, iterations=1))
    emboli: list[Inclusion] = []
    chosen: list[np.ndarray] = []
    if len(vessels) == 0:
        return emboli
    points = _lps_of(grid, vessels)
    for index in rng.permutation(len(vessels)):
        if len(emboli) == count:
            break
        p = points[index]
        if any(np.linalg.norm(p - q) < 15.0 for q in chosen):
            continue
        near = points[np.linalg.norm(points - p, axis=1) < 8.0]
        if len(near) < 3:
            continue
        direction = np.linalg.svd(near - near.mean(axis=0))[2][0]
        half = rng.uniform(4.0, 7.0)
        chosen.append(p)
        lobe = "left" if p[0] > 0 else "right"
        emboli.append(_tube([p - direction * half, p + direction * half], 1.4, hu, "pulmonary_artery", level,
                            "venous embolism", f"tubular cement embolus, lower lobe {lobe}"))
    return emboli


def insert(volume: CTVolume, anatomy_labels: np.ndarray | CTVolume, spec: str | dict = "ivc_linear_leak", seed: int = 0,
           class_map: dict[int, str] | None = None) -> PhantomCase:
    """Insert cement (fills and leaks) into a real CT using its TotalSegmentator labels.

    Args:
        volume: the real CT (any axis-aligned orientation; LPS geometry as loaded).
        anatomy_labels: multilabel array on ``volume``'s grid ((z, y, x), same orientation), or a
            CTVolume of it (its geometry must match).
        spec: a plan name from `PLANS`, or a dict ``{"fills": {level: mL}, "leaks": [{"route":
            "ivc_cast"|"epidural"|"intradiscal"|"paravertebral_soft_tissue"|"pulmonary_emboli",
            "level": ..., ...}]}``.
        seed: fixes cement density, texture and emboli sites.
        class_map: {code: TotalSegmentator class name}; default the ``total_v1`` map.

    Returns a `PhantomCase` on the CT's own grid and orientation.
    """
    labels = _labels_array(volume, anatomy_labels)
    plan = PLANS.get(spec) if isinstance(spec, str) else spec
    if plan is None:
        raise SettingsError(f"unknown insertion plan {spec!r}; choose one of {', '.join(PLANS)} or pass a dict")
    names = dict(class_map or TOTAL_V1)
    codes = {name: code for code, name in names.items()}
    grid, flips = _canonical(volume)
    hu_canonical = _flip(volume.hu, flips).astype(np.float32)
    labels_canonical = np.ascontiguousarray(_flip(labels, flips))
    rng = np.random.default_rng(seed)
    cement_hu = float(rng.uniform(*CEMENT_HU_RANGE))

    bodies: dict[str, VertebralBody] = {}

    def body_of(level: str) -> VertebralBody:
        if level not in bodies:
            name = f"vertebrae_{level}"
            if name not in codes or not (labels_canonical == codes[name]).any():
                raise AnatomyError(f"the labels hold no {name}: cannot place cement there")
            bodies[level] = vertebral_body(labels_canonical, grid, codes[name], level)
        return bodies[level]

    inclusions = [_fill(body_of(level), ml, cement_hu) for level, ml in plan["fills"].items()]
    for leak in plan["leaks"]:
        body = body_of(leak["level"])
        route = leak["route"]
        if route == "ivc_cast":
            path, radii = _ivc_path(labels_canonical, grid, codes["inferior_vena_cava"])
            up_to = body_of(leak["up_to"]).centre[2] if "up_to" in leak else None
            inclusions += _ivc_leak(body, path, radii, cement_hu, rng, leak.get("length_mm", 50.0), up_to)
        elif route == "epidural":
            canal_front = _canal_front_y(labels_canonical, codes[f"vertebrae_{leak['level']}"], body)
            inclusions.append(_epidural(body, canal_front, cement_hu))
        elif route == "intradiscal":
            above_level = LEVELS[LEVELS.index(leak["level"]) + 1]
            above = body_of(above_level) if codes.get(f"vertebrae_{above_level}") in np.unique(labels_canonical) else None
            inclusions.append(_intradiscal(body, above, cement_hu))
        elif route == "paravertebral_soft_tissue":
            inclusions.append(_paravertebral(body, cement_hu))
        elif route == "pulmonary_emboli":
            lobes = [codes[n] for n in ("lung_lower_lobe_left", "lung_lower_lobe_right") if n in codes]
            inclusions += _emboli(hu_canonical, labels_canonical, grid, lobes, leak["level"], leak.get("count", 6),
                                  cement_hu, rng)
        else:
            raise SettingsError(f"unknown leak route {route!r}")

    split_at_cortex(inclusions, {level: _core(body) for level, body in bodies.items()})
    before = hu_canonical.copy()
    maps = add_inclusions(hu_canonical, grid, inclusions, rng)
    hu_out = before + blur(hu_canonical - before, grid)
    truth = truth_labels(maps.owner, inclusions, np.zeros(grid.shape, bool))
    truth[(before >= PRE_EXISTING_METAL_HU) & (maps.owner == 0)] = MATERIAL_TRUTH_CODES["metal"]
    stored = np.clip(np.rint(hu_out), -32768, 32767).astype(np.int16)

    present = [lv for lv in LEVELS if f"vertebrae_{lv}" in codes and (labels_canonical == codes[f"vertebrae_{lv}"]).any()]
    header = {"scenario": f"insert:{spec}" if isinstance(spec, str) else "insert:custom",
              "description": "synthetic cement inserted into a real CT", "seed_case": "", "seed": seed,
              "phase": volume.meta.get("phase", "as acquired"), "orientation": "as the source CT"}
    level_z = {lv: float(body_of(lv).centre[2]) for lv in present}
    manifest = build_manifest(header, grid, inclusions, maps, truth, stored, present, level_z)
    vertebral_bodies = np.zeros(grid.shape, np.uint8)
    for body in bodies.values():
        vertebral_bodies[body.mask] = 1
    out = CTVolume(hu=np.ascontiguousarray(_flip(stored, flips)), spacing_mm=volume.spacing_mm,
                   origin_lps_mm=volume.origin_lps_mm, direction=volume.direction,
                   meta={**volume.meta, "cement_inserted": True}, warnings=list(volume.warnings))
    anatomy = PhantomAnatomy(labels=labels.astype(np.uint8), codes={n: c for n, c in codes.items()},
                             vertebral_body=np.ascontiguousarray(_flip(vertebral_bodies, flips)))
    return PhantomCase(volume=out, truth=np.ascontiguousarray(_flip(truth, flips)), anatomy=anatomy, manifest=manifest,
                       instances=np.ascontiguousarray(_flip(maps.owner, flips)))


def _labels_array(volume: CTVolume, labels) -> np.ndarray:
    if isinstance(labels, CTVolume):
        if labels.shape != volume.shape or not np.allclose(labels.affine, volume.affine, atol=1e-3):
            raise AnatomyError("the anatomy labels are not on the CT's grid (shape or geometry differ)")
        labels = labels.hu
    labels = np.asarray(labels)
    if labels.shape != volume.shape:
        raise AnatomyError(f"anatomy labels of shape {labels.shape} do not match the CT {volume.shape}")
    if labels.min() < 0 or labels.max() > 255:
        raise AnatomyError("anatomy labels must be codes 0-255")
    return labels
