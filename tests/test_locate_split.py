"""Stage 4 on a hand-made spine scene with exact geometry (tests/locate_scene.py)."""

from __future__ import annotations

import numpy as np
import pytest
from locate_scene import (
    BODY_L2,
    IVC,
    SHAPE,
    anatomy_map,
    ball,
    box,
    candidate,
    volume_with,
)

from cementseg.anatomy.anatomy_map import STRUCTURES, AnatomyMap
from cementseg.locate import locate_findings
from cementseg.settings import Settings
from cementseg.volume import CTVolume

FILL = ball((24, 55, 50), 8)
CANAL_LEAK = box((slice(22, 27), slice(60, 80), slice(48, 53)))  # through the posterior wall (y = 70 mm)
DISC_LEAK = box((slice(30, 42), slice(53, 57), slice(48, 52)))  # through the upper endplate (z = 38 mm)
IVC_CAST = box((slice(20, 60), slice(22, 24), slice(18, 20)))  # 40 mm cranio-caudal, 2x2 mm, inside the IVC
EMBOLUS = ball((92, 40, 75), 2)  # in the lung, far from the spine
SCREW = box((slice(55, 60), slice(70, 90), slice(30, 34)))


def _flat(mask):
    return np.sort(np.flatnonzero(mask.reshape(-1)))


def _scene(levels=True, anatomy=None, settings=None):
    cement_mass = FILL | CANAL_LEAK | DISC_LEAK
    volume = volume_with(cement_mass, IVC_CAST, EMBOLUS, SCREW)
    candidates = [
        candidate(volume, cement_mass, 1),
        candidate(volume, IVC_CAST, 2),
        candidate(volume, EMBOLUS, 3),
        candidate(volume, SCREW, 4, material="metal"),
    ]
    components = locate_findings(candidates, volume, anatomy or anatomy_map(levels), settings or Settings())
    return volume, {c.location or c.material: c for c in components}, components


def test_mass_crossing_the_cortex_is_split_into_fill_and_located_leaks():
    _, by_location, components = _scene()
    assert [c.id for c in components] == list(range(1, len(components) + 1))
    fill = by_location["vertebral_body"]
    canal = by_location["spinal_canal"]
    disc = by_location["intradiscal"]
    body = box(BODY_L2)
    # The cut lies exactly on the body surface (y = 70 mm posteriorly, z = 38 mm at the endplate).
    assert np.array_equal(np.sort(fill.flat_index), _flat((FILL | CANAL_LEAK | DISC_LEAK) & body))
    assert np.array_equal(np.sort(canal.flat_index), _flat(CANAL_LEAK & ~body))
    assert np.array_equal(np.sort(disc.flat_index), _flat(DISC_LEAK & ~body))
    assert (fill.is_leak, fill.severity, fill.source_vertebra) == (False, "none", "L2")
    assert (canal.is_leak, canal.severity, canal.source_vertebra) == (True, "critical", "L2")
    assert (disc.is_leak, disc.severity, disc.source_vertebra) == (True, "info", "L2")
    assert canal.volume_ml == pytest.approx((CANAL_LEAK & ~body).sum() / 1000.0)
    assert canal.distance_to_vertebral_body_mm == 0.0
    assert canal.evidence["connected_to_fill"] is True
    assert canal.length_mm == pytest.approx(10.0, abs=0.5)  # y 70..79 mm, 10 voxels of 1 mm


def test_separate_ivc_cast_and_pulmonary_embolus_are_located_and_traced():
    # square bodies: no opening, so that the body corner stays where the distance is measured to
    _, by_location, _ = _scene(settings=Settings(body_opening_mm=0.0))
    ivc = by_location["inferior_vena_cava"]
    embolus = by_location["pulmonary_artery"]
    assert np.array_equal(np.sort(ivc.flat_index), _flat(IVC_CAST))
    assert ivc.severity == "critical" and ivc.is_leak
    assert ivc.length_mm == pytest.approx(40.0, abs=0.5)
    # nearest body surface: the right-anterior edge of L2 at x = 34, y = 40 mm from x = 19, y = 23 mm
    assert ivc.distance_to_vertebral_body_mm == pytest.approx(np.hypot(15, 17), abs=1.5)
    assert ivc.source_vertebra == "L2" and ivc.evidence["connected_to_fill"] is False
    assert embolus.severity == "critical"
    assert embolus.source_vertebra == "L2"  # the only cemented body


def test_metal_is_listed_but_never_a_leak():
    _, by_location, components = _scene()
    metal = by_location["metal"]
    assert (metal.is_leak, metal.location, metal.severity) == (False, None, "none")
    assert metal.voxel_count == SCREW.sum()
    assert components[-1] is metal  # non-cement after the cement components


