"""The `totalsegmentator` anatomy engine: run TotalSegmentator on the CT, or reuse its cached output.

TotalSegmentator (task `total`, multilabel output) runs only when its package and the
weights of the chosen model are already on this machine: cementseg never downloads
anything. Weights live where TotalSegmentator keeps them: ``$TOTALSEG_WEIGHTS_PATH``, else
``$TOTALSEG_HOME_DIR/nnunet/results``, else ``~/.totalsegmentator/nnunet/results`` (its
`config.get_weights_dir`); `total` needs datasets 291-295, `total --fast` dataset 297.

The multilabel result is cached in ``cache_dir`` (next to the scan output) under a name
keyed by the series UID and the CT's geometry, so a re-run reads it instead of
recomputing; a cached file is used even where TotalSegmentator is not installed.
The labels then go through `external.from_labels` (merge policy and label checks).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import AnatomyError, SettingsError
from ..settings import Settings
from ..volume import CTVolume
from .anatomy_map import AnatomyMap

log = logging.getLogger(__name__)

ENGINES = ("builtin", "totalsegmentator")
DEVICES = ("auto", "gpu", "cpu", "mps")
#: nnU-Net v2 dataset ids of TotalSegmentator's task `total` (full 1.5 mm, and --fast 3 mm)
TOTAL_DATASETS = {False: (291, 292, 293, 294, 295), True: (297,)}
INSTALL_HINT = (
    "pip install 'TotalSegmentator>=2' (it brings torch), then download the weights once with "
    "'totalseg_download_weights -t {task}'; cementseg never downloads anything itself"
)


class AnatomyEngineUnavailable(AnatomyError):
    """The requested anatomy engine (TotalSegmentator) or its weights are not installed."""


def weights_dir() -> Path:
    """Where TotalSegmentator looks for its nnU-Net weights (same rules as its config module)."""
    if "TOTALSEG_WEIGHTS_PATH" in os.environ:
        return Path(os.environ["TOTALSEG_WEIGHTS_PATH"])
    if "TOTALSEG_HOME_DIR" in os.environ:
        home = Path(os.environ["TOTALSEG_HOME_DIR"])
    else:
        home = (Path("/tmp") if str(Path.home()) == "/" else Path.home()) / ".totalsegmentator"
    return home / "nnunet" / "results"


def missing_weights(fast: bool) -> list[int]:
    """Dataset ids of task `total` (``fast``: the 3 mm model) whose weights are not on disk."""
    root = weights_dir()
    return [d for d in TOTAL_DATASETS[fast] if not any(root.glob(f"Dataset{d}_*"))]


def check_available(fast: bool) -> None:
    """Raise `AnatomyEngineUnavailable` (one line: what to install) unless TotalSegmentator can run offline."""
    task = "total_fast" if fast else "total"
    if importlib.util.find_spec("totalsegmentator") is None:
        raise AnatomyEngineUnavailable(
            "--anatomy-engine totalsegmentator: the TotalSegmentator package is not installed; "
            + INSTALL_HINT.format(task=task)
        )
    version = importlib.metadata.version("TotalSegmentator")
    if int(version.split(".")[0]) < 2:
        raise AnatomyEngineUnavailable(
            f"--anatomy-engine totalsegmentator needs TotalSegmentator 2 or later (found {version}); "
            + INSTALL_HINT.format(task=task)
        )
    missing = missing_weights(fast)
    if missing:
        raise AnatomyEngineUnavailable(
            f"--anatomy-engine totalsegmentator: weights of datasets {', '.join(map(str, missing))} "
            f"not found in {weights_dir()}; " + INSTALL_HINT.format(task=task)
        )


def cache_path(cache_dir: str | Path, volume: CTVolume, fast: bool) -> Path:
    """The cache file of TotalSegmentator's multilabel output for ``volume``.

    Keyed by the series UID (a hash of the HU array when there is none) and by the CT's
    grid, so that two series sharing a UID-like name (``file:ct.nii.gz``) never share labels.
    """
    uid = volume.meta.get("series_uid") or "sha1-" + hashlib.sha1(volume.hu.tobytes()).hexdigest()[:16]
    geometry = np.concatenate(
        [np.asarray(volume.shape, float), volume.spacing_mm, volume.origin_lps_mm, volume.direction.ravel()]
    )
    grid_key = hashlib.sha1(np.round(geometry, 3).tobytes()).hexdigest()[:8]
    safe_uid = re.sub(r"[^0-9A-Za-z.-]+", "_", uid)[-80:]
    task = "total_fast" if fast else "total"
    return Path(cache_dir) / f"totalsegmentator_{task}_{safe_uid}_{grid_key}.nii.gz"


def segment(volume: CTVolume, settings: Settings, cache_dir: str | Path) -> Path:
    """Path of TotalSegmentator's multilabel labels for ``volume`` in ``cache_dir``: cached, or computed now.

    Raises:
        AnatomyEngineUnavailable: no cached output, and TotalSegmentator or its weights are missing.
        SettingsError: an unknown ``totalseg_device``.
    """
    fast = settings.totalseg_fast
    if settings.totalseg_device not in DEVICES:
        raise SettingsError(f"totalseg_device must be one of {', '.join(DEVICES)}, not {settings.totalseg_device!r}")
    cached = cache_path(cache_dir, volume, fast)
    if cached.is_file():
        log.info("TotalSegmentator labels from the cache: %s", cached)
        return cached
    check_available(fast)
    import SimpleITK as sitk  # here: scans with the built-in engine never need it

    work = Path(tempfile.mkdtemp(prefix="cementseg-totalseg-"))
    try:
        ct_path, out_path = work / "ct.nii.gz", work / "labels.nii.gz"
        sitk.WriteImage(volume.to_sitk(), str(ct_path), True)
        try:
            _run(ct_path, out_path, fast, _device(settings.totalseg_device))
        except (RuntimeError, ValueError, OSError) as exc:  # torch / nnU-Net failures: one line, exit 3
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise AnatomyError(
                f"TotalSegmentator failed on series {volume.meta.get('series_uid')}: {type(exc).__name__}: {first}"
            ) from exc
        if not out_path.is_file():
            raise AnatomyError(f"TotalSegmentator wrote no multilabel output for {volume.meta.get('series_uid')}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial.nii.gz")
        shutil.copyfile(out_path, partial)
        partial.replace(cached)  # a crash never leaves a half-written cache entry behind
        return cached
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _device(choice: str) -> str:
    if choice != "auto":
        return choice
    import torch

    if torch.cuda.is_available():
        return "gpu"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _run(ct_path: Path, out_path: Path, fast: bool, device: str) -> None:  # pragma: no cover - needs weights
    from totalsegmentator.python_api import totalsegmentator

    log.info("running TotalSegmentator (task total%s, device %s)", ", fast" if fast else "", device)
    totalsegmentator(ct_path, out_path, ml=True, fast=fast, task="total", device=device, quiet=True)


def engine_anatomy(volume: CTVolume, settings: Settings, cache_dir: str | Path | None = None) -> AnatomyMap:
    """The anatomy map of ``volume`` from TotalSegmentator (run now or read from the cache).

    With no ``cache_dir`` the output lives in a temporary folder for this call only.
    """
    from .external import load_external

    if cache_dir is not None:
        return load_external(segment(volume, settings, cache_dir), volume, settings)
    with tempfile.TemporaryDirectory(prefix="cementseg-totalseg-out-") as scratch:
        return load_external(segment(volume, settings, scratch), volume, settings)
