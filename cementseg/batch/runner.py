"""`run_batch`: scan every CT series under a folder in worker processes or on a Dask cluster.

Memory stays bounded: each worker holds one series at a time (a local worker process is
replaced after `tasks_per_worker` series), and the driver keeps only the summary rows.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, SettingsError
from ..settings import Settings
from ..vocabulary import severity_rank
from .jobs import SeriesJob, discover_jobs
from .reports import require_reports
from .rows import SeriesRow
from .store import finished_rows, remove_partials, save_outcome
from .summary import write_summaries
from .worker import SeriesOutcome, process_series

log = logging.getLogger(__name__)

#: how long to try reaching a Dask scheduler
DASK_CONNECT_TIMEOUT_S = 20

#: called after each series: (row, number done, total)
ProgressCallback = Callable[[SeriesRow, int, int], None]


@dataclass
class BatchResult:
    """What a batch did: one row per series (resumed ones included) and the summary files."""

    rows: list[SeriesRow]
    out: Path
    resumed: int = 0
    skipped_files: int = 0
    summary_files: dict[str, Path] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    def at_or_above(self, severity: str) -> list[SeriesRow]:
        """Scanned series whose highest leak severity is at least ``severity`` ("never": none)."""
        if severity == "never":
            return []
        threshold = severity_rank(severity)
        return [
            r
            for r in self.rows
            if r.status == "ok"
            and r.highest_severity
            and severity_rank(r.highest_severity) >= threshold
            and r.leak_count
        ]


def run_batch(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    reports: tuple[str, ...] = (),
    settings: Settings | None = None,
    tasks_per_worker: int = 20,
    on_result: ProgressCallback | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Scan every CT series under ``root`` and write the results under ``out``.

    Args:
        root: folder holding any number of patients, studies and series (junk is skipped).
        out: output folder (created); see docs/batch.md for its layout.
        workers: local worker processes (ignored with ``scheduler``).
        scheduler: ``tcp://HOST:PORT`` of a running dask.distributed scheduler; its workers must
            see ``root`` at the same path.
        resume: skip series already finished in ``out`` with the same settings (by SeriesInstanceUID).
        reports: any of "report", "dicom_seg", "dicom_sr" (made by `cementseg.report`).
        settings: detector settings (their digest keys the resume).
        tasks_per_worker: series a local worker process scans before it is replaced.
        on_result: progress callback, called in the driver after every series.
        on_start: called once before scanning with (CT series found, already done).

    Raises:
        InputError when ``root`` holds no CT series; SettingsError for bad options or a missing
        report writer. A series that fails is recorded in its row, never raised.
    """
    settings = settings or Settings()
    if workers < 1 or tasks_per_worker < 1:
        raise SettingsError(f"workers ({workers}) and tasks_per_worker ({tasks_per_worker}) must be >= 1")
    reports = tuple(reports)
    require_reports(reports)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)
    discovery = discover_jobs(root)
    if not discovery.jobs:
        raise InputError(
            f"{root}: no CT series found ({len(discovery.not_scanned)} other series, "
            f"{discovery.skipped_files} file(s) skipped)"
        )
    digest = settings.digest()
    done = finished_rows(out, digest) if resume else {}
    rows = [
        SeriesRow(
            job.study_uid,
            job.key,
            "not_scanned",
            error=reason,
            result_dir=job.result_dir,
            settings_digest=digest,
        )
        for job, reason in discovery.not_scanned
    ]
    rows += [done[job.key] for job in discovery.jobs if job.key in done]
    todo = [job for job in discovery.jobs if job.key not in done]
    log.info(
        "batch: %d CT series, %d already done, %d to scan",
        len(discovery.jobs),
        len(discovery.jobs) - len(todo),
        len(todo),
    )
    total = len(discovery.jobs)
    finished = total - len(todo)
    if on_start is not None:
        on_start(total, finished)
    outcomes = (
        _on_dask(todo, settings, reports, scheduler)
        if scheduler
        else _on_processes(todo, settings, reports, workers, tasks_per_worker)
    )
    for outcome in outcomes:
        save_outcome(out, outcome.row, outcome.files)
        rows.append(outcome.row)
        finished += 1
        if on_result is not None:
            on_result(outcome.row, finished, total)
    files = write_summaries(out, rows, skipped_files=discovery.skipped_files, settings_digest=digest)
    return BatchResult(
        rows=rows,
        out=out,
        resumed=total - len(todo),
        skipped_files=discovery.skipped_files,
        summary_files=files,
    )


def _on_processes(
    jobs: list[SeriesJob], settings: Settings, reports: tuple[str, ...], workers: int, tasks_per_worker: int
) -> Iterator[SeriesOutcome]:
    if not jobs:
        return
    # spawn: workers start clean (no forked copy of the driver's memory or threads)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=context, max_tasks_per_child=tasks_per_worker
    ) as pool:
        futures = {
            pool.submit(process_series, job, settings, reports, settings.digest()): job for job in jobs
        }
        for future in as_completed(futures):
            # drop our reference as we go, so finished outcomes do not pile up in memory
            yield _outcome_of(future, futures.pop(future), settings)


def _on_dask(
    jobs: list[SeriesJob], settings: Settings, reports: tuple[str, ...], scheduler: str
) -> Iterator[SeriesOutcome]:
    if not jobs:
        return
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise SettingsError("--scheduler needs dask.distributed: pip install 'cementseg[dask]'") from error
    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except OSError as error:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({error})") from error
    with client:
        futures = client.map(
            process_series,
            jobs,
            settings=settings,
            reports=reports,
            expected_digest=settings.digest(),
            pure=False,
        )
        job_of = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        for future in dask_completed(futures):
            yield _outcome_of(future, job_of[future.key], settings)
            future.release()


def _outcome_of(future, job: SeriesJob, settings: Settings) -> SeriesOutcome:
    """The worker's outcome, or an ``error`` row when the worker itself died."""
    try:
        return future.result()
    except Exception as error:  # a crashed worker process (BrokenProcessPool, KilledWorker, ...)
        log.error("worker lost on series %s: %s", job.key, error)
        row = SeriesRow(
            job.study_uid,
            job.key,
            "error",
            error=f"worker lost: {type(error).__name__}: {error}",
            result_dir=job.result_dir,
            settings_digest=settings.digest(),
        )
        return SeriesOutcome(row=row)
