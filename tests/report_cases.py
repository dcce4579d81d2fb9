"""Test support for the report tests: a small phantom and `Findings` built from its voxel-exact truth.

Building findings from truth keeps the report tests independent of the detector's accuracy;
tests/test_report_cli.py runs the real scan end to end.
"""

from __future__ import annotations

from functools import lru_cache

import cc3d
import numpy as np

from cementseg.findings import Component, Findings
from cementseg.phantom import generate
from cementseg.settings import Settings
from cementseg.vocabulary import DEFAULT_SEVERITY, LOCATIONS

SCENARIO = "ivc_linear_leak"
SPACING_MM = (3.0, 2.0, 2.0)


@lru_cache(maxsize=1)
def phantom():
    """The small IVC-leak phantom (cached per test process)."""
    return generate(SCENARIO, 0, spacing_mm=SPACING_MM)


def truth_findings(volume, truth: np.ndarray) -> Findings:
    """One cement `Component` per connected truth region of each location code."""
    components = []
    voxel_ml = volume.voxel_volume_mm3 / 1000.0
    for code, location in LOCATIONS.items():
        regions = cc3d.connected_components(truth == code, connectivity=26)
        for region in range(1, int(regions.max()) + 1):
            flat = np.flatnonzero(regions == region)
            zyx = np.stack(np.unravel_index(flat, truth.shape), axis=1)
            lps = volume.index_to_lps(zyx)
            hu = volume.hu.reshape(-1)[flat]
            components.append(Component(
                id=len(components) + 1, material="cement", location=location,
                is_leak=location != "vertebral_body", severity=DEFAULT_SEVERITY[location],
                volume_ml=len(flat) * voxel_ml, voxel_count=len(flat),
                centroid_lps_mm=tuple(lps.mean(axis=0)), bbox_lps_mm=(tuple(lps.min(0)), tuple(lps.max(0))),
                hu_max=float(hu.max()), hu_mean=float(hu.mean()),
                length_mm=float(np.linalg.norm(lps.max(0) - lps.min(0))), vertebral_level=None,
                source_vertebra=None, distance_to_vertebral_body_mm=0.0, confidence=1.0,
                reason=f"truth {location}", candidate_id=0, flat_index=flat))
    return Findings(
        components=components,
        input={"series_uid": volume.meta.get("series_uid"), "shape_zyx": list(volume.shape),
               "spacing_mm_zyx": list(volume.spacing_mm), "origin_lps_mm": list(volume.origin_lps_mm),
               "direction": volume.direction.tolist(), "loader_warnings": list(volume.warnings)},
        settings=Settings(),
    )
