"""Hardware found before the anatomy: screws, rods, wires and leads by HU and shape alone."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

from ..candidates import Candidate
from ..settings import Settings
from ..volume import CTVolume
from .features import ScanScale, measure
from .rules import hardware_geometry


def hardware_voxels(candidates: list[Candidate], volume: CTVolume, settings: Settings) -> np.ndarray:
    """Sorted flat indices of the candidates with a metal core (at the 12-bit ceiling, or beyond
    any PMMA on an extended scale) shaped like a screw, rod, wire or lead, or branched like a
    construct of them (filling at most `hardware_max_solidity` of its convex hull).

    No anatomy is needed, so the built-in anatomy can use them: metal streaks make the CT
    around hardware unreadable as bone or disc. A compact ceiling-HU mass is left out (cement
    can saturate too); `classify_materials` later judges every candidate with the anatomy.
    """
    metal_cores = [c for c in candidates if c.evidence.get("core") == "metal"]
    if not metal_cores:
        return np.zeros(0, dtype=np.int64)
    scale = ScanScale(volume, settings)
    picked = [
        c.flat_index
        for c in metal_cores
        if _solidity(c, volume) <= settings.hardware_max_solidity
        or hardware_geometry(c, measure(c, volume, None, settings), scale, settings) is not None
    ]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def _solidity(candidate: Candidate, volume: CTVolume) -> float:
    """Voxel volume over the volume (mm3) of the convex hull of the voxel centres (1 if flat)."""
    lps = volume.index_to_lps(candidate.zyx(volume.shape))
    try:
        hull_mm3 = ConvexHull(lps).volume
    except Exception:  # fewer than 4 points or all in one plane: qhull has no 3-D hull
        return 1.0
    return float(candidate.voxel_count * volume.voxel_volume_mm3 / hull_mm3)
