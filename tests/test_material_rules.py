"""Stage 2 on small synthetic CTs: each material rule, with and without an anatomy map."""

import math

import numpy as np
import pytest
from segment_scene import (
    ORIGIN,
    anatomy_on_grid,
    box,
    ellipsoid,
    fraction,
    holding,
    render,
    spine_scene,
    tube,
)

from cementseg.material import classify_materials
from cementseg.segment import find_candidates
from cementseg.settings import Settings

SETTINGS = Settings()
O = np.array(ORIGIN)  # noqa: E741 -- the origin, as in the geometry helpers


#: a cemented vertebral body away from the vessels: venous and embolic cement needs a source
BODY = box(O + (2.0, 2.0, 2.0), O + (14.0, 14.0, 30.0))
FILL = box(O + (5.0, 5.0, 8.0), O + (11.0, 11.0, 24.0))


def classified(volume, anatomy):
    candidates = find_candidates(volume, SETTINGS)
    classify_materials(candidates, volume, anatomy, SETTINGS)
    return candidates


@pytest.mark.parametrize("spacing", [0.8, 1.5, 3.0])
def test_fill_in_vertebral_body_is_cement_and_cortex_is_bone(spacing):
    scene = spine_scene((spacing,) * 3)
    anatomy = anatomy_on_grid(scene.volume, [("posterior_elements", scene.bar)], scene.bodies)
    candidates = classified(scene.volume, anatomy)
    fill_share = fraction(scene.volume.shape, scene.volume.spacing_mm, scene.fill, 3)
    (fill,) = holding(candidates, np.flatnonzero(fill_share > 0.99))
    assert fill.material == "cement" and "vertebral body" in fill.reason
    assert 0.0 < fill.evidence["confidence"] <= 1.0
    # partial-volume cement volume: within 15% of the rendered fill (voxel counts overshoot)
    true_ml = fill_share.sum() * scene.volume.voxel_volume_mm3 / 1000
    assert fill.evidence["volume_pv_ml"] == pytest.approx(true_ml, rel=0.15)
    assert fill.cement_fraction.shape == fill.flat_index.shape
    for other in candidates:
        if other is not fill:
            assert other.material == "bone", other.reason


def test_without_anatomy_the_reason_says_so():
    scene = spine_scene((1.5,) * 3)
    candidates = classified(scene.volume, None)
    assert candidates
    assert all(c.reason.endswith("(no anatomy map)") for c in candidates)
    assert all(c.evidence["confidence"] <= 0.5 for c in candidates)
    fill_core = np.flatnonzero(fraction(scene.volume.shape, scene.volume.spacing_mm, scene.fill, 2) > 0.99)
    assert [c.material for c in holding(candidates, fill_core)] == ["cement"]


@pytest.mark.parametrize("spacing", [0.8, 1.5, 3.0])
@pytest.mark.parametrize("lumen_hu", [40.0, 350.0])
def test_thin_ivc_cast_is_cement_with_its_true_volume(spacing, lumen_hu):
    """A 2 mm, 2000 HU cast in an IVC, unenhanced or with refluxed contrast."""
    ivc = tube(O + (30, 30, 2), O + (30, 30, 58), 12.0)
    cast = tube(O + (26, 33, 8), O + (31, 27, 52), 1.0)
    parts = [(BODY, 120.0), (FILL, 2000.0), (ivc, lumen_hu), (cast, 2000.0)]
    volume = render((round(60 / spacing),) * 3, (spacing,) * 3, parts, supersample=3, blur_mm=0.5)
    candidates = classified(volume, anatomy_on_grid(volume, [("inferior_vena_cava", ivc)], [BODY]))
    line = np.flatnonzero(fraction(volume.shape, volume.spacing_mm, cast) >= 0.25)
    found = holding(candidates, line)
    assert found and all(c.material == "cement" for c in found), [c.reason for c in found]
    true_ml = math.pi * 1.0**2 * np.linalg.norm([5, -6, 44]) / 1000
    assert sum(c.evidence["volume_pv_ml"] for c in found) == pytest.approx(true_ml, rel=0.15)


