"""What a detector sees: CT numbers per structure, noise texture, partial volume, placement, seeds."""

import numpy as np
import pytest
from scipy import ndimage

from cementseg.phantom import generate
from cementseg.vocabulary import LOCATION_CODES, MATERIAL_TRUTH_CODES

SPACING = (2.0, 1.5, 1.5)


@pytest.fixture(scope="module")
def plain():
    return generate("clean_fill", seed=5, spacing_mm=SPACING)


def _median_hu(case, name, erode=2):
    mask = ndimage.binary_erosion(case.anatomy[name], iterations=erode)
    assert mask.sum() > 30, name
    return float(np.median(case.volume.hu[mask]))


@pytest.mark.parametrize(("name", "low", "high"), [
    ("subcutaneous_fat", -120, -60),       # CLINICAL.md: fat -120 to -60
    ("autochthon_left", 35, 60),           # muscle
    ("inferior_vena_cava", 35, 60),        # unenhanced blood
    ("aorta", 35, 60),
    ("lung_lower_lobe_right", -900, -800),
    ("intervertebral_discs", 60, 110),
    ("liver", 45, 70),
])
def test_unenhanced_structures_have_their_documented_hu(plain, name, low, high):
    assert low <= _median_hu(plain, name) <= high


def test_bone_and_cement_hu(plain):
    hu, anatomy = plain.volume.hu, plain.anatomy
    uncemented = ndimage.binary_erosion((anatomy.vertebral_body == 1) & anatomy["vertebrae_L3"], iterations=2)
    assert 50 <= np.median(hu[uncemented]) <= 160            # osteoporotic cancellous bone
    cortex_peak = np.percentile(hu[anatomy["vertebrae_L3"]], 99.5)
    assert cortex_peak >= 500                                # thin cortex, partial-volumed
    fill = plain.truth == LOCATION_CODES["vertebral_body"]
    assert 1500 <= np.median(hu[ndimage.binary_erosion(fill)]) <= 3071
    calcium = plain.truth == MATERIAL_TRUTH_CODES["calcification"]
    assert calcium.any() and 130 <= np.median(hu[calcium]) <= 1100


def test_metal_saturates_and_streaks():
    small = {"spacing_mm": (2.5, 2.0, 2.0), "shape": (40, 120, 120), "centre_lps_mm": (0.0, 40.0, 0.0)}
    case = generate("hardware_no_cement", seed=5, **small)
    metal = case.truth == MATERIAL_TRUTH_CODES["metal"]
    assert np.median(case.volume.hu[metal]) >= 2500
    assert case.volume.hu.max() == 3071
    quiet = generate("hardware_no_cement", seed=5, streaks=False, **small)
    streaks = np.abs(case.volume.hu.astype(int) - quiet.volume.hu)
    distance = ndimage.distance_transform_edt(~metal, sampling=small["spacing_mm"])
    muscle = case.anatomy["autochthon_left"] | case.anatomy["autochthon_right"]
    assert np.percentile(streaks[muscle & (distance < 30)], 95) > 60    # bright and dark bands by the screws
    assert np.percentile(streaks[distance > 90], 95) < 40               # fading far away


def test_contrast_phases():
    ctpa = generate("ctpa_no_cement", seed=2, spacing_mm=(3.0, 2.5, 2.5))
    assert _median_hu(ctpa, "superior_vena_cava", 1) >= 1500
    assert 300 <= _median_hu(ctpa, "pulmonary_artery", 1) <= 600
    assert 200 <= _median_hu(ctpa, "aorta") <= 400
    dense = ctpa.truth == MATERIAL_TRUTH_CODES["contrast"]
    assert dense[ctpa.anatomy["superior_vena_cava"]].mean() > 0.9
    venous = generate("clean_fill", seed=2, spacing_mm=(3.0, 2.5, 2.5), shape=(30, 128, 128), phase="portal_venous")
    assert 150 <= _median_hu(venous, "aorta") <= 200
    assert 90 <= _median_hu(venous, "liver") <= 120


def test_noise_is_correlated_not_white(plain):
    liver = ndimage.binary_erosion(plain.anatomy["liver"], iterations=4)
    residual = plain.volume.hu.astype(float) - np.median(plain.volume.hu[liver])
    pairs = liver[:, :, :-1] & liver[:, :, 1:]
    lag1 = np.corrcoef(residual[:, :, :-1][pairs], residual[:, :, 1:][pairs])[0, 1]
    assert 0.2 < lag1 < 0.7
    assert 5 <= residual[liver].std() <= 30


