"""`cementseg batch ROOT --out RESULTS`: scan every CT series under a folder, summarise, exit code."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from .common import EXIT_FINDINGS, EXIT_INPUT_ERROR, one_line_errors
from .scan import FAIL_ON


@click.command("batch")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Results folder: series/<study UID>/<series UID>/, summary.csv/.parquet, index.html.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes (each holds one series at a time).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on this dask.distributed scheduler instead (its workers must see ROOT).")
@click.option("--resume", is_flag=True, help="Skip series already finished in --out with the same settings.")
@click.option("--report", "html_report", is_flag=True, help="Also write report.html per series.")
@click.option("--dicom-seg", is_flag=True, help="Also write seg.dcm (DICOM SEG) per series.")
@click.option("--dicom-sr", is_flag=True, help="Also write sr.dcm (DICOM SR) per series.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="critical", show_default=True,
              help="Exit 1 when any series has a leak at or above this severity ('never': never).")
@click.option("--quiet", is_flag=True, help="For cron: no progress; the closing line only when the exit code is not 0.")
@one_line_errors
def batch_command(root, out_dir, workers, scheduler, resume, html_report, dicom_seg, dicom_sr, fail_on,
                  quiet) -> None:
    """Scan every CT series under ROOT in parallel and write per-series results and a summary.

    Exit codes: 0 done, no leak at or above --fail-on and no failed series; 1 a leak at or above
    --fail-on in some series; 3 no CT series under ROOT, or some series could not be scanned
    (see summary.csv); 2 usage error; 4 internal error.
    """
    from cementseg.batch import run_batch

    reports = tuple(kind for kind, asked in
                    (("report", html_report), ("dicom_seg", dicom_seg), ("dicom_sr", dicom_sr)) if asked)
    with _progress(quiet) as progress:
        result = run_batch(root, out_dir, workers=workers, scheduler=scheduler, resume=resume, reports=reports,
                           on_start=progress.start, on_result=progress.tick)
    flagged = result.at_or_above(fail_on)
    unscanned = result.count("failed") + result.count("error")
    if not quiet or flagged or unscanned:  # --quiet: silent when there is nothing to look at
        click.echo(f"cementseg batch: {result.count('ok')} scanned, {unscanned} failed, {result.count('not_scanned')} "
                   f"not CT ({result.resumed} done by an earlier run); {len(flagged)} with a leak at or above "
                   f"{fail_on}; summary in {result.summary_files['csv']}", err=quiet)
    exit_for(flagged, unscanned)


def exit_for(flagged: list, unscanned: int) -> None:
    """Exit 1 when a series has a leak at or above --fail-on, else 3 when a series failed."""
    if flagged:
        sys.exit(EXIT_FINDINGS)
    if unscanned:
        sys.exit(EXIT_INPUT_ERROR)


class _progress:
    """A rich progress bar on a terminal, one log line per series otherwise, nothing with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.task = None

    def __enter__(self) -> _progress:
        if self.quiet:
            return self
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True))
            self.bar.start()
        else:
            logger = logging.getLogger("cementseg.batch")
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        return self

    def start(self, total: int, done: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task("scanning CT series", total=total, completed=done)

    def tick(self, row, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            logging.getLogger("cementseg.batch").info("[%d/%d] %s", done, total, _describe(row))
            return
        if self.task is None:
            self.start(total, done - 1)
        self.bar.update(self.task, completed=done, description=f"...{row.series_uid[-10:]} {row.status}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _describe(row) -> str:
    if row.status != "ok":
        return f"series {row.series_uid}: {row.status}: {row.error}"
    return (f"series {row.series_uid}: {row.leak_count} leak(s), highest {row.highest_severity}, "
            f"{row.leak_volume_ml:.3f} mL, {row.runtime_s:.1f} s")
