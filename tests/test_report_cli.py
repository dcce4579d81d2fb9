"""`cementseg scan` with every report output, end to end with the real detector on a small phantom."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import highdicom as hd
from cementseg.cli import main
from click.testing import CliRunner
from report_cases import phantom

from cementseg.phantom.writers import write_case


def test_scan_writes_report_png_csv_seg_and_sr(tmp_path):
    written = write_case(phantom(), tmp_path / "case", segmentations=False)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, [
        "scan", written["image"], "--quiet", "--fail-on", "never", "--json", str(out / "f.json"),
        "--report", str(out / "report.html"), "--png", str(out / "png"), "--csv", str(out / "f.csv"),
        "--dicom-sr", str(out / "sr.dcm")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    findings = json.loads((out / "f.json").read_text())
    cement = [c for c in findings["components"] if c["material"] == "cement"]
    assert cement, "the detector found no cement on a phantom with three fills and two leaks"
    rows = list(csv.DictReader((out / "f.csv").open()))
    assert [int(r["id"]) for r in rows] == [c["id"] for c in findings["components"]]
    html = (out / "report.html").read_text()
    for c in cement:
        assert f'<tr id="finding-{c["id"]}"' in html
    pngs = {p.name for p in (out / "png").iterdir()}
    assert {"mip.png", "spine_3d.png"} <= pngs and len(pngs) == 2 + min(len(cement), 24)
    seg = hd.seg.segread(out / "sr_seg.dcm")  # written next to the SR, which references it
    locations = sorted({c["location"] for c in cement})
    assert sorted(seg.get_segment_description(n).tracking_id for n in seg.get_segment_numbers()) == locations
    sr = hd.sr.srread(out / "sr.dcm")
    assert len(sr.content.get_volumetric_roi_measurement_groups()) == len(cement)
    if shutil.which("dciodvfy"):
        for name in ("sr_seg.dcm", "sr.dcm"):
            report = subprocess.run(["dciodvfy", str(out / name)], capture_output=True, text=True, timeout=60)
            assert not [line for line in report.stderr.splitlines() if line.startswith("Error")], report.stderr


def test_dicom_seg_of_a_nifti_scan_is_a_one_line_input_error(tmp_path):
    from cementseg.phantom import generate

    written = write_case(generate("clean_fill", 0, spacing_mm=(3.0, 3.0, 3.0)), tmp_path, fmt="nifti",
                         segmentations=False)
    result = CliRunner().invoke(main, ["scan", written["image"], "--quiet", "--csv", str(tmp_path / "f.csv"),
                                       "--dicom-seg", str(tmp_path / "seg.dcm")])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("cementseg: error")]
    assert len(errors) == 1 and "need a DICOM source series" in errors[0]
    assert (tmp_path / "f.csv").exists() and not (tmp_path / "seg.dcm").exists()
