"""Partial-volume cement volume of each cement candidate, voxel by voxel."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from ..anatomy.anatomy_map import STRUCTURES, AnatomyMap
from ..candidates import Candidate
from ..segment import set_voxels
from ..settings import Settings
from ..volume import CTVolume

#: structures whose own density (cortex 400-900 HU) outweighs a cement tail in the ring
_BONE_CODES = [STRUCTURES[name] for name in ("vertebral_body", "posterior_elements", "other_bone")]


def set_cement_fractions(
    candidates: list[Candidate], volume: CTVolume, settings: Settings, anatomy: AnatomyMap | None = None
) -> None:
    """Per-voxel cement volume in voxel units, ``(HU - background) / (cement HU - background)``.

    Each voxel's own share is clipped to 0..1; the blurred tail in the one-voxel ring just
    outside the candidate (below the grow level, in no other candidate, not in bone on the
    ``anatomy`` map: a cortex voxel beside a cast is bone, not its tail), clipped the same way,
    is credited to the nearest candidate voxel. Background: the enhanced blood pool around
    the candidate if any (a cast in refluxed contrast), else its local background floored at
    `soft_tissue_hu` -- cement never sits in air: an embolus lies in blood inside an artery, so
    the lung beyond the artery must not count as background for the tail. The candidate's own
    voxels mix with what lies right next to them: the free ring's median HU when darker (lung
    beside a small artery on coarse voxels) -- except in an enhanced pool, where the candidate
    has grown into the lumen's contrast (above `grow_hu`) and that is what its edge voxels mix
    with (on CTPA, contrast credited as cement mixed with lung made emboli 45-63 % too large). Cement HU: the
    candidate's own plateau (median HU of its voxels one voxel deep inside it) when it is at least `cement_plateau_min_voxels` voxels
    across, else the plateau of a fill it touches, else the median plateau of the scan's
    thick cement (one procedure, one cement), else `cement_reference_hu`. Voxels beside a
    contrast candidate the cement touches and no denser than it are handed to that contrast; a
    candidate made of nothing else becomes contrast (the contrast column's blurred edge).
    """
    cement = [c for c in candidates if c.material == "cement"]
    if not cement:
        return
    thick = {c.id: c.evidence["core_hu"] for c in cement if _has_plateau(c, volume, settings)}
    scan_plateau = float(np.median(list(thick.values()))) if thick else None
    taken = np.sort(np.concatenate([c.flat_index for c in candidates]))
    by_id = {c.id: c for c in candidates}
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
        background = pool if enhanced else max(candidate.evidence["local_background_hu"], settings.soft_tissue_hu)
        contrast = [by_id[i] for i in candidate.evidence.get("touches", []) if by_id[i].material == "contrast"]
        share, contrast_only = _cement_share(candidate, volume, background, cement_hu, taken, contrast, anatomy, enhanced)
        if contrast and contrast_only.all():
            _edge_of_contrast(candidate, max(contrast, key=lambda c: c.voxel_count))
            continue
        if contrast_only.any():
            _hand_over(candidate, contrast_only, max(contrast, key=lambda c: c.voxel_count), volume)
            share, _ = _cement_share(candidate, volume, background, cement_hu, taken, contrast, anatomy, enhanced)
        candidate.cement_fraction = share
        candidate.evidence["cement_hu"] = float(cement_hu)
        candidate.evidence["cement_hu_source"] = source
        candidate.evidence["volume_pv_ml"] = float(
            candidate.cement_fraction.sum() * volume.voxel_volume_mm3 / 1000.0
        )


def _edge_of_contrast(candidate: Candidate, contrast: Candidate) -> None:
    """Call contrast a candidate whose every voxel lies beside a contrast candidate it touches and
    is no denser than that contrast: it holds no cement, it is the contrast's blurred edge."""
    candidate.material = "contrast"
    candidate.reason = (
        f"beside the contrast it touches (candidate {contrast.id}) and no denser than it "
        f"(HU p95 {candidate.hu_p95:.0f} <= {contrast.hu_p95:.0f}): that contrast's blurred edge"
    )
    candidate.evidence["confidence"] = 0.7


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


def _cement_share(
    candidate,
    volume,
    background: float,
    cement_hu: float,
    taken: np.ndarray,
    contrast: list[Candidate],
    anatomy: AnatomyMap | None,
    enhanced: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """float32 cement volume per candidate voxel (voxel units), blurred tail included, and
    which of its voxels hold nothing but contrast.

    Voxels next to a contrast candidate it touches (26-neighbours) mix cement with that
    contrast, not with plain blood: their background is the contrast's median HU; those no
    denser than its HU p95 are contrast the cast's candidate took in.
    """
    lo = np.maximum(np.asarray(candidate.bbox_zyx[:3]) - 1, 0)
    hi = np.minimum(np.asarray(candidate.bbox_zyx[3:]) + 1, volume.shape)
    inside = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
    own_zyx = candidate.zyx(volume.shape)
    inside[tuple((own_zyx - lo).T)] = True
    ring_zyx = np.argwhere(ndi.binary_dilation(inside, np.ones((3, 3, 3), bool)) & ~inside)
    ring_flat = np.ravel_multi_index(tuple((ring_zyx + lo).T), volume.shape)
    free = ~_contains(taken, ring_flat)
    if anatomy is not None:
        free &= ~np.isin(anatomy.structure_at(volume.index_to_lps(ring_zyx + lo)), _BONE_CODES)
    ring_zyx, ring_flat = ring_zyx[free], ring_flat[free]
    hu = volume.hu.reshape(-1)
    # an edge voxel mixes cement with what lies right next to it (lung beside a small artery
    # on coarse voxels); the ring's median HU says what that is when darker than the background,
    # except in enhanced blood, where the candidate grew into the lumen's contrast: that is its edge
    edge_background = background
    if len(ring_flat) and not enhanced:
        edge_background = min(float(np.median(hu[ring_flat])), background)
    beside = _beside_contrast(contrast, lo, hi, volume.shape)
    contrast_hu = max((c.hu_p50 for c in contrast), default=background)
    own_background = np.where(beside[tuple((own_zyx - lo).T)], max(contrast_hu, edge_background), edge_background)
    share = _share(hu[candidate.flat_index], own_background, cement_hu)
    contrast_top_hu = max((c.hu_p95 for c in contrast), default=np.inf)  # the contrast's own spread
    contrast_only = (own_background > edge_background) & (hu[candidate.flat_index] <= contrast_top_hu)
    if len(ring_flat):
        spacing = np.asarray(volume.spacing_mm)
        _, nearest = cKDTree(own_zyx * spacing).query((ring_zyx + lo) * spacing)  # nearest candidate voxel
        ring_background = np.where(beside[tuple(ring_zyx.T)], max(contrast_hu, background), background)
        np.add.at(share, nearest, _share(hu[ring_flat], ring_background, cement_hu))
    return share.astype(np.float32), contrast_only


def _hand_over(candidate: Candidate, voxels: np.ndarray, contrast: Candidate, volume: CTVolume) -> None:
    """Move the candidate's ``voxels`` (bool, ``flat_index`` order) holding no cement beside a
    contrast candidate into that contrast candidate; both keep their ids, materials and evidence."""
    set_voxels(contrast, np.concatenate([contrast.flat_index, candidate.flat_index[voxels]]), volume)
    set_voxels(candidate, candidate.flat_index[~voxels], volume)


def _share(hu: np.ndarray, background, cement_hu: float) -> np.ndarray:
    """Cement share of voxels of ``hu`` mixed with ``background`` (HU), clipped to 0..1."""
    scale = np.maximum(cement_hu - np.asarray(background, np.float32), 1.0)
    return np.clip((hu.astype(np.float32) - background) / scale, 0.0, 1.0)


def _beside_contrast(contrast: list[Candidate], lo, hi, shape) -> np.ndarray:
    """Box mask (``lo``..``hi``) of voxels within one voxel (26-neighbours) of the contrast candidates."""
    padded = np.zeros(tuple(int(v) + 2 for v in hi - lo), dtype=bool)  # one voxel beyond the box
    for c in contrast:
        zyx = c.zyx(shape) - lo + 1
        zyx = zyx[np.all((zyx >= 0) & (zyx < np.asarray(padded.shape)), axis=1)]
        padded[tuple(zyx.T)] = True
    if contrast:
        padded = ndi.binary_dilation(padded, np.ones((3, 3, 3), bool))
    return padded[1:-1, 1:-1, 1:-1]


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values
