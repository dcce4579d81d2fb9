"""`generate`: one synthetic post-vertebroplasty CT with voxel-exact truth and a manifest.

Truth and volume definition (the detector is scored on it): each object's geometry is
sampled at 4x4x4 points per voxel, giving its partial-volume fraction in every voxel and its
exact volume inside the field of view (``geometric_volume_ml``). Its truth voxels are the N
voxels it fills most, N = round(geometric volume / voxel volume), the voxels its centre
line passes through counted first: the truth volume (``volume_ml`` = truth voxels x voxel
volume) equals the geometric volume to within half a voxel, and a leak thinner than a voxel
keeps a connected truth along its centre line (then ``volume_ml`` exceeds the geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from ..vocabulary import DEFAULT_SEVERITY, LOCATION_CODES, MATERIAL_TRUTH_CODES
from ..volume import CTVolume
from .anatomy import PhantomAnatomy, anatomy_from_parts, anatomy_parts, paint_anatomy
from .geometry import Grid
from .inclusions import Inclusion
from .layout import LEVELS, TORSO_HALF_LR_MM, VERTEBRAE
from .lungs import pulmonary_tree
from .render import (
    InclusionMaps,
    add_inclusions,
    anatomy_hu,
    blur,
    correlated_noise,
    metal_streaks,
    noise_sd_hu,
    to_stored_hu,
)
from .scenarios import EXTRA_CONFOUNDERS, Scenario, get_scenario

DEFAULT_SPACING_MM = (1.5, 1.0, 1.0)
#: in-plane field of view (mm) when no shape is given
DEFAULT_FOV_MM = 2 * TORSO_HALF_LR_MM + 20.0
MANIFEST_VERSION = 1
#: truth voxels that belong to no listed object (id 0 in the manifest)
LOOSE_TRUTH = {
    "contrast": "dense intravenous contrast ({phase}) in the arm veins, SVC and right heart",
    "metal": "dense material already in the CT (>= 2500 HU before insertion), taken as metal",
    "calcification": "calcification already in the CT",
}
#: cement denser than this (HU) throws faint streaks of its own
DENSE_CEMENT_HU = 2400.0


@dataclass
class PhantomCase:
    """A synthetic CT and its truth.

    Attributes:
        volume: the CT (int16 HU, LPS, axial, identity direction).
        truth: uint8 (z, y, x): location code (vocabulary.LOCATIONS) of every cement voxel,
            MATERIAL_TRUTH_CODES of every confounder voxel (metal, dense contrast, calcification).
        anatomy: TotalSegmentator-style labels on the same grid (`PhantomAnatomy`).
        manifest: JSON-ready description: levels, fills, leaks, confounders, scenario, seed.
        instances: uint16 (z, y, x): the manifest ``id`` of the object owning each truth voxel.
    """

    volume: CTVolume
    truth: np.ndarray
    anatomy: PhantomAnatomy
    manifest: dict
    instances: np.ndarray


def make_grid(scenario: Scenario, spacing_mm=DEFAULT_SPACING_MM, shape=None, centre_lps_mm=None) -> Grid:
    """The CT grid: centred on the torso in-plane and on the scenario's z range (or on ``centre_lps_mm``)."""
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 3 or not all(0.2 <= s <= 6.0 for s in spacing):
        raise SettingsError(f"phantom spacing must be three values (z, y, x) in 0.2-6 mm, got {spacing_mm}")
    z_low, z_high = scenario.z_range_mm
    if shape is None:
        shape = (
            int(round((z_high - z_low) / spacing[0])) + 1,
            int(round(DEFAULT_FOV_MM / spacing[1])),
            int(round(DEFAULT_FOV_MM / spacing[2])),
        )
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or not all(4 <= n <= 2048 for n in shape):
        raise SettingsError(f"phantom shape must be three sizes (z, y, x) in 4-2048 voxels, got {shape}")
    centre = (
        np.array([0.0, 0.0, 0.5 * (z_low + z_high)])
        if centre_lps_mm is None
        else np.asarray(centre_lps_mm, float)
    )
    extent_xyz = (np.array(shape[::-1]) - 1) * np.array(spacing[::-1])
    return Grid(shape, spacing, tuple(centre - extent_xyz / 2))


