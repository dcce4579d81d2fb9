"""`find_series`: walk folders, DICOMDIRs, single files, file lists and .zip archives.

Only headers are read (``stop_before_pixels``), those of large folders in several processes.
Every file that is not part of an image series is listed in `SeriesScan.skipped` with the
reason; nothing here is fatal except a path that does not exist.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..errors import CementsegError
from . import image_files
from .deid import acquisition_date, deidentified_meta
from .dicom_series import classic_slice, image_type, series_key
from .enhanced import frame_slices, is_multiframe, slice_thickness_mm
from .files import ZIP_SEPARATOR, expand_paths, open_binary
from .forked import fork_count, map_chunks
from .records import SeriesRecord, SeriesScan, SliceHeader

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: a process forked to read headers must have at least this many files to read: pydicom parses
#: about 1500 headers per second, a fork and sending the records back cost about 15 ms
MIN_FILES_PER_PROCESS = 100
_PIXEL_DATA_TAG = {
    ImplicitVRLittleEndian: b"\xe0\x7f\x10\x00",
    ExplicitVRLittleEndian: b"\xe0\x7f\x10\x00",
    ExplicitVRBigEndian: b"\x7f\xe0\x00\x10",
}
#: what a malformed or truncated header can raise inside pydicom
_HEADER_ERRORS = (
    InvalidDicomError,
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    zipfile.BadZipFile,
)


def find_series(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    processes: int = 0,
    meanwhile: Callable[[], object] | None = None,
) -> SeriesScan:
    """Every image series under ``paths`` (folder, DICOMDIR, file, list of files, .zip).

    ``processes``: read the headers in up to this many forked processes (`forked.fork_count`:
    none where forking is unsafe, none with fewer than `MIN_FILES_PER_PROCESS` files), the result
    unchanged; 0 reads them here. ``meanwhile`` runs here while they read (first, when none is forked).
    Returns a `SeriesScan`: ``.series`` (one `SeriesRecord` per SeriesInstanceUID, or per
    NIfTI/NRRD/MHA file) and ``.skipped`` ((file, reason) for every file not used).
    """
    source = str(paths) if isinstance(paths, str | os.PathLike) else ", ".join(str(p) for p in paths)
    refs = expand_paths(paths)
    dicom_refs = [r for r in dict.fromkeys(refs) if ZIP_SEPARATOR in r or not image_files.is_image_file(r)]
    forks = fork_count(processes, len(dicom_refs), MIN_FILES_PER_PROCESS, busy_here=meanwhile is not None)
    headers = dict(zip(dicom_refs, map_chunks(_read_headers, dicom_refs, forks, meanwhile), strict=True))
    skipped: list[tuple[str, str]] = []
    series: dict[str, tuple[Dataset, list[SliceHeader]]] = {}
    records: list[SeriesRecord] = []
    damaged: dict[str, list[tuple[str, str]]] = {}
    queue = list(refs)
    seen = set()
    while queue:
        ref = queue.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        if ZIP_SEPARATOR not in ref and image_files.is_image_file(ref):
            try:
                records.append(image_files.describe(ref))
            except CementsegError as error:
                skipped.append((ref, str(error)))
            continue
        header = headers[ref] if ref in headers else _read_header(ref)  # files a DICOMDIR lists
        if isinstance(header, str):
            skipped.append((ref, header))
            continue
        if header.series_key is None:
            if len(refs) == 1:  # a DICOMDIR named directly: follow its records
                queue.extend(_dicomdir_files(ref))
            else:
                skipped.append((ref, "DICOMDIR index (the files it lists are read directly)"))
            continue
        if header.damage:  # a readable header with broken pixels: its series must not load without it
            skipped.append((ref, header.damage))
            damaged.setdefault(header.series_key, []).append((ref, header.damage))
            continue
        _, slices = series.setdefault(header.series_key, (header.ds, []))  # one header per series is enough
        slices.extend(header.slices)
    for series_uid, (ds, slices) in series.items():
        records.append(_series_record(series_uid, ds, slices))
        records[-1].damaged_files = damaged.pop(series_uid, [])
    records.sort(key=lambda r: (r.study_uid or "", r.series_uid))
    return SeriesScan(series=records, skipped=skipped, source=source)


def _dicomdir_files(ref: str) -> list[str]:
    fileset = FileSet(pydicom.dcmread(ref))
    return [str(instance.path) for instance in fileset]


@dataclass
class _FileHeader:
    """One file's header: its series (`series_key`; None for a DICOMDIR), its images, and why its
    pixel data is unusable (if it is). ``ds`` is None when the series has it from another file."""

    ds: Dataset | None
    series_key: str | None
    slices: list[SliceHeader]
    damage: str | None = None


def _read_headers(refs: list[str]) -> list[_FileHeader | str]:
    """`_read_header` of each file, the dataset kept only in the first usable header of each series
    (small enough to send back from a forked process)."""
    headers: list[_FileHeader | str] = []
    kept: set[str] = set()
    for ref in refs:
        header = _read_header(ref)
        if isinstance(header, _FileHeader):
            if header.series_key is None or header.damage or header.series_key in kept:
                header.ds = None
            else:
                header.ds.buffer = None  # the closed stream of a zip member (it cannot be pickled)
                kept.add(header.series_key)
        headers.append(header)
    return headers


def _read_header(ref: str) -> _FileHeader | str:
    """The header of one file, or the reason it is skipped."""
    try:
        with open_binary(ref) as stream:
            ds = pydicom.dcmread(stream, stop_before_pixels=True)
            syntax = ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)
            pixel_offset = stream.tell()
            pixel_tag = stream.read(4)
            stream.seek(0, os.SEEK_END)
            file_size = stream.tell()
    except _HEADER_ERRORS as error:
        reason = (
            "not a DICOM file" if isinstance(error, InvalidDicomError) else f"unreadable header ({error})"
        )
        return reason
    if ds.file_meta.get("MediaStorageSOPClassUID") == DICOMDIR_SOP_CLASS:
        return _FileHeader(ds, None, [])
    if "Rows" not in ds:
        sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
        if sop_class is not None and "Image Storage" in getattr(sop_class, "name", ""):
            return f"truncated or incomplete header ({sop_class.name} without Rows)"
        return f"not an image (SOP class {sop_class.name if sop_class else 'unknown'})"
    expected_tag = _PIXEL_DATA_TAG.get(syntax)
    if expected_tag is not None and pixel_tag != expected_tag:
        return "no pixel data"
    offset = None
    try:
        if is_multiframe(ds):
            slices = frame_slices(ds, ref, str(syntax))
        else:
            offset = pixel_offset if syntax in (ImplicitVRLittleEndian, ExplicitVRLittleEndian) else None
            slices = [classic_slice(ds, ref, str(syntax), offset)]
    except CementsegError as error:
        return str(error)
    except (ValueError, TypeError, AttributeError) as error:
        return f"malformed image header ({error})"
    if offset is not None:
        header = slices[0]
        expected = header.rows * header.columns * header.samples_per_pixel * header.bits_allocated // 8
        available = file_size - offset - (8 if syntax == ImplicitVRLittleEndian else 12)
        if available < expected:
            damage = f"truncated: pixel data has {max(available, 0)} of {expected} bytes"
            return _FileHeader(ds, series_key(ds, ref), [], damage)
    return _FileHeader(ds, series_key(ds, ref), slices)


def _series_record(series_uid: str, ds: Dataset, slices: list[SliceHeader]) -> SeriesRecord:
    files = sorted({s.file for s in slices})
    multiframe = any(s.frame is not None for s in slices)
    spacing = slices[0].pixel_spacing_mm
    thickness = slice_thickness_mm(ds) if multiframe else ds.get("SliceThickness")
    meta = deidentified_meta(ds)
    meta["series_uid"] = series_uid
    meta["slice_thickness_mm"] = float(thickness) if thickness not in (None, "") else None
    return SeriesRecord(
        series_uid=series_uid,
        study_uid=meta["study_uid"],
        modality=meta["modality"],
        image_type=Counter(s.image_type for s in slices).most_common(1)[0][0]
        if not multiframe
        else image_type(ds),
        description=str(ds.get("SeriesDescription", "") or ""),
        n_instances=len(files),
        rows=slices[0].rows,
        columns=slices[0].columns,
        slice_thickness_mm=meta["slice_thickness_mm"],
        pixel_spacing_mm=spacing,
        kernel=meta["kernel"],
        contrast_agent=meta["contrast_agent"],
        acquisition_date=acquisition_date(ds),
        files=[str(Path(f)) if ZIP_SEPARATOR not in f else f for f in files],
        slices=slices,
        source="enhanced_dicom" if multiframe else "dicom",
        meta=meta,
        warnings=[
            f"series {series_uid}: files carry no SeriesInstanceUID; grouped by frame of reference, "
            f"series number, description, modality and folder"
        ]
        if series_uid.startswith("no-uid:")
        else [],
    )