@pytest.mark.parametrize("with_anatomy", [True, False])
def test_saturated_screw_is_metal_next_to_a_cement_fill(with_anatomy):
    """A 6.5 mm screw at the 12-bit ceiling through the pedicle into a cemented body."""
    scene = spine_scene((1.0,) * 3)
    centre = np.array([25.0, 30.0, 47.0]) + O
    screw = tube(centre + (8, 35, 0), centre + (3, -5, 0), 3.25)
    volume = render(scene.volume.shape, (1.0,) * 3, [(lambda x, y, z: np.zeros(x.shape, bool), 0.0)])
    hu = scene.volume.hu.astype(float)
    share = fraction(volume.shape, volume.spacing_mm, screw, 3)
    hu = np.clip(hu * (1 - share) + 8000.0 * share, -1024, 3071)
    volume.hu = np.rint(hu).astype(np.int16)
    anatomy = (
        anatomy_on_grid(volume, [("posterior_elements", scene.bar)], scene.bodies) if with_anatomy else None
    )
    candidates = classified(volume, anatomy)
    (metal,) = holding(candidates, np.flatnonzero(share > 0.99))
    assert metal.material == "metal", metal.reason
    assert metal.evidence["core"] == "metal"
    fill_core = np.flatnonzero(
        (fraction(volume.shape, volume.spacing_mm, scene.fill, 2) > 0.99) & (share == 0)
    )
    in_cement = [np.isin(fill_core, c.flat_index).sum() for c in candidates if c.material == "cement"]
    assert sum(in_cement) >= 0.5 * fill_core.size  # the rest lies within the screw's blur reach


def test_extended_scale_metal_and_thin_saturated_wire():
    spacing = (1.0, 1.0, 1.0)
    rod = tube(O + (10, 10, 5), O + (10, 10, 45), 2.0)
    wire = tube(O + (30, 30, 5), O + (34, 28, 45), 0.4)
    volume = render((50, 45, 45), spacing, [(rod, 9000.0), (wire, 40000.0)], supersample=4, blur_mm=0.5)
    volume.hu = np.clip(volume.hu.astype(np.int32), -1024, 12000).astype(np.int16)
    candidates = classified(volume, None)
    (rod_candidate,) = holding(candidates, np.flatnonzero(fraction(volume.shape, spacing, rod) > 0.99))
    assert rod_candidate.material == "metal" and "extended HU scale" in rod_candidate.reason
    clipped = render((50, 45, 45), spacing, [(wire, 40000.0)], supersample=4, blur_mm=0.5)
    clipped.hu = np.clip(clipped.hu.astype(np.int32), -1024, 3071).astype(np.int16)
    (lead,) = classified(clipped, None)
    assert lead.material == "metal", lead.reason


@pytest.mark.parametrize("with_anatomy", [True, False])
def test_dense_contrast_column_is_contrast(with_anatomy):
    """CTPA: undiluted contrast (2100 HU) filling a 20 mm SVC-like tube over 80 mm."""
    svc = tube(O + (30, 30, 5), O + (30, 30, 85), 10.0)
    volume = render((90, 60, 60), (1.0, 1.0, 1.0), [(svc, 2100.0)], supersample=2, blur_mm=0.5)
    anatomy = anatomy_on_grid(volume, []) if with_anatomy else None
    (column,) = classified(volume, anatomy)
    assert column.material == "contrast", column.reason


