"""Which series a batch scans: every CT series under a root folder, as small picklable jobs.

Output folders are built from UIDs only (`safe_uid`), never from patient names, folder names
or free-text tags.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..io import find_series
from ..io.records import SeriesRecord

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def safe_uid(uid: str | None, missing: str = "no-uid") -> str:
    """``uid`` when it is a well-formed DICOM UID (digits and dots, <= 64 chars), else a hash of it.

    Discovery names file-based series ``file:<file name>``; a file name can hold a patient name,
    so anything that is not a plain UID becomes ``h-<sha256 prefix>``.
    """
    if not uid:
        return missing
    if len(uid) <= 64 and _UID.fullmatch(uid):
        return uid
    return "h-" + hashlib.sha256(uid.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SeriesJob:
    """One series to scan: its UIDs, its files and where its results go (relative to the output).

    ``series_uid`` is what discovery calls the series (``file:<name>`` for a NIfTI/NRRD/MHA file);
    `key` is what every output shows. ``redactions`` are (text, replacement) pairs applied to
    everything written: the series' folders and, for image files, the file path and its name.
    """

    series_uid: str
    study_uid: str | None
    files: tuple[str, ...]
    redactions: tuple[tuple[str, str], ...] = field(default=())

    @property
    def key(self) -> str:
        """The series UID as outputs show it (`safe_uid`): summary rows, resume records, folders."""
        return safe_uid(self.series_uid)

    @property
    def result_dir(self) -> str:
        """``series/<study>/<series>``: sanitised UIDs only."""
        return f"series/{safe_uid(self.study_uid, 'no-study')}/{self.key}"


@dataclass
class Discovery:
    """What a batch found under its root: CT jobs, series left out (with reasons), files skipped."""

    jobs: list[SeriesJob]
    not_scanned: list[tuple[SeriesJob, str]]
    skipped_files: int


def _is_ct(record: SeriesRecord) -> bool:
    return record.modality == "CT" or (record.source == "image_file" and record.modality is None)


def _job(record: SeriesRecord) -> SeriesJob:
    files = tuple(record.files)
    folders = {str(Path(f.split("!/")[0]).parent) for f in files} - {"/", "."}
    pairs = {(folder + "/", "") for folder in folders} | {(folder, "<series folder>") for folder in folders}
    if record.source == "image_file":  # its name is free text: hide the file as well
        pairs |= {(f, "<image file>") for f in files} | {(Path(f).name, "<image file>") for f in files}
        pairs.add((record.series_uid, safe_uid(record.series_uid)))
    redactions = tuple(sorted(pairs, key=lambda pair: len(pair[0]), reverse=True))
    return SeriesJob(record.series_uid, record.study_uid, files, redactions)


def discover_jobs(root: str | os.PathLike) -> Discovery:
    """Every CT series under ``root`` (non-CT series and localizers are listed as not scanned)."""
    scan = find_series(Path(root).resolve())  # absolute paths: folder redaction must not hit "." or UIDs
    jobs: list[SeriesJob] = []
    not_scanned: list[tuple[SeriesJob, str]] = []
    for record in scan.series:
        job = _job(record)
        if not _is_ct(record):
            not_scanned.append((job, f"not CT (modality {record.modality or 'unknown'})"))
        elif record.is_localizer:
            not_scanned.append((job, "localizer (scout) series"))
        else:
            jobs.append(job)
    return Discovery(jobs=jobs, not_scanned=not_scanned, skipped_files=len(scan.skipped))
