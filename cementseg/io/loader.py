"""`load`: a path -> one `CTVolume` in HU with LPS geometry, or a typed error saying why not."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import CorruptFileError, DuplicateSliceError
from ..settings import Settings
from ..volume import CTVolume
from . import image_files
from .choose import choose_series
from .discovery import find_series
from .geometry import StackPlan, plan_stack, regularize
from .pixels import SliceTally, can_read_directly, check_decodable, decode_file
from .records import SeriesRecord, SliceHeader


def load(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    series: str | None = None,
    settings: Settings | None = None,
    force: bool = False,
    meanwhile: Callable[[], object] | None = None,
) -> CTVolume:
    """Load one CT series (DICOM folder/file/list/zip/DICOMDIR, or NIfTI/NRRD/MHA) as a `CTVolume`.

    Args:
        path: where the images are.
        series: SeriesInstanceUID to load; when None the best CT series is chosen
            (see `choose_series`) and ``meta["chosen_because"]`` says why.
        settings: loader tolerances (``slice_gap_factor``, ``slice_spacing_tolerance_mm``,
            ``resample_irregular``) and parallelism (``decode_threads``, ``header_processes``).
        force: load a series whose modality is not CT.
        meanwhile: run here while forked processes read the headers (`find_series`).

    Raises a `CementsegError` subclass (NoSeriesError, NotCTError, GeometryError, ...) naming
    the series and files when the input cannot give a trustworthy volume.
    """
    settings = settings or Settings()
    scan = find_series(path, processes=settings.header_processes, meanwhile=meanwhile)
    record, because = choose_series(scan, series, force)
    if record.source == "image_file":
        volume = image_files.load_image_file(record.files[0])
    else:
        volume = load_series(record, settings)
    volume.meta["source"] = scan.source
    if series is None:
        volume.meta["chosen_because"] = because
    skipped = [f for f, _ in scan.skipped]
    if skipped:
        volume.meta["skipped_files"] = len(skipped)
        volume.warnings.append(
            f"{len(skipped)} file(s) skipped (not part of an image series), e.g. {skipped[0]}"
        )
    return volume


def load_series(record: SeriesRecord, settings: Settings) -> CTVolume:
    """Decode the DICOM series ``record`` into a `CTVolume` (geometry checked, HU applied)."""
    if record.damaged_files:
        file, reason = record.damaged_files[0]
        raise CorruptFileError(
            f"series {record.series_uid}: {len(record.damaged_files)} damaged file(s), e.g. {file}: {reason}"
        )
    plan = plan_stack(record, settings)
    for syntax in sorted({s.transfer_syntax for s in plan.slices if not can_read_directly(s)}):
        check_decodable(syntax, record.series_uid)  # before any pixel is read; plain files need no decoder
    warnings = record.warnings + plan.warnings
    _check_duplicates(record, plan, settings, warnings)
    first = plan.slices[0]
    stack = _plain_pages_int16((len(plan.order), first.rows, first.columns))
    tally = _decode_all([plan.slices[i] for i in plan.order], stack, settings)
    if plan.needs_resampling:
        stack = regularize(stack, plan)
    if tally.clipped_voxels:
        warnings.append(
            f"series {record.series_uid}: {tally.clipped_voxels} voxels outside int16 clipped to "
            f"[-32768, 32767] HU"
        )
    if tally.padded_voxels:
        warnings.append(
            f"series {record.series_uid}: {tally.padded_voxels} padding voxels set to air (-1024 HU)"
        )
    meta = dict(record.meta)
    meta.update(n_slices=stack.shape[0], files=len(record.files))
    return CTVolume(
        hu=stack,
        spacing_mm=plan.spacing_mm,
        origin_lps_mm=plan.origin_lps_mm,
        direction=plan.direction,
        meta=meta,
        warnings=warnings,
    )


def _plain_pages_int16(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised int16 array on ordinary (4 KiB) pages, from a private anonymous memory map.

    NumPy asks the kernel for transparent huge pages for a large array. Where the kernel then
    compacts memory synchronously to find them (THP defrag "madvise", a common default) while
    the series streams through the page cache, faulting in a 300 MiB stack took 0.6-0.9 s of
    system time, against about 0.3 s on ordinary pages (numpy issue 31590). The map is private:
    a shared one is a shared-memory file, slower to fault in and to free (0.19 against 0.15 s to
    decode the 300 MiB benchmark series, 0.07 against 0.03 s to free it).
    """
    count = int(np.prod(shape))
    size = max(2 * count, 1)
    if hasattr(mmap, "MAP_PRIVATE"):  # POSIX
        pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    else:
        pages = mmap.mmap(-1, size)
    return np.frombuffer(pages, dtype=np.int16, count=count).reshape(shape)


def _decode_all(slices: list[SliceHeader], stack: np.ndarray, settings: Settings) -> SliceTally:
    """Decode ``slices[z]`` into ``stack[z]``, grouped by file, in threads."""
    by_file: dict[str, list] = {}
    for z, header in enumerate(slices):
        by_file.setdefault(header.file, []).append((header, z))
    jobs = list(by_file.values())
    threads = max(1, min(settings.decode_threads, len(jobs)))
    tally = SliceTally()
    if threads == 1:
        for job in jobs:
            tally.add(decode_file(job, stack))
        return tally
    with ThreadPoolExecutor(threads) as pool:
        for result in pool.map(lambda job: decode_file(job, stack), jobs):
            tally.add(result)
    return tally


def _check_duplicates(record: SeriesRecord, plan: StackPlan, settings: Settings, warnings: list[str]) -> None:
    """Images sharing a position: identical pixels -> drop with a warning; different -> error."""
    for group in plan.duplicate_groups:
        slices = [plan.slices[i] for i in group]
        pixels = np.empty((len(group), slices[0].rows, slices[0].columns), dtype=np.int16)
        _decode_all(slices, pixels, settings)
        names = ", ".join(s.label for s in slices)
        if not all(np.array_equal(pixels[0], other) for other in pixels[1:]):
            along_mm = float(slices[0].position_lps_mm @ plan.direction[:, 2])
            raise DuplicateSliceError(
                f"series {record.series_uid}: {names} share one position "
                f"({along_mm:.2f} mm along the normal) with different pixels"
            )
        warnings.append(
            f"series {record.series_uid}: {names} share one position with identical pixels; "
            f"kept {slices[0].label}"
        )
