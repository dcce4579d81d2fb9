"""A small hand-made spine scene with exact geometry, for the locate / findings / CLI tests.

CT grid: 1 mm voxels, identity direction, origin 0, so voxel (z, y, x) sits at LPS (x, y, z) mm:
larger x is patient left, larger y posterior, larger z cranial. Anatomy on a 2 mm working grid.
Two vertebral bodies (ids 1 = L2 below, 2 = L1 above) with a disc between them, the spinal canal
behind, the IVC right-anterior, a lung high up.
"""

from __future__ import annotations

import numpy as np

from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap
from cementseg.candidates import Candidate
from cementseg.locate import component_stats
from cementseg.volume import CTVolume

SHAPE = (100, 100, 100)  # z, y, x at 1 mm
BODY_L2 = (slice(10, 38), slice(40, 70), slice(34, 64))  # z, y, x in mm == CT indices
DISC = (slice(38, 44), slice(40, 70), slice(34, 64))
BODY_L1 = (slice(44, 72), slice(40, 70), slice(34, 64))
CANAL = (slice(0, 100), slice(70, 86), slice(42, 58))
IVC = (slice(0, 90), slice(12, 34), slice(8, 30))
LUNG = (slice(84, 100), slice(10, 90), slice(60, 94))
CEMENT_HU = 2500


def _to_work(region):
    return tuple(slice(s.start // 2, s.stop // 2) for s in region)


def anatomy_map(levels=True) -> AnatomyMap:
    """The scene's anatomy on a 2 mm working grid (voxel centres at 0.5, 2.5, ... mm)."""
    structures = np.full((50, 50, 50), STRUCTURES["soft_tissue"], dtype=np.uint8)
    vertebrae = np.zeros((50, 50, 50), dtype=np.uint8)
    structures[_to_work(CANAL)] = STRUCTURES["spinal_canal"]
    structures[_to_work(IVC)] = STRUCTURES["inferior_vena_cava"]
    structures[_to_work(LUNG)] = STRUCTURES["lung"]
    structures[_to_work(DISC)] = STRUCTURES["intervertebral_disc"]
    for body_id, region in ((1, BODY_L2), (2, BODY_L1)):
        structures[_to_work(region)] = STRUCTURES["vertebral_body"]
        vertebrae[_to_work(region)] = body_id
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = 0.5
    return AnatomyMap(
        structures=structures,
        vertebrae=vertebrae,
        affine=affine,
        vertebra_levels={1: "L2", 2: "L1"} if levels else {1: None, 2: None},
        level_note="" if levels else "no sacrum or rib in view",
        source={"vertebral_body": "test"},
    )


def ball(centre_zyx, radius_mm) -> np.ndarray:
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    cz, cy, cx = centre_zyx
    return (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius_mm**2


def box(region) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[region] = True
    return mask


def volume_with(*masks: np.ndarray, hu: int = CEMENT_HU) -> CTVolume:
    """A CT of soft tissue (40 HU) with each mask set to ``hu``."""
    array = np.full(SHAPE, 40, dtype=np.int16)
    for mask in masks:
        array[mask] = hu
    return CTVolume(
        hu=array, spacing_mm=(1.0, 1.0, 1.0), origin_lps_mm=(0.0, 0.0, 0.0), meta={"series_uid": "1.2.3"}
    )


def candidate(volume: CTVolume, mask: np.ndarray, candidate_id: int, material: str = "cement") -> Candidate:
    """A stage-1-like candidate for a mask (statistics from the volume)."""
    flat = np.flatnonzero(mask.reshape(-1))
    stats = component_stats(volume, flat)
    zyx = np.column_stack(np.unravel_index(flat, volume.shape))
    hu = volume.hu.reshape(-1)[flat]
    return Candidate(
        id=candidate_id,
        flat_index=flat,
        voxel_count=stats["voxel_count"],
        volume_ml=stats["volume_ml"],
        hu_max=stats["hu_max"],
        hu_mean=stats["hu_mean"],
        hu_p05=float(np.percentile(hu, 5)),
        hu_p50=float(np.percentile(hu, 50)),
        hu_p95=float(np.percentile(hu, 95)),
        centroid_lps_mm=stats["centroid_lps_mm"],
        bbox_lps_mm=stats["bbox_lps_mm"],
        bbox_zyx=(*zyx.min(0), *(zyx.max(0) + 1)),
        length_mm=stats["length_mm"],
        tubularity=stats["tubularity"],
        principal_axis_lps=tuple(stats["principal_axis_lps"]),
        material=material,
        reason=f"test {material}",
    )
