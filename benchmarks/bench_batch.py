"""Benchmark: batch throughput (series per minute) with 1 and 2 local worker processes and on a
local Dask cluster (2 single-thread worker processes), over the same phantom series.

Writes ``--series`` phantom CT series (scenarios in turn, DICOM, ``--spacing`` mm voxels) into a
temporary folder, then times `run_batch` end to end (discovery, worker start-up, scans,
writing results and summaries) for each set-up, each into a fresh output folder. Prints one line
per set-up and the scaling ratios; the last line is ``batch_scaling_2_vs_1=<ratio>``.

    .venv/bin/python benchmarks/bench_batch.py [--series 20] [--spacing 3 2.5 2.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cementseg.batch import run_batch
from cementseg.phantom import SCENARIOS, generate
from cementseg.phantom.writers import write_dicom_series


def write_phantoms(root: Path, n_series: int, spacing_mm: tuple[float, float, float]) -> None:
    names = list(SCENARIOS)
    for n in range(n_series):
        scenario = names[n % len(names)]
        case = generate(scenario, seed=n, spacing_mm=spacing_mm)
        write_dicom_series(case.volume, root / f"case{n:03d}", uid_seed=f"bench-{n}",
                           series_description=f"bench {scenario}")


def timed_batch(root: Path, out: Path, **options) -> tuple[float, int]:
    started = time.perf_counter()
    result = run_batch(root, out, **options)
    elapsed = time.perf_counter() - started
    bad = [r for r in result.rows if r.status not in ("ok", "failed")]
    if bad:
        sys.exit(f"benchmark run broke: {bad[0].series_uid}: {bad[0].error}")
    return elapsed, len(result.rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--spacing", type=float, nargs=3, default=(3.0, 2.5, 2.5), metavar=("Z", "Y", "X"))
    args = parser.parse_args()
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="cementseg-bench-batch-") as scratch:
        root = Path(scratch) / "in"
        started = time.perf_counter()
        write_phantoms(root, args.series, tuple(args.spacing))
        print(f"wrote {args.series} phantom series ({args.spacing} mm) in {time.perf_counter() - started:.1f} s")
        rates = {}
        for label, options in (("local, 1 worker", {"workers": 1}), ("local, 2 workers", {"workers": 2})):
            elapsed, n = timed_batch(root, Path(scratch) / label.replace(" ", "").replace(",", "_"), **options)
            rates[label] = 60.0 * n / elapsed
            print(f"{label:28s} {n} series in {elapsed:6.1f} s = {rates[label]:6.1f} series/min")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            label = "dask LocalCluster, 2 procs"
            elapsed, n = timed_batch(root, Path(scratch) / "dask", scheduler=cluster.scheduler_address)
            rates[label] = 60.0 * n / elapsed
            print(f"{label:28s} {n} series in {elapsed:6.1f} s = {rates[label]:6.1f} series/min")
        one = rates["local, 1 worker"]
        print(f"scaling: 2 workers / 1 worker = {rates['local, 2 workers'] / one:.2f}; "
              f"dask (2 procs) / 1 worker = {rates['dask LocalCluster, 2 procs'] / one:.2f}")
        print(f"batch_scaling_2_vs_1={rates['local, 2 workers'] / one:.2f}")


if __name__ == "__main__":
    main()