def generate(
    scenario: str = "clean_fill",
    seed: int = 0,
    spacing_mm=DEFAULT_SPACING_MM,
    shape=None,
    *,
    phase: str | None = None,
    streaks: bool | None = None,
    noise: bool = True,
    extra_confounders: tuple[str, ...] = (),
    centre_lps_mm=None,
) -> PhantomCase:
    """A synthetic post-vertebroplasty CT of a named scenario (see `scenarios.SCENARIOS`).

    Args:
        scenario: scenario name, e.g. "ivc_linear_leak".
        seed: fixes everything random (cement density, emboli, plaques, bone texture, noise).
        spacing_mm: voxel size (z, y, x) in mm.
        shape: (z, y, x) voxels; by default a 320 mm square field of view over the scenario's levels.
        phase: contrast phase override ("non_contrast", "portal_venous", "ctpa"); contrast reflux
            is only kept on "ctpa".
        streaks: metal streaks on/off (default: the scenario's choice).
        noise: add CT noise (switch off to test geometry).
        extra_confounders: names from `scenarios.EXTRA_CONFOUNDERS` to add.
        centre_lps_mm: centre of the field of view (LPS mm; L1 body centre at z = 0), default the
            torso axis at the middle of the scenario's levels.
    """
    spec = get_scenario(scenario)
    grid = make_grid(spec, spacing_mm, shape, centre_lps_mm)
    phase = phase or spec.phase
    anatomy_rng, cement_rng, noise_rng, streak_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )

    tree = pulmonary_tree(anatomy_rng)
    part_volume, parts = paint_anatomy(grid, anatomy_parts(tree))
    anatomy = anatomy_from_parts(part_volume, parts)
    hu, dense_contrast = anatomy_hu(part_volume, parts, phase, grid, anatomy_rng)
    del part_volume

    inclusions = spec.inclusions(cement_rng, tree)
    if phase != "ctpa":  # refluxed contrast exists only on CT pulmonary angiography
        inclusions = [inclusion for inclusion in inclusions if inclusion.kind != "contrast"]
    for name in extra_confounders:
        if name not in EXTRA_CONFOUNDERS:
            raise SettingsError(f"unknown confounder {name!r}; choose from {', '.join(EXTRA_CONFOUNDERS)}")
        inclusions += EXTRA_CONFOUNDERS[name](cement_rng)
    maps = add_inclusions(hu, grid, inclusions, cement_rng)
    instances = maps.owner
    truth = truth_labels(instances, inclusions, dense_contrast)

    with_streaks = spec.streaks if streaks is None else streaks
    if with_streaks:
        metal = np.isin(instances, [i for i, inc in enumerate(inclusions, start=1) if inc.kind == "metal"])
        dense_cement = (hu >= DENSE_CEMENT_HU) & ~metal
    hu = blur(hu, grid)
    if with_streaks:
        hu += metal_streaks(metal, grid, streak_rng) + metal_streaks(
            dense_cement, grid, streak_rng, strength_hu=40.0
        )
    if noise:
        hu += correlated_noise(grid, noise_rng, noise_sd_hu(grid))
    volume = CTVolume(
        hu=to_stored_hu(hu),
        spacing_mm=grid.spacing_mm,
        origin_lps_mm=grid.origin_lps_mm,
        direction=np.eye(3),
        meta={
            "modality": "CT",
            "source": "cementseg.phantom",
            "scenario": scenario,
            "seed": seed,
            "phase": phase,
        },
    )
    bodies = anatomy.vertebral_body == 1
    present = [lv for lv in LEVELS if (bodies & anatomy[f"vertebrae_{lv}"]).any()]
    header = {"scenario": spec.name, "description": spec.reader_should_find, "seed_case": spec.seed_case,
              "seed": seed, "phase": phase,
              "orientation": "axial, direction identity: x -> patient left, y -> posterior, z -> superior (LPS)"}
    manifest = build_manifest(header, grid, inclusions, maps, truth, volume.hu, present,
                              {lv: VERTEBRAE[lv].centre[2] for lv in present})
    return PhantomCase(volume=volume, truth=truth, anatomy=anatomy, manifest=manifest, instances=instances)


