"""The data passed between the detector's stages: high-attenuation candidates.

A `Candidate` is one 26-connected component of the hysteresis mask, with its
statistics (units in the names) and, once `material.classify` has run, its material.
Voxels are kept per candidate (flat indices into the CT array), not as a full-size
label volume, so memory stays proportional to the dense voxels, not to the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    """One connected high-attenuation component.

    Attributes:
        id: 1-based, stable within one scan.
        flat_index: int64 flat indices of its voxels in the (z, y, x) CT array.
        voxel_count, volume_ml: size.
        hu_max, hu_mean, hu_p05, hu_p50, hu_p95: HU statistics of its voxels.
        centroid_lps_mm: centroid in LPS mm.
        bbox_lps_mm: ((min L, min P, min S), (max L, max P, max S)) in mm, voxel centres.
        bbox_zyx: (z0, y0, x0, z1, y1, x1), index bounds, end exclusive.
        length_mm: extent along the principal axis (mm).
        tubularity: 0 (blob) .. 1 (thin line), from the principal-axis spread.
        principal_axis_lps: unit vector of the principal axis in LPS.
        material: one of vocabulary.MATERIALS once classified.
        reason: one-line why for the material.
        evidence: free-form numbers the classifiers used (local contrast, ...).
        cement_fraction: for cement, float32 cement volume per voxel (``flat_index`` order) in
            voxel units after partial volume, from its local background and cement HU: the
            voxel's own share (0..1) plus the blurred tail just outside the candidate credited
            to its nearest voxel. Sum it times the voxel volume for a volume that thin leaks
            on coarse voxels do not inflate. None for other materials and before
            `material.classify_materials`.
    """

    id: int
    flat_index: np.ndarray
    voxel_count: int
    volume_ml: float
    hu_max: float
    hu_mean: float
    hu_p05: float
    hu_p50: float
    hu_p95: float
    centroid_lps_mm: tuple[float, float, float]
    bbox_lps_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    bbox_zyx: tuple[int, int, int, int, int, int]
    length_mm: float
    tubularity: float
    principal_axis_lps: tuple[float, float, float]
    material: str = "indeterminate"
    reason: str = ""
    evidence: dict = field(default_factory=dict)
    cement_fraction: np.ndarray | None = None

    def zyx(self, shape: tuple[int, int, int]) -> np.ndarray:
        """(n, 3) voxel indices (z, y, x) in an array of ``shape``."""
        return np.column_stack(np.unravel_index(self.flat_index, shape))