def test_anatomy_sits_where_a_radiologist_expects_it(plain):
    """LPS: spine posterior-midline, aorta left-anterior, IVC right-anterior of the bodies."""
    def centroid(mask):
        return plain.volume.index_to_lps(np.argwhere(mask).mean(axis=0))

    z_l2 = np.abs(plain.volume.index_to_lps(np.c_[np.arange(plain.volume.shape[0]), np.zeros((plain.volume.shape[0], 2))])[:, 2]
                  - plain.manifest["level_z_mm"]["L2"]).argmin()
    sl = np.zeros(plain.volume.shape, bool)
    sl[z_l2] = True
    body = centroid(sl & (plain.anatomy.vertebral_body == 1))
    aorta, ivc = centroid(sl & plain.anatomy["aorta"]), centroid(sl & plain.anatomy["inferior_vena_cava"])
    assert abs(body[0]) < 2 and body[1] > 20                        # midline, posterior of the torso centre
    assert aorta[0] - body[0] > 10 and body[1] - aorta[1] > 15      # left (+x) and anterior (-y)
    assert 15 <= body[0] - ivc[0] <= 40 and 15 <= body[1] - ivc[1] <= 45  # right and anterior
    assert plain.volume.direction.tolist() == np.eye(3).tolist()


def test_thin_leak_fades_on_coarse_voxels():
    """A 2 mm IVC cast: its peak HU falls as the voxels grow (partial volume)."""
    peaks = []
    for spacing in [(0.8, 0.8, 0.8), (2.0, 2.0, 2.0), (3.0, 3.0, 3.0)]:
        case = generate("ivc_linear_leak", seed=4, spacing_mm=spacing, shape=(int(60 / spacing[0]), 40, 40),
                        centre_lps_mm=(-28.0, 4.0, 25.0), noise=False, streaks=False, phase="non_contrast")
        cast = next(leak for leak in case.manifest["leaks"] if leak["location"] == "inferior_vena_cava")
        voxels = np.argwhere(case.instances == cast["id"])
        upper = voxels[voxels[:, 0] > np.median(voxels[:, 0])]  # away from where the plexus joins it
        peaks.append(int(case.volume.hu[tuple(upper.T)].max()))
    assert peaks[0] > peaks[1] > peaks[2]
    assert peaks[0] > 1500 and peaks[2] < 0.6 * peaks[0]


def test_same_seed_same_case_other_seed_other_case():
    small = {"spacing_mm": (3.0, 3.0, 3.0), "shape": (40, 90, 90), "centre_lps_mm": (0.0, 0.0, 100.0)}
    a = generate("pulmonary_emboli_only", seed=7, **small)
    b = generate("pulmonary_emboli_only", seed=7, **small)
    c = generate("pulmonary_emboli_only", seed=8, **small)
    assert np.array_equal(a.volume.hu, b.volume.hu) and np.array_equal(a.truth, b.truth)
    assert a.manifest == b.manifest
    assert not np.array_equal(a.volume.hu, c.volume.hu)
    assert [leak["centroid_lps_mm"] for leak in a.manifest["leaks"]] != [leak["centroid_lps_mm"] for leak in c.manifest["leaks"]]


def test_confounders_are_where_they_belong():
    ctpa = generate("ctpa_no_cement", seed=1, spacing_mm=(3.0, 3.0, 3.0))
    described = " ".join(c["description"] for c in ctpa.manifest["confounders"])
    for thing in ("stent graft", "sternal cerclage wire", "pacemaker lead", "calcified plaque", "dense intravenous contrast"):
        assert thing in described
    lead = next(c for c in ctpa.manifest["confounders"] if "pacemaker" in c["description"])
    tip = ctpa.instances == lead["id"]
    heart = ctpa.anatomy["heart_ventricle_right"] | ctpa.anatomy["heart_atrium_right"] | ctpa.anatomy["superior_vena_cava"]
    assert heart[tip].mean() > 0.3                                     # the lead runs through SVC and right heart
    hip = generate("clean_fill", seed=1, spacing_mm=(3.0, 3.0, 3.0), shape=(40, 80, 80), centre_lps_mm=(-92.0, 10.0, -280.0),
                   extra_confounders=("hip_prosthesis",))
    prosthesis = next(c for c in hip.manifest["confounders"] if "hip prosthesis" in c["description"])
    assert prosthesis["material"] == "metal" and prosthesis["volume_ml"] > 20
    assert prosthesis["centroid_lps_mm"][0] < 0                       # right side: LPS x < 0
