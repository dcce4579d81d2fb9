"""`run_pacs`: find CT series on a PACS, fetch each into a temporary folder, scan it, and
optionally send the DICOM SEG and SR back with STOW-RS.

Results go to the same folder layout as a folder batch (docs/batch.md): per-series findings
JSON under ``series/<study UID>/<series UID>/``, summary.csv/.parquet and index.html.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread

from ..batch.jobs import SeriesJob, discover_jobs
from ..batch.reports import require_reports
from ..batch.rows import SeriesRow
from ..batch.store import finished_rows, remove_partials, save_outcome
from ..batch.summary import write_summaries
from ..batch.worker import SeriesOutcome, process_series
from ..settings import Settings
from .config import PacsConfig
from .remote import PacsError, RemoteSeries, connect, fetch_series, find_ct_series, store

log = logging.getLogger(__name__)

#: the files sent back with --store-results, in this order (the SR references the SEG)
STORED_FILES = ("seg.dcm", "sr.dcm")


@dataclass
class PacsResult:
    """Rows of the series scanned (or resumed) and, per series, the SOP instances stored back."""

    rows: list[SeriesRow]
    out: Path
    found: int = 0
    resumed: int = 0
    stored: dict[str, list[str]] = field(default_factory=dict)  # series UID -> stored SOPInstanceUIDs
    summary_files: dict[str, Path] = field(default_factory=dict)


def run_pacs(config: PacsConfig, out: str | os.PathLike, *, since: str | None = None, until: str | None = None,
             study_uid: str | None = None, description: str | None = None, body_part: str | None = None,
             store_results: bool = False, html_report: bool = False, resume: bool = False,
             settings: Settings | None = None,
             on_result: Callable[[SeriesRow, int, int], None] | None = None) -> PacsResult:
    """Scan the PACS' CT series matching the filters, one at a time; see the module docstring.

    Raises PacsError (an InputError) when the PACS cannot be queried, SettingsError when
    ``store_results`` is asked for and the SEG/SR writers are not installed. A series that
    cannot be fetched, scanned or stored is recorded in its row and the run goes on.
    """
    settings = settings or Settings()
    reports = (("report",) if html_report else ()) + (("dicom_seg", "dicom_sr") if store_results else ())
    require_reports(reports)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)
    client = connect(config)
    found = find_ct_series(client, since=since, until=until, study_uid=study_uid, description=description,
                           body_part=body_part)
    log.info("PACS %s: %d CT series match", config.url, len(found))
    digest = settings.digest()
    done = finished_rows(out, digest) if resume else {}
    result = PacsResult(rows=[done[s.series_uid] for s in found if s.series_uid in done], out=out, found=len(found))
    result.resumed = len(result.rows)
    for series in (s for s in found if s.series_uid not in done):
        outcome = _scan_remote(client, series, settings, reports)
        if store_results and outcome.row.status == "ok":
            _store_back(client, outcome, result)
        save_outcome(out, outcome.row, outcome.files)
        result.rows.append(outcome.row)
        if on_result is not None:
            on_result(outcome.row, len(result.rows), len(found))
    result.summary_files = write_summaries(out, result.rows, skipped_files=0, settings_digest=digest)
    return result


def _scan_remote(client, series: RemoteSeries, settings: Settings, reports: tuple[str, ...]) -> SeriesOutcome:
    with tempfile.TemporaryDirectory(prefix="cementseg-pacs-") as scratch:
        folder = Path(scratch)
        try:
            fetch_series(client, series, folder)
        except PacsError as error:
            return _failed(series, settings, f"PacsError: {error}")
        jobs = [job for job in discover_jobs(folder).jobs if job.series_uid == series.series_uid]
        if not jobs:
            return _failed(series, settings, "the instances fetched hold no CT image series")
        return process_series(jobs[0], settings, reports)


def _store_back(client, outcome: SeriesOutcome, result: PacsResult) -> None:
    row = outcome.row
    if not row.cemented_levels and not row.leak_count:
        return  # no cement, so no SEG/SR to store
    datasets = [dcmread(io.BytesIO(outcome.files[name])) for name in STORED_FILES if name in outcome.files]
    if len(datasets) != len(STORED_FILES):
        row.status, row.error = "failed", "store-results: the DICOM SEG/SR were not written"
        return
    try:
        result.stored[row.series_uid] = store(client, datasets)
    except PacsError as error:
        row.status, row.error = "failed", f"store-results: {error}"


def _failed(series: RemoteSeries, settings: Settings, message: str) -> SeriesOutcome:
    job = SeriesJob(series.series_uid, series.study_uid, ())
    return SeriesOutcome(row=SeriesRow(series.study_uid, series.series_uid, "failed", error=message,
                                       result_dir=job.result_dir, settings_digest=settings.digest()))
