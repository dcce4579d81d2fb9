"""The stent graft's ring (`material.stent`): struts ring the aortic lumen; cement never does."""

from __future__ import annotations

import numpy as np

from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap
from cementseg.material.stent import _around_a_lumen, _circle, _on_rings, _rings

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


def test_the_ring_is_found_among_other_pieces_in_its_slab():
    """Plaques, bone and leaks elsewhere in the slab: the circle through three struts that the
    others lie on is the ring."""
    struts = [_arc(a, a + 70, s) for a, s in ((0, 0.0), (90, 3.0), (180, 6.0), (270, 9.0))]
    elsewhere = [
        np.array([[x, y, 5.0] for x in (60.0, 62.0) for y in (-30.0, -28.0)]),
        np.array([[-40.0, 40.0, 2.0]]),
    ]
    points, piece = _pieces(struts + elsewhere)
    rings = _rings(points, piece, voxel_mm=3.0)
    assert len(rings) == 1 and abs(rings[0][3] - RADIUS_MM) < 0.5


def test_a_whole_ring_in_one_thick_slice_is_one_piece():
    points, piece = _pieces([_arc(0, 350, 0.0, n=80)])
    assert _rings(points, piece, voxel_mm=5.0)


def test_a_cast_filling_its_vein_is_no_ring():
    """A cement cast's cross-section fills the lumen: its points lie all over the disk, not on a circle."""
    radius, angle = np.meshgrid(np.linspace(0, RADIUS_MM, 12), np.radians(np.arange(0, 360, 15)))
    lp = CENTRE_LP_MM + np.column_stack([(radius * np.cos(angle)).ravel(), (radius * np.sin(angle)).ravel()])
    points, piece = _pieces([np.column_stack([lp, np.zeros(len(lp))])])
    assert _rings(points, piece, voxel_mm=1.5) == []


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


def _spine_map() -> tuple[AnatomyMap, np.ndarray]:
    """A 2 mm map, 100 x 100 mm in plane, 60 mm tall: one vertebral body (R 15 mm) centred at
    L 0, P 20 mm, the sternum (other bone) at L 0, P -80 mm."""
    shape = (30, 100, 100)  # z, y (P), x (L)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-100.0, -100.0, -30.0)
    z, y, x = np.indices(shape)
    lps = np.stack([x * 2.0 - 100.0, y * 2.0 - 100.0, z * 2.0 - 30.0], axis=-1)
    body = np.hypot(lps[..., 0], lps[..., 1] - 20.0) <= 15.0
    structures = np.where(body, STRUCTURES["vertebral_body"], STRUCTURES["soft_tissue"]).astype(np.uint8)
    structures[np.hypot(lps[..., 0], lps[..., 1] + 80.0) <= 6.0] = STRUCTURES["other_bone"]
    anatomy = AnatomyMap(structures=structures, vertebrae=body.astype(np.uint8), affine=affine)
    return anatomy, anatomy.voxel_centres_lps(np.argwhere(body))


def test_a_ring_is_round_an_aortic_lumen_only_beside_the_spine():
    """In front of the body and left of it: an aorta. Round the body: cement in its plexus. Round
    the sternum: wires. Far from the spine: no aorta."""
    anatomy, spine = _spine_map()
    assert _around_a_lumen((-10.0, 10.0, np.array([20.0, -15.0]), RADIUS_MM), anatomy, spine)
    assert not _around_a_lumen((-10.0, 10.0, np.array([0.0, 20.0]), 18.0), anatomy, spine)
    assert not _around_a_lumen((-10.0, 10.0, np.array([0.0, -80.0]), RADIUS_MM), anatomy, spine)
    assert not _around_a_lumen((-10.0, 10.0, np.array([-90.0, -90.0]), RADIUS_MM), anatomy, spine)
