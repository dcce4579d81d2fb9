"""sample_data/ is what `python -m cementseg.phantom.samples` writes today (the demo reads it)."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from cementseg.io import load
from cementseg.phantom import generate
from cementseg.phantom.samples import SAMPLE_SHAPE, SAMPLE_SPACING_MM, SAMPLES

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def test_sample_folder_is_small_and_complete():
    total = sum(p.stat().st_size for p in SAMPLE_DATA.rglob("*") if p.is_file())
    assert total < 25e6
    for scenario, _ in SAMPLES:
        assert len(list((SAMPLE_DATA / scenario).glob("*.dcm"))) == SAMPLE_SHAPE[0]
        assert not list((SAMPLE_DATA / scenario).glob("*.nii*"))      # only the series: scan finds nothing else
        assert (SAMPLE_DATA / "truth" / scenario / "manifest.json").is_file()


def test_demo_sample_is_up_to_date_with_the_generator():
    scenario, seed = SAMPLES[0]
    assert scenario == "ivc_linear_leak"                                # `make demo` scans this one
    case = generate(scenario, seed, spacing_mm=SAMPLE_SPACING_MM, shape=SAMPLE_SHAPE)
    loaded = load(SAMPLE_DATA / scenario)
    assert np.array_equal(loaded.hu, case.volume.hu), "sample_data is stale: run python -m cementseg.phantom.samples"
    assert np.allclose(loaded.affine, case.volume.affine, atol=1e-3)
    truth = np.asarray(nib.load(SAMPLE_DATA / "truth" / scenario / "truth.nii.gz").dataobj).transpose(2, 1, 0)
    assert np.array_equal(truth, case.truth)
    manifest = json.loads((SAMPLE_DATA / "truth" / scenario / "manifest.json").read_text())
    assert {leak["location"] for leak in manifest["leaks"]} == {"paravertebral_venous", "inferior_vena_cava"}
