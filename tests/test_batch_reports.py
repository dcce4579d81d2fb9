"""`run_batch(..., reports=("report",))`: the issue-6 HTML report per series, linked from index.html,
free of the patient's name."""

from __future__ import annotations

from batch_scene import NAME_FORMS, make_scene

from cementseg.batch import run_batch


def test_batch_writes_and_links_an_html_report_per_series(tmp_path):
    scene = make_scene(tmp_path / "incoming", with_failures=False)
    result = run_batch(scene.root, tmp_path / "results", workers=1, reports=("report",))
    index = (result.out / "index.html").read_text()
    assert {row.series_uid for row in result.rows} == set(scene.ct_series)
    for row in result.rows:
        assert row.status == "ok", row.error
        assert row.outputs == "findings.json;report.html"
        report = result.out / row.result_dir / "report.html"
        page = report.read_text()
        assert page.lstrip().lower().startswith("<!doctype html") and row.series_uid in page
        assert not any(form in page.upper() for form in NAME_FORMS)
        assert f'href="{row.result_dir}/report.html"' in index
