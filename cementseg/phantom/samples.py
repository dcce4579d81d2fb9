"""Regenerate the repository's sample_data/: ``python -m cementseg.phantom.samples [OUTDIR]``.

Each sample is an RLE Lossless DICOM series in ``OUTDIR/<scenario>/`` (only the series,
so ``cementseg scan sample_data/<scenario>`` finds nothing else) and its truth, anatomy labels
and manifest in ``OUTDIR/truth/<scenario>/``. Deterministic: the same files every time.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .case import generate
from .writers import write_case

#: (scenario, seed): a leak on CTPA with hardware (the demo), a critical canal leak, a negative control
SAMPLES: tuple[tuple[str, int], ...] = (("ivc_linear_leak", 0), ("intradural", 0), ("clean_fill", 0))
SAMPLE_SPACING_MM = (2.0, 1.4, 1.4)
SAMPLE_SHAPE = (100, 224, 224)


def make_samples(outdir: str | Path) -> list[Path]:
    """Write every sample under ``outdir``; returns the series folders."""
    outdir = Path(outdir)
    folders = []
    for scenario, seed in SAMPLES:
        case = generate(scenario, seed, spacing_mm=SAMPLE_SPACING_MM, shape=SAMPLE_SHAPE)
        image_dir, truth_dir = outdir / scenario, outdir / "truth" / scenario
        for folder in (image_dir, truth_dir):
            shutil.rmtree(folder, ignore_errors=True)
        write_case(case, truth_dir, "dicom", image_dir=image_dir, compression="rle", segmentations=False)
        folders.append(image_dir)
    return folders


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "sample_data"
    for folder in make_samples(target):
        sys.stdout.write(f"{folder}\n")
