"""The stent graft's ring (`material.stent`): struts ring the aortic lumen; cement never does."""

from __future__ import annotations

import numpy as np

from cementseg.material.stent import _circle, _on_rings, _rings

CENTRE_LP_MM = np.array([20.0, 5.0])
RADIUS_MM = 11.0


def _arc(from_deg: float, to_deg: float, s_mm: float, n: int = 40) -> np.ndarray:
    angles = np.radians(np.linspace(from_deg, to_deg, n))
    lp = CENTRE_LP_MM + RADIUS_MM * np.column_stack([np.cos(angles), np.sin(angles)])
    return np.column_stack([lp, np.full(n, s_mm)])


def _pieces(arcs):
    points = np.concatenate(arcs)
    piece = np.concatenate([np.full(len(a), i) for i, a in enumerate(arcs)])
    return points, piece


def test_the_circle_fit_finds_centre_and_radius():
    centre, radius, rms = _circle(_arc(0, 300, 0.0)[:, :2])
    assert np.allclose(centre, CENTRE_LP_MM, atol=1e-6) and abs(radius - RADIUS_MM) < 1e-6 and rms < 1e-6


def test_four_struts_all_round_the_lumen_make_a_ring():
    points, piece = _pieces([_arc(a, a + 70, s) for a, s in ((0, 0.0), (90, 3.0), (180, 6.0), (270, 9.0))])
    rings = _rings(points, piece, voxel_mm=3.0)
    assert rings
    _, _, centre, radius = rings[0]
    assert np.linalg.norm(centre - CENTRE_LP_MM) < 0.5 and abs(radius - RADIUS_MM) < 0.5


def test_pieces_on_one_side_of_the_aorta_make_no_ring():
    """Cement in the lumbar veins behind the aorta, or a plaque on its back wall: half a circle at most."""
    points, piece = _pieces([_arc(a, a + 50, s) for a, s in ((200, 0.0), (260, 3.0), (300, 6.0))])
    assert _rings(points, piece, voxel_mm=3.0) == []


def test_a_strut_lies_on_the_ring_and_a_vein_beside_the_wall_does_not():
    points, piece = _pieces([_arc(a, a + 70, s) for a, s in ((0, 0.0), (90, 3.0), (180, 6.0), (270, 9.0))])
    rings = _rings(points, piece, voxel_mm=1.5)
    strut = _arc(100, 120, 4.0, n=10)
    vein = strut.copy()
    vein[:, :2] = CENTRE_LP_MM + (vein[:, :2] - CENTRE_LP_MM) * (RADIUS_MM + 5.0) / RADIUS_MM
    assert _on_rings(strut, rings, voxel_mm=1.5)
    assert not _on_rings(vein, rings, voxel_mm=1.5)
