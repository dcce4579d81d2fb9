"""The per-series HTML report, DICOM SEG and DICOM SR of a batch, made by `cementseg.report`.

The batch does not write reports of its own: it calls the report package
(`cementseg.report.outputs.write_outputs`) and fails with a one-line error, before scanning
anything, when that package is not installed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import SettingsError

#: report kind -> file name in the series folder (a ``write_outputs`` keyword of the same name)
REPORT_FILES: dict[str, str] = {"report": "report.html", "dicom_seg": "seg.dcm", "dicom_sr": "sr.dcm"}


def _write_outputs():
    try:
        from ..report.outputs import write_outputs
    except ImportError as error:
        raise SettingsError(f"reports need cementseg.report.outputs.write_outputs, which this installation of "
                            f"cementseg does not have ({error})") from error
    return write_outputs


def require_reports(kinds: tuple[str, ...]) -> None:
    """Raise SettingsError before a batch starts for an unknown kind or a missing report package."""
    unknown = set(kinds) - set(REPORT_FILES)
    if unknown:
        raise SettingsError(f"unknown report kind(s) {', '.join(sorted(unknown))}; choose from "
                            f"{', '.join(REPORT_FILES)}")
    if kinds:
        _write_outputs()


def render_reports(kinds: tuple[str, ...], findings, volume, source_files: list[str]) -> dict[str, bytes]:
    """file name -> bytes of each report of ``kinds`` for one scanned series.

    DICOM SEG and SR carry the source series' patient and study modules (so a PACS files them
    with the images); the HTML report and the findings JSON do not.
    """
    if not kinds:
        return {}
    write_outputs = _write_outputs()
    with tempfile.TemporaryDirectory(prefix="cementseg-report-") as scratch:
        targets = {kind: Path(scratch) / REPORT_FILES[kind] for kind in kinds}
        write_outputs(findings, source_files, volume=volume, **targets)
        return {path.name: path.read_bytes() for path in sorted(Path(scratch).iterdir()) if path.is_file()}