def truth_labels(
    instances: np.ndarray, inclusions: list[Inclusion], dense_contrast: np.ndarray
) -> np.ndarray:
    codes = np.zeros(len(inclusions) + 1, np.uint8)
    codes[1:] = [inclusion.truth_code for inclusion in inclusions]
    truth = codes[instances]
    truth[(instances == 0) & dense_contrast] = MATERIAL_TRUTH_CODES["contrast"]
    return truth


def _centroid_lps(grid: Grid, mask_zyx: tuple[np.ndarray, ...]) -> list[float]:
    zyx = np.array([a.mean() for a in mask_zyx])
    xyz = np.asarray(grid.origin_lps_mm) + zyx[::-1] * np.asarray(grid.spacing_mm)[::-1]
    return [round(float(v), 2) for v in xyz]


def build_manifest(header: dict, grid: Grid, inclusions: list[Inclusion], maps: InclusionMaps, truth: np.ndarray,
                   hu: np.ndarray, levels_present: list[str], level_z_mm: dict[str, float]) -> dict:
    """Everything the truth holds, in words and numbers (mm, mL, HU, LPS); arrays on ``grid``."""
    instances = maps.owner
    voxel_ml = grid.voxel_volume_mm3 / 1000.0
    counts = np.bincount(instances.ravel(), minlength=len(inclusions) + 1)
    fills, leaks, others, outside = [], [], [], []
    objects = np.nonzero(instances)
    owner_of = instances[objects]
    order = np.argsort(owner_of, kind="stable")
    starts = np.searchsorted(owner_of[order], np.arange(len(inclusions) + 2))
    for index, inclusion in enumerate(inclusions, start=1):
        if counts[index] == 0:
            outside.append(inclusion.description)
            continue
        members = order[starts[index]:starts[index + 1]]
        where = tuple(axis[members] for axis in objects)
        entry = {
            "id": index,
            "volume_ml": round(float(counts[index] * voxel_ml), 5),
            "geometric_volume_ml": round(float(maps.geometric_mm3[index - 1] / 1000.0), 5),
            "n_voxels": int(counts[index]),
            "centroid_lps_mm": _centroid_lps(grid, where),
            "peak_hu": int(hu[where].max()),
            "length_mm": round(float(inclusion.length_mm), 1),
            "description": inclusion.description,
        }
        if inclusion.kind == "cement":
            entry.update(location=inclusion.location, location_code=inclusion.truth_code,
                         source_vertebra=inclusion.source_vertebra, route=inclusion.route)
            if inclusion.is_leak:
                entry["severity"] = DEFAULT_SEVERITY[inclusion.location]
                entry.update({k: v for k, v in inclusion.extra.items() if isinstance(v, str | bool | int | float)})
                leaks.append(entry)
            else:
                entry["level"] = inclusion.source_vertebra
                fills.append(entry)
        else:
            entry.update(material=inclusion.kind, truth_code=inclusion.truth_code)
            others.append(entry)
    loose = (truth > 0) & (instances == 0)
    for code in np.unique(truth[loose]):
        material = next(name for name, c in MATERIAL_TRUTH_CODES.items() if c == code)
        n = int((truth[loose] == code).sum())
        others.append({"id": 0, "material": material, "truth_code": int(code), "n_voxels": n,
                       "volume_ml": round(n * voxel_ml, 3), "description": LOOSE_TRUTH[material].format(**header)})
    return {
        "format": "cementseg-phantom", "version": MANIFEST_VERSION, **header,
        "spacing_mm": list(grid.spacing_mm), "shape": list(grid.shape),
        "origin_lps_mm": [round(v, 3) for v in grid.origin_lps_mm],
        "levels_present": levels_present,
        "level_z_mm": {lv: round(float(z), 2) for lv, z in level_z_mm.items()},
        "cemented_levels": sorted({f["level"] for f in fills}, key=LEVELS.index),
        "fills": fills, "leaks": leaks, "confounders": others,
        "outside_field_of_view": outside,
        "total_leak_volume_ml": round(sum(leak["volume_ml"] for leak in leaks), 5),
        "truth_codes": {**LOCATION_CODES, **MATERIAL_TRUTH_CODES},
        "volume_definition": "geometric_volume_ml = exact volume of the object inside the field of view (64 sub-voxel "
                             "samples per voxel); truth = the N voxels the object fills most, N = round(geometric volume "
                             "/ voxel volume), centre-line voxels first; volume_ml = truth voxels x voxel volume",
    }
