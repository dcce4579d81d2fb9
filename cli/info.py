"""`cementseg info PATH`: the series found, the one `load` would choose, skipped files, warnings."""

from __future__ import annotations

import click

from cementseg.errors import CementsegError
from cementseg.io import choose_series, find_series
from cementseg.io.geometry import plan_stack
from cementseg.io.records import SeriesRecord
from cementseg.settings import Settings

from .common import one_line_errors

COLUMNS = ("", "series", "modality", "image type", "description", "images", "matrix", "thickness mm",
           "pixel mm", "kernel", "contrast", "date")


def _row(record: SeriesRecord, chosen: bool) -> tuple[str, ...]:
    spacing = record.pixel_spacing_mm
    return (
        "*" if chosen else "",
        record.series_uid,
        record.modality or "-",
        "\\".join(record.image_type[:3]) or "-",
        record.description or "-",
        str(record.n_images),
        f"{record.rows}x{record.columns}",
        f"{record.slice_thickness_mm:g}" if record.slice_thickness_mm else "-",
        f"{spacing[0]:.3g}x{spacing[1]:.3g}" if spacing else "-",
        record.kernel or "-",
        record.contrast_agent or "-",
        record.acquisition_date or "-",
    )


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


@click.command("info")
@click.argument("path")
@click.option("--series", metavar="UID", help="Mark this SeriesInstanceUID instead of the automatic choice.")
@click.option("--force", is_flag=True, help="Allow a non-CT series to be chosen.")
@one_line_errors
def info(path: str, series: str | None, force: bool) -> None:
    """List the image series under PATH; '*' marks the one `cementseg.io.load` would take."""
    scan = find_series(path)
    choice, because = None, None
    try:
        choice, because = choose_series(scan, series, force)
    except CementsegError as error:
        if not scan.series:
            raise
        because = f"none: {error}"
    if scan.series:
        rows = [COLUMNS] + [_row(record, record is choice) for record in scan.series]
        click.echo(_table(rows))
    click.echo(f"\nchosen: {choice.series_uid if choice else '-'} ({because})")
    if choice is not None and choice.slices:
        _echo_geometry(choice)
    if scan.skipped:
        click.echo(f"\nskipped {len(scan.skipped)} file(s):")
        for file, reason in scan.skipped:
            click.echo(f"  {file}: {reason}")


def _echo_geometry(record: SeriesRecord) -> None:
    """Header-only geometry check of the chosen series: its warnings, or why it cannot load."""
    try:
        plan = plan_stack(record, Settings())
    except CementsegError as error:
        click.echo(f"\nerror (load would refuse): {error}")
        return
    for warning in record.warnings + plan.warnings:
        click.echo(f"warning: {warning}")
    for file, reason in record.damaged_files:
        click.echo(f"error (load would refuse): damaged file {file}: {reason}")
