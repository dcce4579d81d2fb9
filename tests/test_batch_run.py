"""Batch over a folder: every CT series scanned, failures recorded, summaries match the JSON,
no patient name in any output, resume after a kill, CLI exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys

import pandas as pd
import pytest
from batch_scene import NAME_FORMS, shared_local_batch, without_timing
from cementseg.cli import main
from click.testing import CliRunner

from cementseg.batch import SUMMARY_COLUMNS, run_batch
from cementseg.batch.store import PARTIAL_MARK, finished_rows
from cementseg.settings import Settings


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The batch of the test scene, run once for all modules and xdist workers (the tests only read it)."""
    return shared_local_batch(tmp_path_factory)


def _rows_by_uid(result):
    return {row.series_uid: row for row in result.rows}


def test_batch_scans_every_ct_series_and_records_failures(batch):
    scene, result = batch
    rows = _rows_by_uid(result)
    assert set(rows) == set(scene.ct_series) | {scene.broken_uid, scene.mr_uid, scene.nifti_key}
    assert scene.nifti_key.startswith("h-")
    for uid in [*scene.ct_series, scene.nifti_key]:
        assert rows[uid].status == "ok", rows[uid].error
        assert rows[uid].outputs == "findings.json"
    broken = rows[scene.broken_uid]
    assert broken.status == "failed"
    assert broken.error.startswith("MissingSlicesError: ") and "slice_0006.dcm and slice_0008.dcm" in broken.error
    assert "\n" not in broken.error
    assert rows[scene.mr_uid].status == "not_scanned" and "not CT (modality MR)" in rows[scene.mr_uid].error
    assert result.skipped_files == 2  # the text note and the garbage .dcm


def test_batch_findings_equal_a_direct_scan(batch):
    from cementseg import scan

    scene, result = batch
    uid, folder = next(iter(scene.ct_series.items()))
    row = _rows_by_uid(result)[uid]
    written = json.loads((result.out / row.result_dir / "findings.json").read_text())
    direct = scan(folder).to_dict()
    direct["input"]["path"] = None  # the batch never writes input paths
    assert without_timing(written) == without_timing(json.loads(json.dumps(direct)))


def test_batch_summary_matches_per_series_json(batch):
    scene, result = batch
    csv = pd.read_csv(result.out / "summary.csv", dtype={"study_uid": str, "series_uid": str})
    parquet = pd.read_parquet(result.out / "summary.parquet")
    assert list(csv.columns) == list(SUMMARY_COLUMNS) == list(parquet.columns)
    assert len(csv) == len(parquet) == 5
    assert list(parquet["series_uid"]) == list(csv["series_uid"])
    for record in parquet.to_dict("records"):
        if record["status"] != "ok":
            assert pd.isna(record["leak_count"]) and record["error"]
            continue
        summary = json.loads((result.out / record["result_dir"] / "findings.json").read_text())["summary"]
        assert record["leak_count"] == summary["leak_count"]
        assert record["leak_volume_ml"] == pytest.approx(summary["leak_volume_ml"], abs=1e-9)
        assert record["highest_severity"] == summary["highest_severity"]
        assert record["cemented_levels"] == ";".join(summary["cemented_levels"])
        assert record["runtime_s"] > 0
    scanned = parquet[parquet["series_uid"].isin(list(scene.ct_series))]
    assert scanned["leak_count"].max() > 0  # the IVC leak phantom shows leaks
    page = (result.out / "index.html").read_text()
    for record in parquet.to_dict("records"):
        assert record["series_uid"] in page
        if record["status"] == "ok":
            link = f'href="{record["result_dir"]}/findings.json"'
            assert link in page and (result.out / record["result_dir"] / "findings.json").is_file()


def test_batch_outputs_never_carry_the_patient_name(batch):
    scene, result = batch
    assert any("DOE_JANE" in str(p) for p in scene.root.rglob("*"))  # the input does
    outputs = [p for p in result.out.rglob("*")]
    assert len(outputs) > 10
    for path in outputs:
        relative = str(path.relative_to(result.out)).upper()
        assert "DOE" not in relative and "JANE" not in relative, relative
        if path.is_file():
            content = path.read_bytes().upper()
            for form in NAME_FORMS:
                assert form.encode() not in content, f"{form} in {relative}"
    for path in (result.out / "series").glob("*/*"):
        for name in (path.parent.name, path.name):  # UIDs, a hash of a non-UID name, or no-study
            assert re.fullmatch(r"[0-9.]+|h-[0-9a-f]{20}|no-study", name), name
    assert (result.out / "series" / "no-study" / scene.nifti_key / "findings.json").is_file()