def test_contrast_refluxed_into_the_ivc_is_contrast_and_cast_inside_is_cement():
    """IVC lumen full of refluxed contrast (1300 HU) holding a 2.5 mm cast of 2200 HU cement."""
    ivc = tube(O + (30, 30, 2), O + (30, 30, 70), 10.0)
    cast = tube(O + (28, 31, 10), O + (31, 29, 60), 1.25)
    parts = [(BODY, 120.0), (FILL, 2200.0), (ivc, 1300.0), (cast, 2200.0)]
    volume = render((72, 60, 60), (1.0, 1.0, 1.0), parts, supersample=3, blur_mm=0.5)
    candidates = classified(volume, anatomy_on_grid(volume, [("inferior_vena_cava", ivc)], [BODY]))
    cast_voxels = np.flatnonzero(fraction(volume.shape, volume.spacing_mm, cast, 3) > 0.9)
    lumen_voxels = np.flatnonzero(
        fraction(volume.shape, volume.spacing_mm, tube(O + (30, 30, 2), O + (30, 30, 70), 6.0), 2) > 0.99
    )
    sleeve = tube(O + (28, 31, 5), O + (31, 29, 65), 1.25 + 3.5)  # cast, blur, one-voxel rim, crumbs
    lumen_voxels = np.setdiff1d(
        lumen_voxels, np.flatnonzero(fraction(volume.shape, volume.spacing_mm, sleeve, 2) > 0)
    )
    (cast_candidate,) = holding(candidates, cast_voxels)
    assert cast_candidate.material == "cement", cast_candidate.reason
    assert [c.material for c in holding(candidates, lumen_voxels)] == ["contrast"]
    # the sleeve of contrast counts for nothing: background is the refluxed blood, not soft tissue
    cast_ml = math.pi * 1.25**2 * np.linalg.norm([3, -2, 50]) / 1000
    assert cast_candidate.evidence["volume_pv_ml"] == pytest.approx(cast_ml, rel=0.2)


def test_aortic_wall_plaque_is_calcification():
    aorta = tube(O + (30, 30, 2), O + (30, 30, 58), 11.0)
    plaque = box(O + (40.0, 27.0, 20.0), O + (42.0, 33.0, 28.0))
    volume = render(
        (60, 60, 60), (0.8, 0.8, 0.8), [(aorta, 40.0), (plaque, 1400.0)], supersample=2, blur_mm=0.5
    )
    (candidate,) = classified(volume, anatomy_on_grid(volume, [("aorta", aorta)]))
    assert candidate.material == "calcification", candidate.reason


def test_embolus_needs_a_cemented_vertebra_in_the_scan():
    """A dense nodule in a pulmonary artery: cement only if some vertebra holds cement."""
    artery = tube(O + (20, 20, 5), O + (20, 20, 55), 3.0)
    nodule = ellipsoid(O + (20, 20, 30), (2.0, 2.0, 3.0))
    volume = render((60, 40, 40), (1.0, 1.0, 1.0), [(artery, 40.0), (nodule, 2200.0)], -850.0, 3, 0.5)
    (alone,) = classified(
        volume, anatomy_on_grid(volume, [("lung", box(O - 1, O + 100)), ("pulmonary_artery", artery)])
    )
    assert alone.material == "indeterminate" and "no cemented vertebra" in alone.reason


def test_long_cast_in_unenhanced_ivc_is_cement_not_a_contrast_lumen():
    """A 4 mm, 2300 HU cast 90 mm long (over 1 mL) in a 24 mm IVC of plain blood (40 HU), 0.8 mm voxels.

    Plain blood of its own vessel lies around it: it does not fill the lumen, it is a cast in it.
    """
    ivc = tube(O + (30, 30, 2), O + (30, 30, 98), 12.0)
    cast = tube(O + (27, 32, 4), O + (32, 28, 94), 2.0)
    parts = [(BODY, 120.0), (FILL, 2300.0), (ivc, 40.0), (cast, 2300.0)]
    volume = render((125, 75, 75), (0.8, 0.8, 0.8), parts, supersample=2, blur_mm=0.5)
    candidates = classified(volume, anatomy_on_grid(volume, [("inferior_vena_cava", ivc)], [BODY]))
    (found,) = holding(candidates, np.flatnonzero(fraction(volume.shape, volume.spacing_mm, cast, 2) > 0.9))
    assert found.volume_ml > SETTINGS.contrast_min_lumen_ml  # large enough for the lumen rule to be asked
    assert found.material == "cement", found.reason


