"""Every scenario: truth label volume, instance volume and manifest agree, voxel for voxel."""

import numpy as np
import pytest
from scipy import ndimage

from cementseg.phantom import SCENARIOS, generate
from cementseg.vocabulary import LOCATION_CODES, MATERIAL_TRUTH_CODES

SPACING = (2.5, 2.0, 2.0)

#: leak locations each scenario must contain (exactly this set)
EXPECTED_LEAKS = {
    "clean_fill": set(),
    "hardware_no_cement": set(),
    "ctpa_no_cement": set(),
    "ivc_linear_leak": {"paravertebral_venous", "inferior_vena_cava"},
    "ivc_and_pulmonary": {"paravertebral_venous", "inferior_vena_cava", "pulmonary_artery"},
    "paravertebral_to_lungs": {"paravertebral_venous", "azygos_system", "right_heart", "pulmonary_artery"},
    "intradural": {"spinal_canal"},
    "pulmonary_emboli_only": {"pulmonary_artery"},
    "intradiscal": {"intradiscal"},
    "minor_leaks": {"needle_tract", "paravertebral_soft_tissue", "neural_foramen", "spinal_canal"},
}

#: where (anatomy label) most of a leak's truth voxels must lie
LEAK_ANATOMY = {
    "inferior_vena_cava": {"inferior_vena_cava"},
    "pulmonary_artery": {"pulmonary_artery"},
    "spinal_canal": {"spinal_canal", "spinal_cord"},
    "intradiscal": {"intervertebral_discs"},
    "azygos_system": {"azygos_vein"},
    "right_heart": {"heart_ventricle_right", "heart_atrium_right"},
}


def test_every_scenario_is_checked():
    assert set(EXPECTED_LEAKS) == set(SCENARIOS)


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def case(request):
    return generate(request.param, seed=3, spacing_mm=SPACING)


def _objects(manifest):
    return manifest["fills"] + manifest["leaks"] + [c for c in manifest["confounders"] if c["id"]]


def test_manifest_objects_are_their_truth_voxels(case):
    m = case.manifest
    voxel_ml = case.volume.voxel_volume_mm3 / 1000
    for obj in _objects(m):
        mask = case.instances == obj["id"]
        assert mask.sum() == obj["n_voxels"] > 0, obj["description"]
        assert obj["volume_ml"] == pytest.approx(mask.sum() * voxel_ml, abs=1e-5)
        code = obj["location_code"] if "location_code" in obj else obj["truth_code"]
        assert np.all(case.truth[mask] == code), obj["description"]
    assert set(np.unique(case.instances)) - {0} == {obj["id"] for obj in _objects(m)}
    # truth voxels without an instance are dense intravenous contrast only (id 0 in the manifest)
    loose = case.truth[case.instances == 0]
    assert set(np.unique(loose)) <= {0, MATERIAL_TRUTH_CODES["contrast"]}
    phase_contrast = [c for c in m["confounders"] if c["id"] == 0]
    assert int((loose > 0).sum()) == (phase_contrast[0]["n_voxels"] if phase_contrast else 0)


def test_truth_volume_equals_rendered_geometry(case):
    """Within 2% (plus the half voxel of rounding), except where another object took voxels."""
    voxel_ml = case.volume.voxel_volume_mm3 / 1000
    for obj in case.manifest["fills"] + case.manifest["leaks"]:
        mask = case.instances == obj["id"]
        ring = ndimage.binary_dilation(mask) & ~mask
        shared = np.any((case.instances[ring] != 0) & (case.instances[ring] != obj["id"]))
        tolerance = 0.02 * obj["geometric_volume_ml"] + 0.5 * voxel_ml
        sz, sy, sx = case.volume.spacing_mm
        cross_section_mm2 = obj["geometric_volume_ml"] * 1000 / max(obj["length_mm"], 1e-6)
        bulky = cross_section_mm2 > 2 * max(sz * sx, sy * sx) and obj["geometric_volume_ml"] > 10 * voxel_ml
        if not bulky:  # thinner than a voxel: the centre line keeps it connected and may add voxels
            assert obj["volume_ml"] >= obj["geometric_volume_ml"] - tolerance - (0.1 * obj["volume_ml"] if shared else 0)
        elif shared:  # metal through a fill, or leak meeting fill: the contested voxels go to one
            assert 0.8 * obj["geometric_volume_ml"] - tolerance <= obj["volume_ml"] <= obj["geometric_volume_ml"] + tolerance
        else:
            assert obj["volume_ml"] == pytest.approx(obj["geometric_volume_ml"], abs=tolerance), obj["description"]


def test_leaks_are_the_scenarios_and_lie_in_their_anatomy(case):
    m = case.manifest
    assert {leak["location"] for leak in m["leaks"]} == EXPECTED_LEAKS[m["scenario"]]
    assert m["outside_field_of_view"] == []
    codes = case.anatomy.codes
    for leak in m["leaks"]:
        assert leak["location_code"] == LOCATION_CODES[leak["location"]]
        assert leak["source_vertebra"] in m["cemented_levels"]
        assert leak["length_mm"] > 0 and leak["severity"] in ("info", "warning", "critical")
        if leak["location"] in LEAK_ANATOMY:
            labels = case.anatomy.labels[case.instances == leak["id"]]
            inside = np.isin(labels, [codes[name] for name in LEAK_ANATOMY[leak["location"]]])
            assert inside.mean() >= 0.6, (leak["description"], inside.mean())


def test_negative_controls_hold_no_cement(case):
    m = case.manifest
    cement = np.isin(case.truth, list(LOCATION_CODES.values()))
    if m["scenario"] in ("hardware_no_cement", "ctpa_no_cement"):
        assert not cement.any() and m["cemented_levels"] == []
        assert (case.truth == MATERIAL_TRUTH_CODES["metal"]).any()
    else:
        assert m["cemented_levels"] and (case.truth == LOCATION_CODES["vertebral_body"]).any()
    if m["scenario"] == "clean_fill":
        assert set(np.unique(case.truth[cement])) == {LOCATION_CODES["vertebral_body"]}


def test_fills_lie_in_their_vertebral_bodies(case):
    for fill in case.manifest["fills"]:
        mask = case.instances == fill["id"]
        body = case.anatomy[f"vertebrae_{fill['level']}"] & (case.anatomy.vertebral_body == 1)
        assert body[mask].mean() > 0.97
        assert 1.5 <= fill["geometric_volume_ml"] <= 8.0


def test_thin_ivc_cast_volume_matches_geometry_on_fine_voxels():
    """The 2 mm wide IVC cast on 0.4 mm voxels: truth volume within 2% of the geometry."""
    coarse = generate("ivc_linear_leak", seed=1, spacing_mm=(3.0, 3.0, 3.0), noise=False)
    cast = next(leak for leak in coarse.manifest["leaks"] if leak["location"] == "inferior_vena_cava")
    fine = generate("ivc_linear_leak", seed=1, spacing_mm=(0.4, 0.4, 0.4), shape=(160, 50, 50), noise=False,
                    centre_lps_mm=cast["centroid_lps_mm"])
    leak = next(leak for leak in fine.manifest["leaks"] if leak["location"] == "inferior_vena_cava")
    assert leak["volume_ml"] == pytest.approx(leak["geometric_volume_ml"], rel=0.02)
    tube = np.pi * 1.0**2 * leak["length_mm"] / 1000
    assert leak["geometric_volume_ml"] == pytest.approx(tube, rel=0.15)  # joints and clipping by the FOV
