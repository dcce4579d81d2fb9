"""Batch QA over many CT series: discover, scan in parallel (processes or Dask), summarise.

* `discover_jobs(root)` -> `Discovery`: one `SeriesJob` per CT series under ``root``.
* `run_batch(root, out, ...)` -> `BatchResult`: per-series findings JSON (and reports) under
  ``out/series/<study UID>/<series UID>/``, ``summary.csv``, ``summary.parquet`` and ``index.html``.

Usage and outputs: docs/batch.md; deployment and throughput: docs/scaling.md.
"""

from .jobs import Discovery, SeriesJob, discover_jobs, safe_uid
from .rows import SUMMARY_COLUMNS, SeriesRow
from .runner import BatchResult, run_batch

__all__ = [
    "SUMMARY_COLUMNS",
    "BatchResult",
    "Discovery",
    "SeriesJob",
    "SeriesRow",
    "discover_jobs",
    "run_batch",
    "safe_uid",
]
