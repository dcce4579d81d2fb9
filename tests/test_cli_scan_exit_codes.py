"""`cementseg scan`: outputs, exit codes and one-line errors.

End to end on a phantom DICOM series (clean_fill at 3 mm, a negative control: no leak may be
reported), and exit codes with a known set of findings (the hand-made scene of locate_scene.py).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import click
import numpy as np
import pytest
import SimpleITK as sitk
from cementseg.cli import main
from cementseg.cli.common import one_line_errors
from click.testing import CliRunner
from locate_scene import anatomy_map, ball, box, candidate, volume_with

import cementseg.pipeline
from cementseg.errors import InputError
from cementseg.findings import Findings
from cementseg.locate import locate_findings
from cementseg.pipeline import _input_block
from cementseg.settings import Settings


@pytest.fixture(scope="module")
def clean_fill_series(tmp_path_factory):
    from cementseg.phantom import generate
    from cementseg.phantom.writers import write_dicom_series

    case = generate("clean_fill", seed=0, spacing_mm=(3.0, 3.0, 3.0))
    folder = tmp_path_factory.mktemp("clean_fill") / "ct"
    write_dicom_series(case.volume, folder, uid_seed="test/clean_fill", series_description="clean fill")
    return folder, case


def test_scan_writes_json_labels_and_out_folder_on_the_series_grid(clean_fill_series, tmp_path):
    folder, case = clean_fill_series
    labels_path = tmp_path / "labels.nii.gz"
    result = CliRunner().invoke(
        main,
        [
            "scan",
            str(folder),
            "--json",
            "-",
            "--labels",
            str(labels_path),
            "--out",
            str(tmp_path / "out"),
            "--fail-on",
            "info",
        ],
    )
    assert result.exit_code == 0, result.output  # no leak on the negative control
    findings = json.loads(result.stdout)  # the verdict goes to stderr with --json -
    assert findings["schema"] == "cementseg.findings/1"
    assert findings["summary"]["leak_count"] == 0
    assert findings["summary"]["cemented_levels"] == case.manifest["cemented_levels"]
    assert findings["input"]["shape_zyx"] == list(case.volume.shape)
    assert set(findings["timing_s"]) >= {"load", "candidates", "anatomy", "materials", "locate", "total"}

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    series = reader.Execute()
    for path in (labels_path, tmp_path / "out" / "labels.nii.gz"):
        labels = sitk.ReadImage(str(path))
        assert labels.GetSize() == series.GetSize()
        assert np.allclose(labels.GetSpacing(), series.GetSpacing(), atol=1e-4)
        assert np.allclose(labels.GetOrigin(), series.GetOrigin(), atol=1e-3)
        assert np.allclose(labels.GetDirection(), series.GetDirection(), atol=1e-6)
        ids = set(np.unique(sitk.GetArrayFromImage(labels)).tolist())
        assert ids == {0} | {c["id"] for c in findings["components"]}
    assert json.loads((tmp_path / "out" / "findings.json").read_text())["summary"] == findings["summary"]


def test_scan_in_a_process_of_its_own_leaves_whole_outputs(clean_fill_series, tmp_path):
    """The command's process skips the garbage collections at exit (cli.main): outputs are whole."""
    folder, case = clean_fill_series
    result = subprocess.run(
        [sys.executable, "-c", "from cementseg.cli import main; main()", "scan", str(folder), "--json", "-",
         "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings["summary"]["cemented_levels"] == case.manifest["cemented_levels"]
    written = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert {k: v for k, v in written.items() if k != "timing_s"} == {
        k: v for k, v in findings.items() if k != "timing_s"
    }
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "labels.nii.gz")))
    assert labels.shape == case.volume.shape
    assert set(np.unique(labels).tolist()) == {0} | {c["id"] for c in findings["components"]}
    assert result.stderr.strip() == f"No cement leak found; cement in vertebral bodies: " \
        f"{', '.join(case.manifest['cemented_levels'])}."


def test_scan_prints_a_table_and_a_verdict_or_only_the_verdict(clean_fill_series):
    folder, case = clean_fill_series
    result = CliRunner().invoke(main, ["scan", str(folder)])
    assert result.exit_code == 0
    assert "vertebral_body" in result.output and "No cement leak found" in result.output
    quiet = CliRunner().invoke(main, ["scan", str(folder), "--quiet"])
    assert quiet.output.strip().splitlines() == [
        f"No cement leak found; cement in vertebral bodies: {', '.join(case.manifest['cemented_levels'])}."
    ]


