"""`--anatomy-engine totalsegmentator`: one-line failure when it is absent, weights rules, the cache.

TotalSegmentator is not installed in the test environment (it pulls torch and weights): the
"not installed" path is exercised for real, and the cache with TotalSegmentator's real output
for the DICOM series of ../shared/data/totalseg_example, copied where a run would have put it.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from cementseg.cli import main
from click.testing import CliRunner

from cementseg.anatomy.totalsegmentator import (
    AnatomyEngineUnavailable,
    cache_path,
    check_available,
    missing_weights,
    weights_dir,
)
from cementseg.errors import AnatomyError, SettingsError
from cementseg.io import load
from cementseg.pipeline import scan
from cementseg.volume import CTVolume


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """An empty TotalSegmentator weights folder, whatever this machine has installed."""
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    return tmp_path / "weights"


def _small_ct() -> CTVolume:
    hu = np.full((8, 16, 16), -1000, np.int16)
    hu[2:6, 4:12, 4:12] = 40
    return CTVolume(
        hu=hu,
        spacing_mm=(2.0, 2.0, 2.0),
        origin_lps_mm=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        meta={"series_uid": "1.2.3"},
    )


def test_absent_engine_fails_with_one_line_saying_what_to_install(no_weights, tmp_path):
    with pytest.raises(AnatomyEngineUnavailable) as error:
        scan(_small_ct(), anatomy_engine="totalsegmentator", anatomy_cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and "pip install 'TotalSegmentator>=2'" in message
    assert "totalseg_download_weights -t total" in message
    if importlib.util.find_spec("totalsegmentator") is None:  # this environment: the package is absent
        assert "package is not installed" in message
    else:
        assert str(no_weights) in message
    assert not (tmp_path / "cache").exists()  # nothing computed, nothing cached


def test_cli_exit_code_3_and_one_line(no_weights, tmp_path):
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(_small_ct().to_sitk(), str(path))
    result = CliRunner().invoke(main, ["scan", str(path), "--anatomy-engine", "totalsegmentator", "--quiet"])
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "TotalSegmentator" in lines[0] and "pip install" in lines[0]


def test_weights_found_where_totalsegmentator_keeps_them(tmp_path, monkeypatch):
    monkeypatch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))
    assert weights_dir() == tmp_path / "home" / "nnunet" / "results"
    (weights_dir() / "Dataset297_TotalSegmentator_total_3mm_1559subj").mkdir(parents=True)
    assert missing_weights(fast=True) == []
    assert missing_weights(fast=False) == [291, 292, 293, 294, 295]
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "elsewhere"))  # takes precedence
    assert weights_dir() == tmp_path / "elsewhere" and missing_weights(fast=True) == [297]
    with pytest.raises(AnatomyEngineUnavailable):
        check_available(fast=True)


def test_cache_key_separates_series_grids_and_models(tmp_path):
    ct = _small_ct()
    moved = CTVolume(
        hu=ct.hu,
        spacing_mm=ct.spacing_mm,
        origin_lps_mm=(0.0, 0.0, 5.0),
        direction=np.eye(3),
        meta={"series_uid": "1.2.3"},
    )
    other = CTVolume(
        hu=ct.hu,
        spacing_mm=ct.spacing_mm,
        origin_lps_mm=ct.origin_lps_mm,
        direction=np.eye(3),
        meta={"series_uid": "1.2.4"},
    )
    paths = {cache_path(tmp_path, v, fast) for v in (ct, moved, other) for fast in (False, True)}
    assert len(paths) == 6 and all(p.parent == tmp_path and p.name.endswith(".nii.gz") for p in paths)
    assert "1.2.3" in cache_path(tmp_path, ct, False).name


def test_bad_engine_requests_are_refused():
    with pytest.raises(SettingsError, match="unknown anatomy engine"):
        scan(_small_ct(), anatomy_engine="deepspine")
    with pytest.raises(SettingsError, match="not both"):
        scan(_small_ct(), anatomy="labels.nii.gz", anatomy_engine="totalsegmentator")


@pytest.fixture(scope="module")
def dicom_series(totalseg_example):
    return load(totalseg_example / "dicom")


def test_cached_output_is_used_without_totalsegmentator(totalseg_example, dicom_series, tmp_path, no_weights):
    """TotalSegmentator's real v2 output for the DICOM series, pre-seeded in the cache, is read back."""
    cached = cache_path(tmp_path, dicom_series, fast=False)
    shutil.copyfile(totalseg_example / "dicom_seg_v2.nii.gz", cached)
    findings = scan(dicom_series, anatomy_engine="totalsegmentator", anatomy_cache_dir=tmp_path)
    assert findings.anatomy_source["vertebral_levels"] == "totalsegmentator"
    assert findings.anatomy_source["inferior_vena_cava"] == "totalsegmentator"
    assert findings.anatomy_source["aorta"] == "totalsegmentator"
    assert any("level names from the external labels" in w for w in findings.warnings)
    # the --fast model has its own cache entry: not there, and nothing to run it with
    with pytest.raises(AnatomyEngineUnavailable):
        scan(dicom_series, anatomy_engine="totalsegmentator", anatomy_cache_dir=tmp_path, totalseg_fast=True)