def test_batch_resume_redoes_only_unfinished_series(batch, tmp_path):
    scene, result = batch
    out = tmp_path / "results"
    shutil.copytree(result.out, out)
    rows = _rows_by_uid(result)
    redo_uid, keep_uid = list(scene.ct_series)
    # a kill while series `redo_uid` was being written: its record is missing, temp files lie around
    redo_dir = out / rows[redo_uid].result_dir
    (redo_dir / "result.json").unlink()
    (redo_dir / f"findings.json{PARTIAL_MARK}999").write_text('{"half": ')
    keep_findings = out / rows[keep_uid].result_dir / "findings.json"
    (keep_findings.parent / f"report.html{PARTIAL_MARK}998").write_text("<html")
    os.utime(keep_findings, (1_000_000_000, 1_000_000_000))
    os.utime(redo_dir / "findings.json", (1_000_000_000, 1_000_000_000))

    resumed = run_batch(scene.root, out, workers=1, resume=True)

    assert resumed.resumed == 3  # the finished CT series, the NIfTI and the failed one
    assert keep_findings.stat().st_mtime == 1_000_000_000  # not redone
    assert (redo_dir / "findings.json").stat().st_mtime > 1_000_000_000  # redone
    assert not list(out.rglob(f"*{PARTIAL_MARK}*"))
    assert {r.series_uid: r.status for r in resumed.rows} == {r.series_uid: r.status for r in result.rows}
    again = _rows_by_uid(resumed)[redo_uid]
    assert (again.leak_count, again.leak_volume_ml) == (rows[redo_uid].leak_count, rows[redo_uid].leak_volume_ml)
    assert len(pd.read_parquet(out / "summary.parquet")) == 5
    # other settings, other digest: nothing counts as finished
    assert finished_rows(out, Settings().digest()).keys() == {redo_uid, keep_uid, scene.broken_uid, scene.nifti_key}
    assert finished_rows(out, Settings(seed_hu=1300.0).digest()) == {}


def test_batch_cli_exit_codes_and_plain_progress(batch, tmp_path):
    scene, result = batch
    out = tmp_path / "results"
    shutil.copytree(result.out, out)
    runner = CliRunner()
    # everything is finished: --resume scans nothing, the exit code comes from the records
    warned = runner.invoke(main, ["batch", str(scene.root), "--out", str(out), "--resume", "--fail-on", "warning"])
    worst = max((r.highest_severity for r in result.rows if r.status == "ok"),
                key=("none", "info", "warning", "critical").index)
    assert warned.exit_code == (1 if worst in ("warning", "critical") else 3), warned.output
    assert "3 scanned, 1 failed, 1 not CT (4 done by an earlier run)" in warned.output
    assert "batch: 4 CT series, 4 already done, 0 to scan" in warned.output  # plain log lines, no TTY
    never = runner.invoke(main, ["batch", str(scene.root), "--out", str(out), "--resume", "--fail-on", "never",
                                 "--quiet"])
    assert never.exit_code == 3  # the broken series could not be scanned


def test_batch_without_the_report_package_refuses_reports_up_front(batch, tmp_path, monkeypatch):
    scene, _ = batch
    monkeypatch.setitem(sys.modules, "cementseg.report.outputs", None)  # as if issue 6 were not installed
    refused = CliRunner().invoke(main, ["batch", str(scene.root), "--out", str(tmp_path / "out"), "--dicom-seg"])
    assert refused.exit_code == 3
    assert refused.output.startswith("cementseg: error: reports need cementseg.report.outputs.write_outputs")
    assert len(refused.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "series").exists()  # nothing scanned


def test_batch_refuses_a_folder_without_ct(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "note.txt").write_text("nothing here")
    outcome = CliRunner().invoke(main, ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 3
    assert "no" in outcome.output and "Traceback" not in outcome.output
