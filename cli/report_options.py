"""The `cementseg scan` options for what people look at and systems ingest (issue 6)."""

from __future__ import annotations

from pathlib import Path

import click

_FILE = click.Path(dir_okay=False, path_type=Path)

_OPTIONS = (
    click.option("--report", "report", type=_FILE, metavar="FILE.html",
                 help="Write a self-contained HTML report (verdict, table, key images)."),
    click.option("--png", "png_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                 help="Write the key images as PNG files into DIR."),
    click.option("--csv", "csv", type=_FILE, metavar="FILE.csv", help="Write one CSV row per finding."),
    click.option("--dicom-seg", "dicom_seg", type=_FILE, metavar="FILE.dcm",
                 help="Write a DICOM Segmentation of the cement (DICOM input only)."),
    click.option("--dicom-sr", "dicom_sr", type=_FILE, metavar="FILE.dcm",
                 help="Write a DICOM SR measurement report (TID 1500) referencing the SEG (DICOM input only)."),
)


def report_options(command):
    """Add the report options; the command receives them as keyword arguments."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def write_report_outputs(findings, path: Path, **outputs) -> None:
    """Write the requested outputs (nothing when none was asked for)."""
    if not any(value is not None for value in outputs.values()):
        return
    from cementseg.report.outputs import write_outputs

    written = write_outputs(findings, path, **outputs)
    skipped = [f"--{kind.replace('_', '-')}" for kind in ("dicom_seg", "dicom_sr")
               if outputs.get(kind) is not None and kind not in written]
    if skipped:
        click.echo(f"cementseg: no cement found, nothing written for {' '.join(skipped)}", err=True)
