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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPE = (600, 512, 512)
SPACING_MM = (0.8, 0.7, 0.7)

# Each child reports its own peak RSS (VmHWM of its exec'd image): ru_maxrss from wait4 would
# also count the benchmark's own memory, which a forked child inherits before exec.
PEAK_RSS = """
print("VmHWM_kB=" + next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""

SITK_LOAD = (
    """
import sys, SimpleITK as sitk
reader = sitk.ImageSeriesReader()
reader.SetFileNames(reader.GetGDCMSeriesFileNames(sys.argv[1]))
image = reader.Execute()
assert image.GetSize()[2] == int(sys.argv[2])
"""
    + PEAK_RSS
)

CEMENTSEG_SCAN = (
    """
import sys
from cementseg.cli import main
main(["scan", sys.argv[1], "--json", sys.argv[2], "--quiet", "--fail-on", "never"], standalone_mode=False)
"""
    + PEAK_RSS
)


def write_series(folder: Path, scenario: str, shape: tuple[int, int, int]) -> None:
    from cementseg.phantom import generate
    from cementseg.phantom.writers import write_dicom_series

    case = generate(scenario, seed=0, spacing_mm=SPACING_MM, shape=shape)
    write_dicom_series(
        case.volume, folder, uid_seed=f"bench/{scenario}", series_description=f"BENCH {scenario}"
    )
    leaks = case.manifest["leaks"]
    print(
        f"phantom {scenario}: {shape} voxels of {SPACING_MM} mm, {len(leaks)} leak(s) in the truth",
        flush=True,
    )


def run_child(code: str, *args: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of ``python -c code args`` in its own process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"child failed with exit {result.returncode}: {result.stderr.strip()[-500:]}")
    peak_kb = int(
        next(line for line in result.stdout.splitlines() if line.startswith("VmHWM_kB=")).split("=")[1]
    )
    return seconds, peak_kb * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", default="ivc_and_pulmonary")
    parser.add_argument("--shape", nargs=3, type=int, default=SHAPE, metavar=("Z", "Y", "X"))
    options = parser.parse_args()
    shape = tuple(options.shape)
    volume_bytes = 2 * shape[0] * shape[1] * shape[2]
    with tempfile.TemporaryDirectory(prefix="cementseg-bench-") as tmp:
        series = Path(tmp) / "series"
        write_series(series, options.scenario, shape)
        out = Path(tmp) / "findings.json"
        sitk_runs, scan_runs = [], []
        for round_number in range(options.rounds):
            sitk_runs.append(run_child(SITK_LOAD, str(series), str(shape[0])))
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
