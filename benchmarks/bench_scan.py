"""Benchmark: `cementseg scan` end to end against SimpleITK merely loading the same series.

Writes a 512x512x600 phantom CT series with leaks (one DICOM file per slice) to a temporary
folder, then, in child processes so that peak memory is measured per run, times

* ``cementseg scan FOLDER --json OUT`` (load + candidates + anatomy + materials + locate + JSON),
* SimpleITK's ImageSeriesReader reading the same files,

several rounds each, and prints the medians, the per-stage timings of the last scan, the peak
RSS of both, and as its last lines ``scan_vs_sitk_load=<ratio>`` and the RSS figures.
Targets (issue 4): ratio <= 1.5; peak RSS of the scan <= 2.5 x the int16 volume size.

    .venv/bin/python benchmarks/bench_scan.py [--rounds 3] [--scenario ivc_and_pulmonary]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPE = (600, 512, 512)
SPACING_MM = (0.8, 0.7, 0.7)

SITK_LOAD = """
import sys, SimpleITK as sitk
reader = sitk.ImageSeriesReader()
reader.SetFileNames(reader.GetGDCMSeriesFileNames(sys.argv[1]))
image = reader.Execute()
assert image.GetSize()[2] == int(sys.argv[2])
"""

CEMENTSEG_SCAN = """
import sys
from cementseg.cli import main
main(["scan", sys.argv[1], "--json", sys.argv[2], "--quiet", "--fail-on", "never"])
"""


def write_series(folder: Path, scenario: str) -> None:
    from cementseg.phantom import generate
    from cementseg.phantom.writers import write_dicom_series

    case = generate(scenario, seed=0, spacing_mm=SPACING_MM, shape=SHAPE)
    write_dicom_series(case.volume, folder, uid_seed=f"bench/{scenario}", series_description=f"BENCH {scenario}")
    leaks = case.manifest["leaks"]
    print(f"phantom {scenario}: {SHAPE} voxels of {SPACING_MM} mm, {len(leaks)} leak(s) in the truth")


def run_child(code: str, *args: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of ``python -c code args`` in its own process."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child failed with exit {process.returncode}: {code.strip().splitlines()[-1]}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports kB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", default="ivc_and_pulmonary")
    options = parser.parse_args()
    volume_bytes = 2 * SHAPE[0] * SHAPE[1] * SHAPE[2]
    with tempfile.TemporaryDirectory(prefix="cementseg-bench-") as tmp:
        series = Path(tmp) / "series"
        write_series(series, options.scenario)
        out = Path(tmp) / "findings.json"
        sitk_runs, scan_runs = [], []
        for round_number in range(options.rounds):
            sitk_runs.append(run_child(SITK_LOAD, str(series), str(SHAPE[0])))
            scan_runs.append(run_child(CEMENTSEG_SCAN, str(series), str(out)))
            print(
                f"round {round_number + 1}: sitk load {sitk_runs[-1][0]:.2f} s, cementseg scan {scan_runs[-1][0]:.2f} s",
                flush=True,
            )
        findings = json.loads(out.read_text())
    sitk_s = statistics.median(s for s, _ in sitk_runs)
    scan_s = statistics.median(s for s, _ in scan_runs)
    sitk_rss = max(r for _, r in sitk_runs)
    scan_rss = max(r for _, r in scan_runs)
    print("scan stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in findings["timing_s"].items()))
    print(f"scan summary: {json.dumps(findings['summary'])}")
    print(f"int16 volume: {volume_bytes / 2**20:.0f} MiB")
    print(f"sitk_load_s={sitk_s:.2f} scan_s={scan_s:.2f}")
    print(f"peak_rss_sitk_mib={sitk_rss / 2**20:.0f} peak_rss_scan_mib={scan_rss / 2**20:.0f}")
    print(f"peak_rss_scan_vs_volume={scan_rss / volume_bytes:.2f}")
    print(f"scan_vs_sitk_load={scan_s / sitk_s:.2f}")


if __name__ == "__main__":
    main()
