"""Benchmark: `cementseg.io.load` against SimpleITK's ImageSeriesReader on one uncompressed series.

Writes a 512x512x600 CT series (explicit VR little endian, one file per slice, shuffled
names) to a temporary folder, then times both readers in this process (alternating rounds,
median), each including series discovery: `load(folder)` versus
``GetGDCMSeriesFileNames`` + ``Execute`` + a NumPy view of the image. Peak RSS is measured
for each reader alone in a fresh child process. Last line: ``load_vs_sitk=<ratio>``
(time of cementseg / time of SimpleITK; <= 1.0 means at least as fast).

    .venv/bin/python benchmarks/bench_load.py [--slices 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from dicom_factory import write_series  # noqa: E402

from cementseg.io import load  # noqa: E402


def ct_like_volume(n_slices: int, size: int = 512) -> np.ndarray:
    """A body-like HU volume: air outside, soft tissue ellipse, a bony ring, noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:size, :size]
    radius = np.hypot((x - size / 2) / (0.42 * size), (y - size / 2) / (0.32 * size))
    slice_hu = np.where(radius < 1, 40, -1000) + np.where(np.abs(radius - 0.3) < 0.03, 900, 0)
    volume = np.empty((n_slices, size, size), dtype=np.int16)
    for z in range(n_slices):
        volume[z] = slice_hu + rng.integers(-20, 21, size=(size, size))
    return volume


def read_cementseg(folder: Path) -> tuple[np.ndarray, object]:
    volume = load(folder)
    return volume.hu, volume


def read_sitk(folder: Path) -> tuple[np.ndarray, object]:
    """(array view, image): the view shares the image's buffer, so the image must stay alive."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    return sitk.GetArrayViewFromImage(image), image


READERS = {"cementseg": read_cementseg, "sitk": read_sitk}


def peak_rss_mb(reader: str, folder: Path) -> float:
    """Peak RSS (MB) of a fresh Python process that imports the readers and reads ``folder`` once."""
    output = subprocess.run([sys.executable, __file__, "--child", reader, str(folder)], check=True,
                            capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def own_peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM on Linux (ru_maxrss survives exec, so it can
    report the parent's peak), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(reader: str, folder: Path) -> None:
    array, _owner = READERS[reader](folder)
    assert array.shape[0] > 0
    print(own_peak_rss_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("READER", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(prefix="cementseg-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        hu = ct_like_volume(args.slices)
        write_series(folder, hu, spacing_mm=(1.0, 0.7, 0.7))
        print(f"wrote {args.slices} slices of 512x512 in {time.perf_counter() - start:.1f} s")
        ours, _ = READERS["cementseg"](folder)
        theirs, _image = READERS["sitk"](folder)
        assert np.array_equal(ours, hu) and np.array_equal(ours, theirs), "readers disagree"
        del ours, theirs, _image
        times = {name: [] for name in READERS}
        for _ in range(args.rounds):
            for name, reader in READERS.items():
                start = time.perf_counter()
                result = reader(folder)
                times[name].append(time.perf_counter() - start)
                del result
        median = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            print(f"{name}: median {median[name]:.2f} s over {args.rounds} rounds "
                  f"({', '.join(f'{v:.2f}' for v in values)})")
        rss = {name: peak_rss_mb(name, folder) for name in READERS}
        print(f"peak_rss_sitk_mb={rss['sitk']:.0f}")
        print(f"peak_rss_cementseg_mb={rss['cementseg']:.0f}")
        print(f"load_vs_sitk={median['cementseg'] / median['sitk']:.2f}")


if __name__ == "__main__":
    main()