def test_fill_bulging_through_the_coarse_mask_is_not_a_leak():
    bulge = ball((24, 60, 50), 10.4)  # reaches y = 70.4 mm: 1 voxel beyond the body's posterior wall
    assert (bulge & ~box(BODY_L2)).sum() > 0
    volume = volume_with(bulge)
    components = locate_findings([candidate(volume, bulge, 1)], volume, anatomy_map(), Settings())
    assert [(c.location, c.is_leak) for c in components] == [("vertebral_body", False)]
    assert components[0].voxel_count == bulge.sum()


def test_unknown_levels_give_no_level_names_but_keep_the_body_id():
    _, by_location, _ = _scene(levels=False)
    canal = by_location["spinal_canal"]
    assert canal.source_vertebra is None and canal.evidence["source_vertebra_id"] == 1
    assert "level unknown" in by_location["vertebral_body"].reason


def test_severity_comes_from_settings():
    severity = dict(Settings().severity, spinal_canal="warning")
    _, by_location, _ = _scene(settings=Settings(severity=severity))
    assert by_location["spinal_canal"].severity == "warning"


def test_ivc_cast_is_recognised_by_shape_when_the_anatomy_has_no_ivc():
    anatomy = anatomy_map()
    structures = anatomy.structures.copy()
    structures[structures == STRUCTURES["inferior_vena_cava"]] = STRUCTURES["soft_tissue"]
    no_ivc = AnatomyMap(structures, anatomy.vertebrae, anatomy.affine, anatomy.vertebra_levels)
    _, by_location, _ = _scene(anatomy=no_ivc)
    ivc = by_location["inferior_vena_cava"]
    assert "IVC region" in ivc.reason and ivc.confidence < 1.0


def test_paravertebral_tube_is_venous_and_blob_is_soft_tissue():
    fill = ball((24, 55, 50), 8)
    tube = box((slice(23, 26), slice(54, 57), slice(50, 78)))  # leaves the left wall (x = 64) for 14 mm
    blob = ball((24, 55, 68), 4) | box((slice(22, 27), slice(53, 58), slice(55, 66)))  # 4 mm ball on the wall
    for leak, expected in ((tube, "paravertebral_venous"), (blob, "paravertebral_soft_tissue")):
        volume = volume_with(fill | leak)
        components = locate_findings([candidate(volume, fill | leak, 1)], volume, anatomy_map(), Settings())
        leaks = [c for c in components if c.is_leak]
        assert [c.location for c in leaks] == [expected]
        assert np.array_equal(np.sort(leaks[0].flat_index), _flat(leak & ~box(BODY_L2)))


def test_result_does_not_depend_on_array_orientation():
    """The same patient stored with x and y reversed (direction cosines say so) gives the same answer."""
    volume, _, components = _scene()
    flipped = CTVolume(
        hu=volume.hu[:, ::-1, ::-1].copy(),
        spacing_mm=volume.spacing_mm,
        origin_lps_mm=(SHAPE[2] - 1.0, SHAPE[1] - 1.0, 0.0),
        direction=np.diag([-1.0, -1.0, 1.0]),
    )
    flip_index = np.arange(np.prod(SHAPE)).reshape(SHAPE)[:, ::-1, ::-1].reshape(-1)
    masks = [FILL | CANAL_LEAK | DISC_LEAK, IVC_CAST, EMBOLUS, SCREW]
    materials = ["cement", "cement", "cement", "metal"]
    candidates = [
        candidate(flipped, mask[:, ::-1, ::-1], i + 1, material)
        for i, (mask, material) in enumerate(zip(masks, materials, strict=True))
    ]
    again = locate_findings(candidates, flipped, anatomy_map(), Settings())
    summary = sorted((c.location or c.material, c.voxel_count, c.source_vertebra) for c in components)
    assert sorted((c.location or c.material, c.voxel_count, c.source_vertebra) for c in again) == summary
    for c in again:
        original = next(o for o in components if (o.location or o.material) == (c.location or c.material))
        assert np.array_equal(np.sort(flip_index[c.flat_index]), np.sort(original.flat_index))
        assert np.allclose(c.centroid_lps_mm, original.centroid_lps_mm)


def test_ivc_box_is_where_the_scene_says():
    # guards the scene itself: the cast lies inside the IVC box and outside every body
    assert (IVC_CAST & ~box(IVC)).sum() == 0


def test_touching_cement_candidates_are_split_as_one_mass():
    """Stage 1 cuts a faint thin leak off its fill on coarse voxels; stage 4 joins them again."""
    volume = volume_with(FILL | CANAL_LEAK)
    fill_part = (FILL | CANAL_LEAK) & box(BODY_L2)
    faint_part = CANAL_LEAK & ~box(BODY_L2)
    fill_candidate = candidate(volume, fill_part, 1)
    leak_candidate = candidate(volume, faint_part, 2)
    leak_candidate.evidence["touches"] = [1]
    components = locate_findings([fill_candidate, leak_candidate], volume, anatomy_map(), Settings())
    canal = next(c for c in components if c.is_leak)
    assert canal.location == "spinal_canal" and canal.evidence["connected_to_fill"] is True
    assert canal.source_vertebra == "L2" and canal.distance_to_vertebral_body_mm == 0.0
    assert np.array_equal(np.sort(canal.flat_index), _flat(faint_part))