def test_cast_touching_a_contrast_column_counts_no_contrast_as_cement():
    """Plain-blood IVC (40 HU) holding a refluxed contrast column (1300 HU, 12 mm) and a
    2.5 mm cast of 2200 HU cement running along it and into it, 1 mm voxels.

    The cast's voxels next to the column mix cement with contrast: they count by the
    contrast's HU, not the plain blood's, so the cast keeps its true volume.
    """
    ivc = tube(O + (30, 30, 2), O + (30, 30, 70), 12.0)
    column = tube(O + (26, 30, 2), O + (26, 30, 45), 6.0)
    cast = tube(O + (33.5, 30, 65), O + (30.5, 30, 20), 1.25)
    parts = [(BODY, 120.0), (FILL, 2200.0), (ivc, 40.0), (column, 1300.0), (cast, 2200.0)]
    volume = render((72, 60, 60), (1.0, 1.0, 1.0), parts, supersample=3, blur_mm=0.5)
    candidates = classified(volume, anatomy_on_grid(volume, [("inferior_vena_cava", ivc)], [BODY]))
    (found,) = holding(candidates, np.flatnonzero(fraction(volume.shape, volume.spacing_mm, cast, 3) > 0.9))
    assert found.material == "cement", found.reason
    column_core = np.flatnonzero(fraction(volume.shape, volume.spacing_mm, column, 2) > 0.99)
    (most,) = [c for c in candidates if np.isin(column_core, c.flat_index).mean() > 0.9]
    assert most.material == "contrast", most.reason
    cast_ml = math.pi * 1.25**2 * np.linalg.norm([3, 0, 45]) / 1000
    assert found.evidence["volume_pv_ml"] == pytest.approx(cast_ml, rel=0.15)


def test_ctpa_enhanced_pulmonary_arteries_on_coarse_voxels_are_contrast_and_an_embolus_cement():
    """CTPA, 3 mm voxels: pulmonary arteries of 480 HU in lung, the largest holding a cement embolus.

    The map's artery outline is wider than the lumen (a coarse grid takes in partial-volumed
    lung), so the blood around a short piece of lumen looks unenhanced and a thin line there
    would mix with lung; but the whole tree carries the one contrast level its ventricle mixed,
    so lumen as dense as that level is contrast, and only the embolus is cement.
    """
    # (start, end, radius mm): a 12 mm artery and two short 9 mm branches one slice long
    ends = [
        ((30, 30, 6), (30, 30, 84), 6.0),
        ((42, 45, 13.5), (42, 45, 16.5), 4.5),
        ((42, 45, 73.5), (42, 45, 76.5), 4.5),
    ]
    embolus = ellipsoid(O + (30, 30, 45), (1.6, 1.6, 4.0))
    lumens = [(tube(O + a, O + b, r), 480.0) for a, b, r in ends]
    parts = [(BODY, 120.0), (FILL, 2200.0), *lumens, (embolus, 2200.0)]
    volume = render((30, 20, 20), (3.0, 3.0, 3.0), parts, -850.0, supersample=4, blur_mm=0.5)
    lung = box(O + (18.0, 18.0, 0.0), O + (60.0, 60.0, 90.0))
    outlines = [("pulmonary_artery", tube(O + a, O + b, r + 1.5)) for a, b, r in ends]
    candidates = classified(volume, anatomy_on_grid(volume, [("lung", lung), *outlines], [BODY]))
    shape, spacing = volume.shape, volume.spacing_mm
    found = holding(candidates, np.flatnonzero(fraction(shape, spacing, embolus) > 0.3))
    assert found and all(c.material == "cement" for c in found), [c.reason for c in found]
    lumen = np.flatnonzero(sum(fraction(shape, spacing, solid) for solid, _ in lumens) > 0)
    in_lumen = [c for c in holding(candidates, lumen) if c not in found]
    assert len(in_lumen) >= 3, "pieces of enhanced lumen must reach the faint pass on 3 mm voxels"
    assert all(c.material == "contrast" for c in in_lumen), [c.reason for c in in_lumen]


