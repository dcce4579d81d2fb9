"""Input files: expand a path (folder, file, list, .zip) to file references, and open them.

A file reference is a plain path string; a member of a zip archive is written
``archive.zip!/member/path``.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

ZIP_SEPARATOR = "!/"


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """All file references under ``paths`` (recursive for folders, members for .zip), sorted."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    refs: list[str] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            refs.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file())
        elif zipfile.is_zipfile(path):
            refs.extend(_zip_members(path))
        else:
            refs.append(str(path))
    return refs


def _zip_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
    return [f"{path}{ZIP_SEPARATOR}{name}" for name in sorted(names)]


def open_binary(ref: str) -> BinaryIO:
    """A readable, seekable binary stream for a file reference (zip members are read into memory)."""
    if ZIP_SEPARATOR in ref:
        archive_path, member = ref.split(ZIP_SEPARATOR, 1)
        with zipfile.ZipFile(archive_path) as archive:
            return io.BytesIO(archive.read(member))
    return open(ref, "rb")
