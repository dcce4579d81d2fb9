"""Scan one series in a worker (process pool or Dask): load, detect, render the outputs to bytes.

The worker writes nothing: it returns a `SeriesOutcome` and the driver writes the files, so
local and Dask runs produce byte-identical findings (timings aside) and the output folder need
only be visible to the driver.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from ..errors import CementsegError
from ..settings import Settings
from .jobs import SeriesJob
from .reports import render_reports
from .rows import SeriesRow

log = logging.getLogger(__name__)

FINDINGS_NAME = "findings.json"


@dataclass
class SeriesOutcome:
    """A scanned series: its summary row and its output files (name -> content)."""

    row: SeriesRow
    files: dict[str, bytes] = field(default_factory=dict)


def process_series(
    job: SeriesJob, settings: Settings, reports: tuple[str, ...] = (), expected_digest: str | None = None
) -> SeriesOutcome:
    """Scan ``job`` and render its findings JSON (plus the ``reports`` asked for).

    Never raises for a bad series: a `CementsegError` gives status ``failed``, any other exception
    ``error`` (a bug), each with a one-line message free of the series' folder paths.
    ``expected_digest``: the driver's `Settings.digest`; a worker whose cementseg computes another
    one (a different version on a cluster node) refuses with status ``error``.
    """
    from ..io import load
    from ..pipeline import scan

    started = time.perf_counter()
    row = SeriesRow(
        study_uid=job.study_uid,
        series_uid=job.key,
        status="ok",
        result_dir=job.result_dir,
        settings_digest=settings.digest(),
    )
    files: dict[str, bytes] = {}
    if expected_digest is not None and row.settings_digest != expected_digest:
        row.status = "error"
        row.error = (
            f"this worker's cementseg differs from the driver's (settings digest {row.settings_digest} "
            f"!= {expected_digest}); install the same version everywhere"
        )
        row.settings_digest = expected_digest
        return SeriesOutcome(row=row)
    try:
        volume = load(list(job.files), series=job.series_uid, settings=settings)
        findings = scan(volume, settings=settings)
        document = redact(findings.to_dict(), job)
        files[FINDINGS_NAME] = (json.dumps(document, indent=2) + "\n").encode()
        summary = findings.summary
        row.cemented_levels = ";".join(summary["cemented_levels"])
        row.leak_count = int(summary["leak_count"])
        row.highest_severity = summary["highest_severity"]
        row.leak_volume_ml = float(summary["leak_volume_ml"])
    except CementsegError as error:
        row.status, row.error = "failed", _message(f"{type(error).__name__}: {error}", job)
        files.clear()
    except Exception as error:  # a bug must not stop the batch: record it, keep the traceback in the log
        log.exception("internal error on series %s", job.key)
        row.status, row.error = "error", _message(f"internal error: {type(error).__name__}: {error}", job)
        files.clear()
    if row.status == "ok" and reports:
        if not any(c.material == "cement" for c in findings.components):  # no cement: nothing to segment
            reports = tuple(kind for kind in reports if kind not in ("dicom_seg", "dicom_sr"))
        try:
            files.update(render_reports(reports, findings, volume, list(job.files)))
        except CementsegError as error:  # the findings stand; say why the reports are missing
            row.status, row.error = "failed", _message(f"reports not written: {type(error).__name__}: {error}", job)
        except Exception as error:  # a bug in a writer: the findings stand, the traceback goes to the log
            log.exception("report writer failed on series %s", job.key)
            row.status = "error"
            row.error = _message(f"reports not written: internal error: {type(error).__name__}: {error}", job)
    row.outputs = ";".join(sorted(files))
    row.runtime_s = round(time.perf_counter() - started, 3)
    return SeriesOutcome(row=row, files=files)


def _message(text: str, job: SeriesJob) -> str:
    """One line for the summary: folder paths removed, line breaks folded."""
    return " ".join(redact(text, job).split())


def redact(value, job: SeriesJob):
    """``value`` (str, or nested dict/list of them) with the job's redactions applied.

    Folder and image-file names often carry patient names: DICOM messages keep the file name only.
    """
    if isinstance(value, str):
        for text, replacement in job.redactions:
            value = value.replace(text, replacement)
        return value
    if isinstance(value, dict):
        return {k: redact(v, job) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, job) for v in value]
    return value