def test_cached_output_on_another_place_is_refused(totalseg_example, dicom_series, tmp_path):
    labels = sitk.ReadImage(str(totalseg_example / "dicom_seg_v2.nii.gz"))
    labels.SetOrigin(tuple(o + 1000.0 for o in labels.GetOrigin()))
    sitk.WriteImage(labels, str(cache_path(tmp_path, dicom_series, fast=False)))
    with pytest.raises(AnatomyError, match="do not overlap"):
        scan(dicom_series, anatomy_engine="totalsegmentator", anatomy_cache_dir=tmp_path)


FAKE_API = '''
import os
import shutil

CALLS = []


def totalsegmentator(input, output, **options):
    """Stands in for TotalSegmentator: its real output for the DICOM series, and a call log."""
    CALLS.append(options)
    shutil.copyfile(os.environ["CEMENTSEG_TEST_TOTALSEG_OUTPUT"], output)
'''


@pytest.fixture
def installed_stand_in(tmp_path, monkeypatch, totalseg_example):
    """A stand-in `totalsegmentator` package (version 2.4.0) with weights folders, on sys.path."""
    import sys

    site = tmp_path / "site"
    (site / "totalsegmentator").mkdir(parents=True)
    (site / "totalsegmentator" / "__init__.py").write_text("")
    (site / "totalsegmentator" / "python_api.py").write_text(FAKE_API)
    (site / "TotalSegmentator-2.4.0.dist-info").mkdir()
    (site / "TotalSegmentator-2.4.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: TotalSegmentator\nVersion: 2.4.0\n"
    )
    for dataset in (291, 292, 293, 294, 295):
        (tmp_path / "weights" / f"Dataset{dataset}_TotalSegmentator_part").mkdir(parents=True)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    monkeypatch.setenv("CEMENTSEG_TEST_TOTALSEG_OUTPUT", str(totalseg_example / "dicom_seg_v2.nii.gz"))
    monkeypatch.syspath_prepend(str(site))
    for name in [m for m in sys.modules if m.startswith("totalsegmentator")]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [m for m in sys.modules if m.startswith("totalsegmentator")]:
        del sys.modules[name]


def test_run_once_then_read_from_the_cache(installed_stand_in, dicom_series, tmp_path):
    from totalsegmentator import python_api

    out = tmp_path / "results"
    options = {"anatomy_engine": "totalsegmentator", "anatomy_cache_dir": out, "totalseg_device": "cpu",
               "totalseg_level_crosscheck": False}
    first = scan(dicom_series, **options)
    assert python_api.CALLS == [{"ml": True, "fast": False, "task": "total", "device": "cpu", "quiet": True}]
    assert [p.name for p in out.iterdir()] == [cache_path(out, dicom_series, fast=False).name]
    second = scan(dicom_series, **options)
    assert len(python_api.CALLS) == 1  # the re-run read the cache
    assert first.anatomy_source == second.anatomy_source
    assert first.anatomy_source["vertebral_levels"] == "totalsegmentator"
    with pytest.raises(SettingsError, match="totalseg_device"):
        scan(dicom_series, **{**options, "totalseg_device": "tpu"})