def test_volumes_are_cement_volumes_from_stage_2_fractions():
    """Stage 2 gives each voxel its cement share; a part's volume is the sum over its own voxels."""
    mass = FILL | CANAL_LEAK
    volume = volume_with(mass)
    cement = candidate(volume, mass, 1)
    flat = cement.flat_index
    zyx = np.column_stack(np.unravel_index(flat, SHAPE))
    # half-filled voxels in the canal part (y >= 70 mm), whole voxels in the body
    cement.cement_fraction = np.where(zyx[:, 1] >= 70, 0.5, 1.0).astype(np.float32)
    components = locate_findings([cement], volume, anatomy_map(), Settings())
    fill, canal = sorted(components, key=lambda c: c.is_leak)
    leak_voxels = (CANAL_LEAK & ~box(BODY_L2)).sum()
    assert canal.voxel_count == leak_voxels
    assert canal.volume_ml == pytest.approx(0.5 * leak_voxels / 1000.0, rel=1e-6)
    assert canal.evidence["voxel_count_volume_ml"] == pytest.approx(leak_voxels / 1000.0)
    assert fill.volume_ml == pytest.approx((mass & box(BODY_L2)).sum() / 1000.0, rel=1e-6)


def test_cement_bulge_taken_into_the_body_mask_is_cut_off_by_the_opening():
    """An HU-based map can take a dense leak on the body wall for bone; the opening removes it."""
    fill = ball((24, 55, 49), 8)
    blob = box((slice(20, 32), slice(49, 61), slice(64, 76)))  # 12 mm out of the left wall (x = 64)
    volume = volume_with(fill | blob | box((slice(20, 30), slice(50, 60), slice(56, 64))))
    mass = fill | blob | box((slice(20, 30), slice(50, 60), slice(56, 64)))
    anatomy = anatomy_map()
    anatomy.vertebrae[10:16, 24:31, 32:38] = 1  # the map grew the body into the blob
    anatomy.structures[10:16, 24:31, 32:38] = STRUCTURES["vertebral_body"]
    leaks = [c for c in locate_findings([candidate(volume, mass, 1)], volume, anatomy, Settings()) if c.is_leak]
    assert [c.location for c in leaks] == ["paravertebral_soft_tissue"]
    leak = np.zeros(SHAPE, bool).reshape(-1)
    leak[leaks[0].flat_index] = True
    leak = leak.reshape(SHAPE)
    assert not (leak & ~blob).any()  # nothing of the fill
    beyond_cusp = blob.copy()
    beyond_cusp[:, :, :68] = False  # the opening leaves a cusp of up to 4 mm where the blob meets the wall
    assert not (beyond_cusp & ~leak).any()
    without_opening = locate_findings([candidate(volume, mass, 1)], volume, anatomy, Settings(body_opening_mm=0.0))
    assert not any(c.is_leak for c in without_opening)


def test_tributary_at_the_foot_of_an_ivc_cast_is_paravertebral_venous():
    """A plexus runs across, in one axial slab, from L2 into the IVC box of the map and a cast
    runs up the IVC from its end: the map's IVC takes in the plexus's last 12 mm, but only the
    cast's own cross-section there belongs to the cast; the rest of the run is the plexus."""
    start, end = np.array([24.0, 50.0, 44.0]), np.array([24.0, 22.0, 18.0])  # z, y, x mm
    plexus = np.zeros(SHAPE, bool)
    for t in np.linspace(0.0, 1.0, 80):
        plexus |= ball(start + t * (end - start), 1.5)
    cast = box((slice(24, 62), slice(21, 24), slice(17, 20)))  # 38 mm up the IVC, 3 x 3 mm
    mass = FILL | plexus | cast
    volume = volume_with(mass)
    components = locate_findings([candidate(volume, mass, 1)], volume, anatomy_map(), Settings())
    leaks = {c.location: c for c in components if c.is_leak}
    assert sorted(leaks) == ["inferior_vena_cava", "paravertebral_venous"]
    assert np.isin(_flat(cast), leaks["inferior_vena_cava"].flat_index).all()
    run = plexus & ~cast & ~box(BODY_L2)
    in_ivc_box = _flat(run & box(IVC))
    assert len(in_ivc_box) > 50  # the map's IVC does take in a long stretch of the plexus
    z, y, x = np.unravel_index(np.intersect1d(_flat(run), leaks["inferior_vena_cava"].flat_index), SHAPE)
    # only the cast's own cross-section
    assert np.hypot(y - 22.0, x - 18.0).max() <= Settings().venous_max_thickness_mm
    in_plexus = np.isin(_flat(run), leaks["paravertebral_venous"].flat_index)
    assert in_plexus.mean() >= 0.8, in_plexus.mean()  # the rest: the cast's cross-section, the fill margin
