"""The numbers the material rules read: shape, saturation, surroundings, anatomy overlap."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from ..anatomy.anatomy_map import STRUCTURE_NAMES, STRUCTURES, AnatomyMap
from ..candidates import Candidate
from ..segment import box_mask, dilate_box, partial_volume_factor
from ..settings import Settings
from ..volume import CTVolume

_MAX_SAMPLES = 20000  # voxels sampled per candidate for anatomy look-ups and straightness
#: vessels and chambers whose blood, enhanced, looks like a dense candidate
BLOOD_POOLS = ("inferior_vena_cava", "azygos_system", "heart", "right_heart", "pulmonary_artery", "aorta")


class ScanScale:
    """Scan-wide facts: extended HU scale, partial-volume factor, coarsest voxel edge, blood HU.

    ``blood_hu`` / ``blood_peak_hu``: median / 90th percentile HU of each blood-pool structure
    of the anatomy map over the whole scan (enhanced on CTPA or with contrast reflux; the
    percentile gives the contrast level that small vessels lose to partial volume), None where
    the map holds less of it than `blood_pool_min_ml`: a few peripheral branches (the lung
    bases atop an abdominal CT) have no level of their own, their percentile is that of
    whatever dense speck lies in them.
    """

    def __init__(self, volume: CTVolume, settings: Settings, anatomy: AnatomyMap | None = None):
        scan_max = float(volume.hu.max()) if volume.hu.size else 0.0
        self.extended = scan_max > settings.hu_ceiling_12bit + 1
        levels = _blood_pool_hu_levels(volume, anatomy, settings.blood_pool_min_ml)
        self.blood_hu = {name: level and level[0] for name, level in levels.items()}
        self.blood_peak_hu = {name: level and level[1] for name, level in levels.items()}
        self.pv = partial_volume_factor(
            volume.spacing_mm, settings.thin_leak_diameter_mm, settings.scanner_blur_sigma_mm
        )
        self.voxel_mm = float(max(volume.spacing_mm))


def _blood_pool_hu_levels(volume: CTVolume, anatomy: AnatomyMap | None, min_ml: float) -> dict:
    """(median, 90th percentile) HU of each of BLOOD_POOLS, None where the map holds less than
    ``min_ml`` of it; one pass over the map."""
    if anatomy is None:
        return dict.fromkeys(BLOOD_POOLS)
    codes = np.array([STRUCTURES[name] for name in BLOOD_POOLS])
    wanted = np.zeros(max(256, int(codes.max()) + 1), dtype=bool)
    wanted[codes] = True
    flat = np.flatnonzero(wanted[anatomy.structures])
    values = anatomy.structures.reshape(-1)[flat]
    order = np.argsort(values, kind="stable")  # by structure, each in raster order (as np.argwhere)
    flat, values = flat[order], values[order]
    starts, stops = np.searchsorted(values, codes), np.searchsorted(values, codes, side="right")
    min_cells = max(5, math.ceil(min_ml * 1000.0 / float(np.prod(anatomy.spacing_mm))))
    stops[stops - starts < min_cells] = starts[stops - starts < min_cells]
    return {
        name: _structure_hu(volume, anatomy, np.column_stack(np.unravel_index(flat[a:b], anatomy.structures.shape)))
        for name, a, b in zip(BLOOD_POOLS, starts, stops, strict=True)
    }


def _structure_hu(volume: CTVolume, anatomy: AnatomyMap, cells: np.ndarray) -> tuple[float, float] | None:
    """(median, 90th percentile) CT HU at the working-grid ``cells`` (z, y, x) of one structure."""
    if len(cells) < 5:
        return None
    zyx = np.rint(volume.lps_to_index(anatomy.voxel_centres_lps(_sample(cells)))).astype(int)
    zyx = zyx[np.all((zyx >= 0) & (zyx < np.array(volume.shape)), axis=1)]
    if len(zyx) < 5:
        return None
    median, peak = np.percentile(volume.hu[tuple(zyx.T)], [50, 90])
    return float(median), float(peak)


def measure(candidate: Candidate, volume: CTVolume, anatomy: AnatomyMap | None, settings: Settings) -> dict:
    """Features of one candidate (plain numbers, lists and dicts; units in the names).

    ``saturated_fraction``: share of voxels at or above the 12-bit ceiling; ``diameter_mm``:
    of the cylinder as long as the candidate with its volume; ``axis_deviation_mm``: 95th
    percentile distance from the principal axis (small = straight); ``voxel_across_mm``: the
    coarsest voxel edge across it (`voxel_across_mm`); ``core_hu``: median HU of
    its voxels one voxel deep inside it (None when it is too thin to have any);
    ``cement_dense_fraction``: share of voxels >= ``cement_min_hu``; ``local_background_hu``
    and ``dark_streak_fraction``: of a shell ``background_inner_mm``-``background_outer_mm``
    around it; with anatomy, ``structure_fractions`` (share of its voxels per structure),
    ``structures_nearby`` (within ``anatomy_touch_mm``), ``vertebral_body_fraction`` and
    ``blood_pool_hu`` (median HU of the vessel holding it, outside it; None if none).
    """
    values = volume.hu.reshape(-1)[candidate.flat_index]
    features: dict = {
        "saturated_fraction": float(np.mean(values >= settings.hu_ceiling_12bit - 1)),
        "diameter_mm": equivalent_diameter_mm(candidate),
        "axis_deviation_mm": _axis_deviation_mm(candidate, volume),
    }
    features["voxel_across_mm"] = voxel_across_mm(candidate, volume)
    features["core_hu"] = core_hu(candidate, volume)
    features["cement_dense_fraction"] = float(np.mean(values >= settings.cement_min_hu))
    features.update(_surroundings(candidate, volume, settings))
    features["local_contrast_hu"] = candidate.hu_p95 - features["local_background_hu"]
    if anatomy is not None:
        features.update(_anatomy_overlap(candidate, volume, anatomy, settings))
    return features


def core_hu(candidate: Candidate, volume: CTVolume) -> float | None:
    """Median HU of the voxels whose 26 neighbours all belong to the candidate (None if none).

    Beyond the field of view nothing is known: a candidate the edge of the view cuts continues
    there, so its voxels on that edge keep their place in the core.
    """
    lo, hi = np.asarray(candidate.bbox_zyx[:3]), np.asarray(candidate.bbox_zyx[3:])
    inside = box_mask(candidate, lo - 1, hi + 1, volume.shape)
    for axis in range(3):
        for edge, cut in ((0, lo[axis] == 0), (-1, hi[axis] == volume.shape[axis])):
            if cut:
                index = [slice(None)] * 3
                index[axis] = edge
                inside[tuple(index)] = True
    core = ndi.binary_erosion(inside, np.ones((3, 3, 3), bool))[1:-1, 1:-1, 1:-1]
    if not core.any():
        return None
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    return float(np.median(volume.hu[box][core]))


def voxel_across_mm(candidate: Candidate, volume: CTVolume) -> float:
    """The coarsest voxel edge (mm) across the candidate: along the CT axes not within 45 degrees
    of its principal axis. A column running up 5 mm slices is 0.8 mm voxels across; a sheet or
    blob lying in them is 5 mm ones. On isotropic voxels: the voxel edge."""
    edges = volume.affine[:3, :3]  # columns: the x, y, z voxel edges in LPS mm
    lengths = np.linalg.norm(edges, axis=0)
    along = np.abs(np.asarray(candidate.principal_axis_lps) @ (edges / lengths))
    return float(lengths[along < math.sqrt(0.5)].max())


def equivalent_diameter_mm(candidate: Candidate) -> float:
    """Diameter (mm) of a cylinder as long as the candidate with the same volume."""
    volume_mm3 = candidate.volume_ml * 1000.0
    return float(2.0 * math.sqrt(volume_mm3 / (math.pi * max(candidate.length_mm, 1e-6))))


def _axis_deviation_mm(candidate: Candidate, volume: CTVolume) -> float:
    lps = volume.index_to_lps(_sample(candidate.zyx(volume.shape)))
    centred = lps - np.asarray(candidate.centroid_lps_mm)
    axis = np.asarray(candidate.principal_axis_lps)
    perpendicular = centred - np.outer(centred @ axis, axis)
    return float(np.percentile(np.linalg.norm(perpendicular, axis=1), 95))


def _sample(points: np.ndarray) -> np.ndarray:
    if len(points) <= _MAX_SAMPLES:
        return points
    return points[np.linspace(0, len(points) - 1, _MAX_SAMPLES).astype(int)]


def _surroundings(candidate: Candidate, volume: CTVolume, settings: Settings) -> dict:
    """Median HU of a shell around the candidate, and its share of dark streak voxels."""
    spacing = np.asarray(volume.spacing_mm)
    inner = np.maximum(np.ceil(settings.background_inner_mm / spacing), 1).astype(int)
    outer = np.maximum(np.ceil(settings.background_outer_mm / spacing), inner + 1).astype(int)
    lo = np.maximum(np.asarray(candidate.bbox_zyx[:3]) - outer, 0)
    hi = np.minimum(np.asarray(candidate.bbox_zyx[3:]) + outer, volume.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    inside = np.zeros(tuple(int(v) for v in hi - lo), dtype=np.uint8)
    inside[tuple((candidate.zyx(volume.shape) - lo).T)] = 1
    shell = (dilate_box(inside, outer) > 0) & (dilate_box(inside, inner) == 0)
    hu = volume.hu[box][shell]
    if hu.size == 0:
        return {"local_background_hu": settings.soft_tissue_hu, "dark_streak_fraction": 0.0}
    background = float(np.median(hu))
    # dark streaks only mean something in tissue, not next to air or lung
    dark = float(np.mean(hu < settings.streak_dark_hu)) if background > settings.streak_dark_hu else 0.0
    return {"local_background_hu": background, "dark_streak_fraction": dark}


def _anatomy_overlap(candidate: Candidate, volume: CTVolume, anatomy: AnatomyMap, settings: Settings) -> dict:
    lps = volume.index_to_lps(_sample(candidate.zyx(volume.shape)))
    codes = anatomy.structure_at(lps)
    fractions = {
        STRUCTURE_NAMES[c]: float(np.mean(codes == c)) for c in np.unique(codes) if c in STRUCTURE_NAMES
    }
    offsets = settings.anatomy_touch_mm * np.vstack([np.eye(3), -np.eye(3)])
    step = max(1, len(lps) // 2000)
    around = lps[::step]
    near_codes = anatomy.structure_at((around[:, None, :] + offsets[None]).reshape(-1, 3))
    aorta = STRUCTURES["aorta"]
    by_aorta = (codes[::step] == aorta) | np.any(near_codes.reshape(-1, 6) == aorta, axis=1)
    return {
        "structure_fractions": fractions,
        "structures_nearby": sorted(
            {STRUCTURE_NAMES[c] for c in np.unique(near_codes) if c in STRUCTURE_NAMES}
        ),
        "vertebral_body_fraction": float(np.mean(anatomy.vertebra_at(lps) > 0)),
        "aortic_wall_share": float(np.mean(by_aorta)),
        "blood_pool_hu": _blood_pool_hu(candidate, volume, anatomy, fractions, settings),
    }


def _blood_pool_hu(candidate, volume, anatomy, fractions, settings) -> float | None:
    """Median HU of the vessel/chamber holding the candidate, near it but outside it (None if none)."""
    share, name = max((fractions.get(name, 0.0), name) for name in BLOOD_POOLS)
    if share < 0.3:
        return None
    pad = np.ceil(2 * settings.background_outer_mm / np.asarray(volume.spacing_mm)).astype(int)
    lo = np.maximum(np.asarray(candidate.bbox_zyx[:3]) - pad, 0)
    hi = np.minimum(np.asarray(candidate.bbox_zyx[3:]) + pad, volume.shape)
    axes = [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]
    zyx = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    flat = np.ravel_multi_index(tuple(zyx.T), volume.shape)
    outside = ~np.isin(flat, candidate.flat_index)
    zyx, flat = _sample(zyx[outside]), _sample(flat[outside])
    in_pool = anatomy.structure_at(volume.index_to_lps(zyx)) == STRUCTURES[name]
    if in_pool.sum() < 5:
        return None
    return float(np.median(volume.hu.reshape(-1)[flat[in_pool]]))
