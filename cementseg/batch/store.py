"""The batch output folder: atomic writes, per-series result records, and resume.

Every file is written to ``<name>.partial-<pid>`` and then `os.replace`d, so a killed batch
leaves either the old file, the new file, or a ``.partial-`` file that the next run deletes.
A series is finished when its ``result.json`` (written last) exists with the same settings digest.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .rows import SeriesRow

log = logging.getLogger(__name__)

RESULT_NAME = "result.json"
PARTIAL_MARK = ".partial-"


def write_atomic(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}{PARTIAL_MARK}{os.getpid()}")
    with open(temporary, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    return path


def save_outcome(out: Path, row: SeriesRow, files: dict[str, bytes]) -> None:
    """Write a series' output files, then its result record (which marks it finished)."""
    folder = out / row.result_dir
    for name, content in files.items():
        write_atomic(folder / name, content)
    write_atomic(folder / RESULT_NAME, (json.dumps(row.to_dict(), indent=1) + "\n").encode())


def remove_partials(out: Path) -> int:
    """Delete the half-written files a killed run left behind; returns how many."""
    removed = 0
    for path in out.rglob(f"*{PARTIAL_MARK}*"):
        if path.is_file():
            path.unlink()
            removed += 1
    if removed:
        log.info("removed %d half-written file(s) of an earlier run", removed)
    return removed


def finished_rows(out: Path, digest: str) -> dict[str, SeriesRow]:
    """SeriesInstanceUID -> row of every series already done with these settings.

    Series that failed on their input count as done (the input will fail again); internal
    errors are retried.
    """
    done: dict[str, SeriesRow] = {}
    for path in (out / "series").glob(f"*/*/{RESULT_NAME}"):
        try:
            row = SeriesRow.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            log.warning("ignoring unreadable result record %s (%s)", path, error)
            continue
        if row.settings_digest == digest and row.status in ("ok", "failed"):
            done[row.series_uid] = row
    return done
