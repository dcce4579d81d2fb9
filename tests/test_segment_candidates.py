"""Stage 1: hysteresis candidates on synthetic CTs with voxel-exact or rendered truth."""

import math

import cc3d
import numpy as np
import pytest
from scipy import ndimage as ndi
from segment_scene import ORIGIN, box, ellipsoid, fraction, holding, render, sphere, spine_scene, tube

from cementseg.segment import candidate_thresholds, find_candidates, partial_volume_factor
from cementseg.settings import Settings
from cementseg.volume import CTVolume

SETTINGS = Settings()


def _rendered_line_peak(spacing: float) -> float:
    """Best voxel value (share of the line's HU) of a 2 mm line seen by a scanner with 0.5 mm blur.

    Cross-section drawn on a 0.05 mm grid, blurred, then averaged into square voxels at every
    alignment on that grid (block means by reshaping): the scanner's order of events.
    """
    fine = 0.05
    per_voxel = round(spacing / fine)
    n = per_voxel * (round(12 / spacing) + 1)
    y, x = (np.mgrid[0:n, 0:n] + 0.5) * fine - n * fine / 2
    section = ndi.gaussian_filter((x**2 + y**2 <= 1.0).astype(float), 0.5 / fine)
    best = 0.0
    for dy in range(0, per_voxel, max(1, per_voxel // 5)):
        for dx in range(0, per_voxel, max(1, per_voxel // 5)):
            part = section[dy : dy + n - per_voxel, dx : dx + n - per_voxel]
            blocks = part.reshape(part.shape[0] // per_voxel, per_voxel, -1, per_voxel).mean(axis=(1, 3))
            best = max(best, blocks.max())
    return best


def test_partial_volume_factor_predicts_rendered_thin_line_peaks():
    """pv = the blurred line's best peak relative to 0.5 mm voxels, checked against rendering."""
    reference = _rendered_line_peak(0.5)
    for spacing in (0.8, 1.5, 3.0):
        measured = _rendered_line_peak(spacing) / reference
        assert partial_volume_factor((spacing,) * 3, 2.0) == pytest.approx(measured, abs=0.06)
    assert partial_volume_factor((0.5, 0.5, 0.5), 2.0) == 1.0
    # thick slices: the coarse axis costs a thin line much of its peak, whatever the in-plane size
    assert partial_volume_factor((3.0, 0.7, 0.7), 2.0) < 0.7


def test_thresholds_scale_with_voxel_size():
    fine = candidate_thresholds((0.8, 0.8, 0.8), SETTINGS)
    coarse = candidate_thresholds((3.0, 3.0, 3.0), SETTINGS)
    assert fine.faint_seed_hu is None and fine.dense_seed_hu == SETTINGS.seed_hu
    pv = partial_volume_factor((3.0, 3.0, 3.0), SETTINGS.thin_leak_diameter_mm)
    assert coarse.partial_volume_factor == pv
    base = SETTINGS.soft_tissue_hu
    assert coarse.faint_seed_hu == pytest.approx(base + pv * (SETTINGS.seed_hu - base))
    assert coarse.faint_grow_hu == pytest.approx(base + pv * (SETTINGS.grow_hu - base))
    assert coarse.grow_reach_mm == (4.5, 4.5, 4.5)  # 1.5 voxels beats the 3 mm setting


def test_voxel_exact_ellipsoid_statistics():
    """Binary painting: the candidate is exactly the painted voxels; every statistic follows."""
    spacing = (1.25, 0.5, 0.75)
    solid = ellipsoid((ORIGIN[0] + 15.0, ORIGIN[1] + 12.0, ORIGIN[2] + 20.0), (6.0, 4.0, 9.0))
    volume = render((32, 48, 40), spacing, [(solid, 2500.0)], supersample=1)
    truth = np.flatnonzero(volume.hu.ravel() == 2500)
    (candidate,) = find_candidates(volume, SETTINGS)
    np.testing.assert_array_equal(candidate.flat_index, truth)
    assert candidate.voxel_count == truth.size
    assert candidate.volume_ml == pytest.approx(truth.size * 1.25 * 0.5 * 0.75 / 1000.0)
    assert candidate.hu_max == candidate.hu_p05 == candidate.hu_p50 == 2500.0
    zyx = np.column_stack(np.unravel_index(truth, volume.shape))
    lps = volume.index_to_lps(zyx)
    np.testing.assert_allclose(candidate.centroid_lps_mm, lps.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(candidate.bbox_lps_mm[0], lps.min(axis=0))
    np.testing.assert_allclose(candidate.bbox_lps_mm[1], lps.max(axis=0))
    assert candidate.bbox_zyx == tuple(zyx.min(axis=0)) + tuple(zyx.max(axis=0) + 1)
    # longest semi-axis 9 mm along S (z): slices painted at centres -> extent = slices * 1.25 mm
    slices = np.unique(zyx[:, 0]).size
    assert candidate.length_mm == pytest.approx(slices * 1.25)
    assert abs(candidate.principal_axis_lps[2]) == pytest.approx(1.0, abs=1e-6)
    assert 0.2 < candidate.tubularity < 0.5  # 1 - sqrt(6/9) = 0.18 for a solid ellipsoid, + voxel steps


@pytest.mark.parametrize("spacing", [(0.8, 0.8, 0.8), (3.0, 1.0, 1.0)])
def test_oblique_rod_length_and_tubularity(spacing):
    """A 40 mm oblique rod of 3 mm diameter: length within one voxel, clearly tubular."""
    p0 = np.array(ORIGIN) + (8.0, 9.0, 10.0)
    p1 = p0 + 40.0 * np.array([0.6, 0.0, 0.8])
    volume = render(
        tuple(int(60 / s) for s in spacing), spacing, [(tube(p0, p1, 1.5), 2500.0)], supersample=1
    )
    (candidate,) = find_candidates(volume, SETTINGS)
    assert abs(candidate.length_mm - 40.0) <= max(spacing) * 1.5
    assert candidate.tubularity > 0.85
    np.testing.assert_allclose(np.abs(candidate.principal_axis_lps), [0.6, 0.0, 0.8], atol=0.03)
    np.testing.assert_allclose(candidate.centroid_lps_mm, (p0 + p1) / 2, atol=max(spacing) / 2)


@pytest.mark.parametrize("spacing", [0.5, 1.0])
def test_min_size_is_in_mm3_not_voxels(spacing):
    """Cubes of 27 mm3 and 36 mm3 with a 30 mm3 limit: the same one survives at any voxel size."""
    small = box(np.array(ORIGIN) + 2.0, np.array(ORIGIN) + 2.0 + 2.99)  # 3 x 3 x 3 mm
    large = box(np.array(ORIGIN) + (12.0, 2.0, 2.0), np.array(ORIGIN) + (12.0 + 3.99, 2.0 + 2.99, 2.0 + 2.99))
    shape = (int(10 / spacing), int(10 / spacing), int(20 / spacing))
    # paint voxel-exact boxes on a grid whose voxel corners sit on whole mm
    volume = render(shape, (spacing,) * 3, [(small, 2000.0), (large, 2000.0)], supersample=1)
    kept = find_candidates(volume, SETTINGS.replace(min_candidate_mm3=30.0))
    assert [c.volume_ml * 1000 for c in kept] == [pytest.approx(36.0)]
    assert len(find_candidates(volume, SETTINGS.replace(min_candidate_mm3=20.0))) == 2


@pytest.mark.parametrize("spacing", [0.8, 1.5, 3.0])
def test_rendered_sphere_volume_and_centroid(spacing):
    """Partial volume and scanner blur: volume within the grow rim, centroid within a quarter voxel."""
    centre = np.array(ORIGIN) + (20.3, 19.6, 20.9)
    solid = sphere(centre, 8.0)
    volume = render((int(42 / spacing),) * 3, (spacing,) * 3, [(solid, 2000.0)], blur_mm=0.5)
    (candidate,) = find_candidates(volume, SETTINGS)
    true_ml = 4 / 3 * math.pi * 8.0**3 / 1000
    # grow_hu 450 keeps voxels >= 21% cement: the rim adds at most one voxel shell (+1 voxel radius)
    assert true_ml * 0.95 <= candidate.volume_ml <= 4 / 3 * math.pi * (8.0 + spacing) ** 3 / 1000
    np.testing.assert_allclose(candidate.centroid_lps_mm, centre, atol=spacing / 4)
    assert candidate.length_mm == pytest.approx(16.0, abs=2 * spacing)


@pytest.mark.parametrize("spacing", [0.8, 1.5, 3.0])
def test_thin_leak_kept_on_every_voxel_size(spacing):
    """A 2 mm, 2000 HU oblique line (as faint as 690 HU on 3 mm voxels) is one candidate, full length."""
    p0 = np.array(ORIGIN) + (10.0, 12.0, 8.0)
    p1 = p0 + 45.0 * np.array([0.48, 0.36, 0.8])
    solid = tube(p0, p1, 1.0)
    volume = render((int(60 / spacing),) * 3, (spacing,) * 3, [(solid, 2000.0)], blur_mm=0.5)
    assert volume.hu.max() < (1300 if spacing == 3.0 else 2000)
    line = np.flatnonzero(fraction(volume.shape, volume.spacing_mm, solid) >= 0.25)
    found = holding(find_candidates(volume, SETTINGS), line)
    assert len(found) == 1
    assert np.isin(line, found[0].flat_index).mean() >= 0.95
    assert found[0].length_mm == pytest.approx(45.0, abs=2 * spacing)
    assert found[0].tubularity > 0.8


def test_a_thin_cast_stays_one_candidate_across_a_dip_between_its_peaks():
    """Needle tract on 3 mm voxels (minor_leaks seed 1): partial-volume peaks >= cement_min_hu and a
    dip two voxels from both with no seed voxel; the dip is the cast's, not a piece of its own
    (before: dropped from every candidate, the cast cut in two)."""
    hu = np.full((5, 12, 5), 40, np.int16)
    hu[1:4, 1:11, 1:4] = 520  # pedicle
    hu[2, 2:7, 2] = [1577, 1414, 930, 1492, 1689]  # the tract: peak, dip, peak
    hu[2, 4, 3] = 749
    volume = CTVolume(hu, (3.0, 3.0, 3.0), ORIGIN)
    tract = np.flatnonzero(hu > 700)
    (cast,) = holding(find_candidates(volume, SETTINGS), tract)
    assert cast.evidence["core"] == "cement_dense"
    assert np.isin(tract, cast.flat_index).all()


def test_soft_tissue_noise_makes_no_candidates():
    rng = np.random.default_rng(7)
    hu = rng.normal(40, 25, size=(40, 64, 64))
    hu = ndi.gaussian_filter(hu, 0.7)  # correlated noise like a reconstruction kernel
    volume = CTVolume(np.rint(hu).astype(np.int16), (3.0, 3.0, 3.0), ORIGIN)
    assert find_candidates(volume, SETTINGS) == []


@pytest.mark.parametrize("spacing", [0.8, 1.5, 3.0])
def test_cement_fill_does_not_flood_the_bony_spine(spacing):
    """Fill abutting an endplate of a spine joined by dense bone: the fill's candidate stays within reach."""
    scene = spine_scene((spacing,) * 3)
    volume, fill, bodies = scene.volume, scene.fill, scene.bodies
    fill_share = fraction(volume.shape, volume.spacing_mm, fill, 3)
    candidates = find_candidates(volume, SETTINGS)
    (cement,) = holding(candidates, np.flatnonzero(fill_share > 0.99))
    assert cement.evidence["pass"] == "dense"
    reach = max(candidate_thresholds(volume.spacing_mm, SETTINGS).grow_reach_mm)
    distance_mm = ndi.distance_transform_edt(fill_share == 0, sampling=volume.spacing_mm)
    assert distance_mm.ravel()[cement.flat_index].max() <= reach * math.sqrt(3) + 1e-6  # box reach
    other_bodies = fraction(volume.shape, volume.spacing_mm, bodies[0], 1) + fraction(
        volume.shape, volume.spacing_mm, bodies[2], 1
    )
    assert not other_bodies.ravel()[cement.flat_index].any()
    true_ml = fill_share.sum() * volume.voxel_volume_mm3 / 1000
    assert true_ml <= cement.volume_ml <= 1.6 * true_ml
    for other in candidates:
        if other is not cement:  # coarse grids: the cortex is a separate, touching, bone-dense candidate
            assert other.evidence["pass"] == "faint" and other.hu_p95 < 1000


def _plain_hysteresis_components(hu, seed_hu, grow_hu, reach_voxels, min_voxels, exclude):
    """Reference: dilate the seeds by the reach box over the whole scan, label in one go."""
    size = [2 * r + 1 for r in reach_voxels]
    near_seed = ndi.maximum_filter((hu >= seed_hu) & ~exclude, size=size, mode="constant")
    mask = (hu >= grow_hu) & near_seed & ~exclude
    labels = cc3d.connected_components(mask, connectivity=26)
    components = [np.flatnonzero(labels == label) for label in range(1, labels.max() + 1)]
    kept = [flat for flat in components if flat.size >= min_voxels and hu.ravel()[flat].max() >= seed_hu]
    return kept, mask


@pytest.mark.parametrize("spacing", [0.8, 1.5])
def test_candidates_are_the_components_of_the_plain_hysteresis_mask(spacing):
    """Computed in blocks, labelled in cropped slabs: the same components as the whole-scan recipe.

    Bone-like structures with scattered seeds cross the block and slab boundaries; on 1.5 mm
    voxels the faint pass runs too, outside the dense-pass mask.
    """
    rng = np.random.default_rng(3)
    field = ndi.gaussian_filter(rng.normal(size=(150, 160, 150)), 2.0)
    field /= field.std()
    hu = np.clip(40 + 330 * field, -1000, SETTINGS.cement_min_hu - 1)  # below the cores: no splits
    volume = CTVolume(np.rint(hu).astype(np.int16), (spacing,) * 3, ORIGIN)
    levels = candidate_thresholds(volume.spacing_mm, SETTINGS)
    reach = [int(r / s + 1e-6) for r, s in zip(levels.grow_reach_mm, volume.spacing_mm, strict=True)]
    min_voxels = math.ceil(SETTINGS.min_candidate_mm3 / volume.voxel_volume_mm3 - 1e-9)
    none = np.zeros(volume.shape, dtype=bool)
    expected, dense = _plain_hysteresis_components(
        volume.hu, levels.dense_seed_hu, levels.dense_grow_hu, reach, min_voxels, none
    )
    if spacing > 1:
        assert levels.faint_seed_hu is not None
        faint, _ = _plain_hysteresis_components(
            volume.hu, levels.faint_seed_hu, levels.faint_grow_hu, reach, min_voxels, dense
        )
        assert faint
        expected = sorted(expected, key=lambda f: f[0]) + sorted(faint, key=lambda f: f[0])
    else:
        assert levels.faint_seed_hu is None and len(expected) > 20
        expected = sorted(expected, key=lambda f: f[0])
    spans = [[np.unravel_index(flat, volume.shape)[axis] // 64 for axis in range(3)] for flat in expected]
    for axis in range(3):  # some components cross a 64-voxel slab (z) or block (y, x) boundary
        assert any(np.ptp(span[axis]) > 0 for span in spans)
    candidates = find_candidates(volume, SETTINGS)
    assert len(candidates) == len(expected)
    for candidate, flat in zip(candidates, expected, strict=True):
        np.testing.assert_array_equal(candidate.flat_index, flat)


def test_oblique_direction_geometry_in_lps():
    """A rotated grid: centroid and principal axis come out in LPS, not in array order."""
    spacing = (1.0, 1.0, 1.0)
    solid = tube(np.array(ORIGIN) + (5.0, 10.0, 10.0), np.array(ORIGIN) + (35.0, 10.0, 10.0), 2.0)
    axial = render((20, 20, 40), spacing, [(solid, 2500.0)], supersample=1)
    flipped_hu = np.ascontiguousarray(axial.hu[:, :, ::-1].transpose(2, 1, 0))  # x -> slice axis, reversed
    direction = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # columns: x, y, z index axes
    origin = (ORIGIN[0] + 39.0, ORIGIN[1], ORIGIN[2])
    rotated = CTVolume(flipped_hu, (1.0, 1.0, 1.0), origin, direction)
    (a,) = find_candidates(axial, SETTINGS)
    (b,) = find_candidates(rotated, SETTINGS)
    np.testing.assert_allclose(b.centroid_lps_mm, a.centroid_lps_mm, atol=1e-9)
    np.testing.assert_allclose(np.abs(b.principal_axis_lps), [1.0, 0.0, 0.0], atol=1e-9)
    assert b.length_mm == pytest.approx(a.length_mm)
    np.testing.assert_allclose(b.bbox_lps_mm, a.bbox_lps_mm, atol=1e-9)
