"""Hardware found before the anatomy (`material.hardware.hardware_voxels`): by HU and shape alone."""

from __future__ import annotations

import numpy as np
from segment_scene import ORIGIN, ellipsoid, render, tube

from cementseg.material.hardware import hardware_voxels
from cementseg.segment import find_candidates
from cementseg.settings import Settings

SETTINGS = Settings()
CEILING_HU = 7000.0  # titanium before the point spread; stored values saturate at 3071


def _scene():
    """A saturated cement fill (an ellipsoid) and, apart from it, a construct of three screws
    joined by a rod, both at the 12-bit ceiling, on 1 mm voxels."""
    o = np.asarray(ORIGIN)
    fill = ellipsoid(o + (20, 40, 40), (12, 10, 8))
    rod_top, rod_bottom = o + (62, 60, 12), o + (62, 60, 68)
    screws = [tube(o + (62, 60, z), o + (50, 25, z), 3.0) for z in (15, 40, 65)]
    shapes = [(fill, 3071.0), (tube(rod_top, rod_bottom, 2.8), CEILING_HU)] + [(s, CEILING_HU) for s in screws]
    volume = render((80, 80, 80), (1.0, 1.0, 1.0), shapes, blur_mm=0.5)
    volume.hu[:] = np.minimum(volume.hu, 3071)
    return volume, fill


def test_a_screw_rod_construct_is_hardware_and_a_saturated_fill_is_not():
    volume, _ = _scene()
    candidates = find_candidates(volume, SETTINGS)
    found = hardware_voxels(candidates, volume, SETTINGS)
    lps = volume.index_to_lps(np.column_stack(np.unravel_index(found, volume.shape)))
    o = np.asarray(ORIGIN)
    assert len(found) > 0
    assert np.all(lps[:, 0] - o[0] > 40), "only the construct (x >= 45 mm), never the fill (x <= 32 mm)"
    construct = np.flatnonzero((volume.hu.reshape(-1) >= 3000) & (volume.index_to_lps(
        np.column_stack(np.unravel_index(np.arange(volume.hu.size), volume.shape)))[:, 0] - o[0] > 40))
    assert np.isin(construct, found).mean() >= 0.95