def _scene_findings() -> Findings:
    """Findings with a critical (spinal canal) and an info (disc) leak."""
    fill = ball((24, 55, 50), 8)
    canal = box((slice(22, 27), slice(60, 80), slice(48, 53)))
    disc = box((slice(30, 42), slice(53, 57), slice(48, 52)))
    volume = volume_with(fill | canal | disc)
    components = locate_findings(
        [candidate(volume, fill | canal | disc, 1)], volume, anatomy_map(), Settings()
    )
    return Findings(components, _input_block(volume, "scene"), Settings())


def test_scan_pauses_the_garbage_collector_only_while_it_scans(monkeypatch, tmp_path):
    findings = _scene_findings()
    collecting = []  # whether the collector was on during the scan

    def scan(*args, **kwargs):
        collecting.append(gc.isenabled())
        return findings

    monkeypatch.setattr(cementseg.pipeline, "scan", scan)
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--quiet", "--fail-on", "never"])
    assert result.exit_code == 0 and collecting == [False] and gc.isenabled()


@pytest.mark.parametrize(
    ("fail_on", "severity_of_canal", "exit_code"),
    [
        ("critical", "critical", 1),
        ("warning", "critical", 1),
        ("never", "critical", 0),
        ("critical", "warning", 0),  # the canal leak configured down to warning: nothing critical left
        ("info", "warning", 1),  # the disc leak is info
    ],
)
def test_fail_on_sets_the_exit_code(monkeypatch, tmp_path, fail_on, severity_of_canal, exit_code):
    findings = _scene_findings()
    for c in findings.components:
        if c.location == "spinal_canal":
            c.severity = severity_of_canal
    monkeypatch.setattr(cementseg.pipeline, "scan", lambda *args, **kwargs: findings)
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--fail-on", fail_on, "--quiet"])
    assert result.exit_code == exit_code, result.output
    assert result.output.startswith("2 cement leak(s)")


def test_input_and_usage_errors_are_one_line_with_their_exit_codes(tmp_path):
    (tmp_path / "notes.txt").write_text("not a CT")
    result = CliRunner().invoke(main, ["scan", str(tmp_path)])
    assert result.exit_code == 3
    assert result.output.startswith("cementseg: error:") and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert CliRunner().invoke(main, ["scan", str(tmp_path / "absent")]).exit_code == 2
    assert CliRunner().invoke(main, ["scan", str(tmp_path), "--fail-on", "sometimes"]).exit_code == 2


def test_internal_errors_exit_4_without_traceback(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cementseg.pipeline, "scan", broken)
    result = CliRunner().invoke(main, ["scan", str(tmp_path)])
    assert result.exit_code == 4
    assert result.output.strip() == "cementseg: internal error: ZeroDivisionError: division by zero"


def _scene_with_metal() -> Findings:
    """The scene's findings plus one metal look-alike (a screw) with a reason of its own."""
    from dataclasses import replace

    scene = _scene_findings()
    leak = next(c for c in scene.components if c.is_leak)
    screw = replace(
        leak, id=len(scene.components) + 1, material="metal", location=None, is_leak=False,
        severity="none", reason="pedicle screw: streaks and HU above cement",
    )
    return Findings([*scene.components, screw], scene.input, Settings())


def test_default_table_lists_cement_only_and_counts_the_rest(monkeypatch, tmp_path):
    findings = _scene_with_metal()
    leaks = [c for c in findings.components if c.is_leak]
    monkeypatch.setattr(cementseg.pipeline, "scan", lambda *args, **kwargs: findings)
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "pedicle screw" not in result.output  # non-cement rows and their reasons are not listed
    assert "Not cement: 1 metal candidate(s) (--all lists them)." in lines
    for leak in leaks:  # one reason line per leak under the table
        assert f"  {leak.id}: {leak.reason}" in lines
    assert "location" in lines[2] and "reason" not in lines[2]  # the header row: no reason column
    assert lines[-1].startswith("2 cement leak(s)")  # the verdict comes last

    every = CliRunner().invoke(main, ["scan", str(tmp_path), "--fail-on", "never", "--all"])
    assert every.exit_code == 0, every.output
    assert "metal" in every.output and "pedicle screw" in every.output and "Not cement" not in every.output
    assert every.output.splitlines()[-1].startswith("2 cement leak(s)")


def _command(error: BaseException):
    @click.command()
    @one_line_errors
    def command():
        raise error

    return command


def test_one_line_errors_maps_any_command_to_exit_codes():
    internal = CliRunner().invoke(_command(KeyError("level")), [])
    assert internal.exit_code == 4
    assert internal.output.strip() == "cementseg: internal error: KeyError: 'level'"
    bad_input = CliRunner().invoke(_command(InputError("ct.nii.gz: not a CT")), [])
    assert bad_input.exit_code == 3
    assert bad_input.output.strip() == "cementseg: error: ct.nii.gz: not a CT"
    assert CliRunner().invoke(_command(click.UsageError("no")), []).exit_code == 2
