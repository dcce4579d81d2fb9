"""Partial-volume cement volume of each cement candidate, voxel by voxel."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from ..candidates import Candidate
from ..settings import Settings
from ..volume import CTVolume


def set_cement_fractions(candidates: list[Candidate], volume: CTVolume, settings: Settings) -> None:
    """Per-voxel cement volume in voxel units, ``(HU - background) / (cement HU - background)``.

    Each voxel's own share is clipped to 0..1; the blurred tail in the one-voxel ring just
    outside the candidate (below the grow level, in no other candidate), clipped the same way,
    is credited to the nearest candidate voxel. Background: the enhanced blood pool around
    the candidate if any (a cast in refluxed contrast), else its local background. Cement HU: the
    candidate's own plateau (median HU of its voxels one voxel deep inside it) when it is at least `cement_plateau_min_voxels` voxels
    across, else the plateau of a fill it touches, else the median plateau of the scan's
    thick cement (one procedure, one cement), else `cement_reference_hu`.
    """
    cement = [c for c in candidates if c.material == "cement"]
    if not cement:
        return
    thick = {c.id: c.evidence["core_hu"] for c in cement if _has_plateau(c, volume, settings)}
    scan_plateau = float(np.median(list(thick.values()))) if thick else None
    taken = np.sort(np.concatenate([c.flat_index for c in candidates]))
    for candidate in cement:
        touching = [thick[i] for i in candidate.evidence.get("touches", []) if i in thick]
        if candidate.id in thick:
            cement_hu, source = thick[candidate.id], "own plateau"
        elif touching:
            cement_hu, source = max(touching), "touching fill"
        elif scan_plateau is not None:
            cement_hu, source = scan_plateau, "plateau of the scan's cement fills"
        else:
            cement_hu, source = settings.cement_reference_hu, "reference"
        pool = candidate.evidence.get("blood_pool_hu")
        enhanced = pool is not None and pool >= settings.enhanced_blood_min_hu
        background = pool if enhanced else candidate.evidence["local_background_hu"]
        candidate.cement_fraction = _cement_share(candidate, volume, background, cement_hu, taken)
        candidate.evidence["cement_hu"] = float(cement_hu)
        candidate.evidence["cement_hu_source"] = source
        candidate.evidence["volume_pv_ml"] = float(
            candidate.cement_fraction.sum() * volume.voxel_volume_mm3 / 1000.0
        )


def _has_plateau(candidate: Candidate, volume: CTVolume, settings: Settings) -> bool:
    """Thick enough for its core to show the cement's own HU despite blur and partial volume.

    At least `cement_plateau_min_voxels` voxels across, a core >= `cement_min_hu`, and a flat
    top: the core within 15% of the peak (HU p95) above the local background -- a blurred
    thin cast in a sleeve of contrast has a core well below its peak.
    """
    across_voxels = candidate.evidence["diameter_mm"] / max(volume.spacing_mm)
    core = candidate.evidence.get("core_hu")
    if across_voxels < settings.cement_plateau_min_voxels or core is None or core < settings.cement_min_hu:
        return False
    background = candidate.evidence["local_background_hu"]
    return core - background >= 0.85 * (candidate.hu_p95 - background)


def _cement_share(candidate, volume, background: float, cement_hu: float, taken: np.ndarray) -> np.ndarray:
    """float32 cement volume per candidate voxel (voxel units), blurred tail included."""
    scale = max(cement_hu - background, 1.0)
    lo = np.maximum(np.asarray(candidate.bbox_zyx[:3]) - 1, 0)
    hi = np.minimum(np.asarray(candidate.bbox_zyx[3:]) + 1, volume.shape)
    inside = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
    inside[tuple((candidate.zyx(volume.shape) - lo).T)] = True
    ring_zyx = np.argwhere(ndi.binary_dilation(inside, np.ones((3, 3, 3), bool)) & ~inside)
    ring_flat = np.ravel_multi_index(tuple((ring_zyx + lo).T), volume.shape)
    free = ~_contains(taken, ring_flat)
    ring_zyx, ring_flat = ring_zyx[free], ring_flat[free]
    hu = volume.hu.reshape(-1)
    share = np.clip((hu[candidate.flat_index].astype(np.float32) - background) / scale, 0.0, 1.0)
    if len(ring_flat):
        spacing = np.asarray(volume.spacing_mm)
        own_zyx = candidate.zyx(volume.shape)
        _, nearest = cKDTree(own_zyx * spacing).query((ring_zyx + lo) * spacing)  # nearest candidate voxel
        tail = np.clip((hu[ring_flat].astype(np.float32) - background) / scale, 0.0, 1.0)
        np.add.at(share, nearest, tail)
    return np.maximum(share, 0.0).astype(np.float32)


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values