@pytest.mark.parametrize(("vessel_mm", "has_level"), [(5, False), (12, True)])
def test_a_blood_pool_needs_enough_of_itself_in_view_for_a_scan_wide_level(vessel_mm, has_level):
    """The lung bases atop an abdominal CT hold a few peripheral branches: their 90th percentile is
    that of the dense specks in them (emboli), not a contrast level; from `blood_pool_min_ml` on
    the pool has one."""
    from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap
    from cementseg.material.features import ScanScale
    from cementseg.volume import CTVolume, make_affine

    hu = np.full((40, 40, 40), -800, np.int16)
    structures = np.full(hu.shape, STRUCTURES["lung"], np.uint8)
    vessel = (slice(0, 40), slice(10, 10 + vessel_mm // 2), slice(10, 10 + vessel_mm // 2))
    hu[vessel], structures[vessel] = 40, STRUCTURES["pulmonary_artery"]
    hu[0:4, 10:12, 10:12] = 1500  # an embolus
    structures[0:4, 10:12, 10:12] = STRUCTURES["pulmonary_artery"]
    volume = CTVolume(hu=hu, spacing_mm=(2.0, 2.0, 2.0), origin_lps_mm=(0.0, 0.0, 0.0))
    anatomy = AnatomyMap(structures, np.zeros(hu.shape, np.uint8), make_affine((2.0,) * 3, (0.0,) * 3, np.eye(3)))
    pool_ml = (structures == STRUCTURES["pulmonary_artery"]).sum() * 8.0 / 1000.0
    assert (pool_ml >= SETTINGS.blood_pool_min_ml) == has_level
    scale = ScanScale(volume, SETTINGS, anatomy)
    if has_level:
        assert scale.blood_hu["pulmonary_artery"] == pytest.approx(40.0)
    else:
        assert scale.blood_hu["pulmonary_artery"] is None and scale.blood_peak_hu["pulmonary_artery"] is None


@pytest.mark.parametrize("at_top", [True, False])
def test_a_mass_cut_by_the_edge_of_the_view_keeps_its_edge_slice_in_its_core(at_top):
    """Nothing is known beyond the field of view: a dense mass the first or last slice cuts
    continues there, so that slice is core (on 5 mm slices an undiluted contrast jet at the top of
    the view kept only its partial-volumed slice as core, lost its flat top and was called cement)."""
    from cementseg.material.features import core_hu
    from cementseg.segment import candidate_from_voxels
    from cementseg.volume import CTVolume

    hu = np.full((10, 20, 20), 40, np.int16)
    edge, inner = (9, 8) if at_top else (0, 1)
    hu[edge, 5:15, 5:15], hu[inner, 5:15, 5:15] = 2000, 1400  # the inner slice is partial volume
    volume = CTVolume(hu=hu, spacing_mm=(5.0, 0.8, 0.8), origin_lps_mm=(0.0, 0.0, 0.0))
    candidate = candidate_from_voxels(1, np.flatnonzero(hu.reshape(-1) > 1000), volume)
    assert core_hu(candidate, volume) == 2000.0
    inside_view = np.roll(hu, -4 if at_top else 4, axis=0)  # two slices tall within the view: no core
    volume = CTVolume(hu=inside_view, spacing_mm=(5.0, 0.8, 0.8), origin_lps_mm=(0.0, 0.0, 0.0))
    candidate = candidate_from_voxels(1, np.flatnonzero(inside_view.reshape(-1) > 1000), volume)
    assert core_hu(candidate, volume) is None


@pytest.mark.parametrize(
    ("spacing_mm", "axis_lps", "across_mm"),
    [
        ((5.0, 0.8, 0.8), (0.0, 0.0, 1.0), 0.8),  # a column up thick slices: in-plane voxels across
        ((5.0, 0.8, 0.8), (1.0, 0.0, 0.0), 5.0),  # lying in a slice: the slices are across it
        ((5.0, 0.8, 0.8), (0.6, 0.0, 0.8), 0.8),  # steeper than 45 degrees: still a column
        ((3.0, 3.0, 3.0), (0.577, 0.577, 0.577), 3.0),
    ],
)
def test_the_voxel_edge_across_a_candidate_is_that_of_the_axes_not_along_it(spacing_mm, axis_lps, across_mm):
    from types import SimpleNamespace

    from cementseg.material.features import voxel_across_mm
    from cementseg.volume import CTVolume

    volume = CTVolume(np.zeros((4, 4, 4), np.int16), spacing_mm, (0.0, 0.0, 0.0))
    assert voxel_across_mm(SimpleNamespace(principal_axis_lps=axis_lps), volume) == pytest.approx(across_mm)
