"""`cementseg scan PATH`: run the detector, print a table and a one-line verdict, choose the exit code."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from cementseg.errors import CementsegError
from cementseg.vocabulary import SEVERITIES

from .common import EXIT_FINDINGS, EXIT_INTERNAL_ERROR, one_line_errors
from .report_options import report_options, write_report_outputs  # issue 6 outputs

FAIL_ON = ("critical", "warning", "info", "never")


@click.command("scan")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--series", metavar="UID", help="SeriesInstanceUID to scan when PATH holds several series.")
@click.option(
    "--json", "json_out", metavar="FILE|-", help="Write the findings JSON to FILE, or to stdout with '-'."
)
@click.option(
    "--labels",
    "labels_out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.nii.gz",
    help="Write a label volume (component ids) on the CT's exact grid.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write findings.json and labels.nii.gz into this folder.",
)
@click.option(
    "--anatomy",
    type=click.Path(exists=True, path_type=Path),
    help="External anatomy map (TotalSegmentator layout) instead of the built-in one.",
)
@click.option(  # issue 5: docs/totalsegmentator.md
    "--anatomy-engine",
    type=click.Choice(["builtin", "totalsegmentator"]),
    default="builtin",
    show_default=True,
    help="Anatomy from the built-in engine, or from TotalSegmentator when it and its weights are "
    "installed (never downloaded); its output is cached next to the scan output.",
)
@click.option("--totalseg-fast", is_flag=True, help="With --anatomy-engine totalsegmentator: its 3 mm --fast model.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="critical",
    show_default=True,
    help="Exit 1 when a leak at or above this severity is found ('never': always 0).",
)
@click.option("--quiet", is_flag=True, help="Print only the verdict line.")
@report_options  # --report --png --csv --dicom-seg --dicom-sr (issue 6)
@one_line_errors
def scan_command(
    path, series, json_out, labels_out, out_dir, anatomy, anatomy_engine, totalseg_fast, fail_on, quiet,
    **report_outputs,
) -> None:
    """Find bone-cement leakage on the CT at PATH.

    Exit codes: 0 no leak at or above --fail-on, 1 such a leak found, 2 usage error,
    3 input error (unreadable or unusable series), 4 internal error.
    """
    from cementseg.pipeline import scan

    if anatomy is not None and anatomy_engine != "builtin":
        raise click.UsageError("give either --anatomy or --anatomy-engine totalsegmentator, not both")
    try:
        findings = scan(
            path,
            series=series,
            anatomy=anatomy,
            anatomy_engine=anatomy_engine,
            anatomy_cache_dir=_cache_dir(out_dir, json_out, labels_out),
            totalseg_fast=totalseg_fast,
        )
    except CementsegError:
        raise  # one line, exit 3 (input) -- see one_line_errors
    except Exception as error:  # a bug, not a bad input: say so with exit 4, keep the traceback in the log
        logging.getLogger("cementseg").debug("internal error", exc_info=True)
        click.echo(f"cementseg: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_INTERNAL_ERROR)

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        findings.write_json(out_dir / "findings.json")
        findings.write_labels(out_dir / "labels.nii.gz")
    if labels_out is not None:
        findings.write_labels(labels_out)
    json_to_stdout = json_out == "-"
    if json_to_stdout:
        click.echo(findings.to_json())
    elif json_out:
        findings.write_json(json_out)

    if not quiet and not json_to_stdout:
        _print_table(findings)
    write_report_outputs(findings, path, **report_outputs)  # issue 6: after the table, before the exit code
    click.echo(findings.verdict(), err=json_to_stdout)
    if findings.at_or_above(fail_on):
        sys.exit(EXIT_FINDINGS)


def _cache_dir(out_dir, json_out, labels_out) -> Path | None:
    """Where TotalSegmentator's output is cached: the --out folder, else beside --json / --labels."""
    if out_dir is not None:
        return out_dir
    for target in (json_out, labels_out):
        if target and str(target) != "-":
            return Path(target).parent
    return None


def _print_table(findings) -> None:
    """Cement components and non-cement look-alikes; plain bone is only counted (it is in the JSON)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cementseg findings - series {findings.input.get('series_uid') or '?'}")
    for header in (
        "id",
        "material",
        "location",
        "leak",
        "severity",
        "mL",
        "length mm",
        "level",
        "source",
        "dist mm",
    ):
        table.add_column(header, no_wrap=True)
    table.add_column("conf", no_wrap=True)
    table.add_column("reason", ratio=1)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    shown = [c for c in findings.components if c.material != "bone"]
    for c in sorted(shown, key=lambda c: (c.material != "cement", not c.is_leak, -rank[c.severity], c.id)):
        table.add_row(
            str(c.id),
            c.material,
            c.location or "-",
            "yes" if c.is_leak else "no",
            c.severity,
            f"{c.volume_ml:.3f}",
            f"{c.length_mm:.0f}",
            c.vertebral_level or "?",
            c.source_vertebra or "-",
            f"{c.distance_to_vertebral_body_mm:.0f}",
            f"{c.confidence:.2f}",
            c.reason,
        )
    console = Console(width=max(140, Console().width))
    if shown:
        console.print(table)
    bone = len(findings.components) - len(shown)
    if bone:
        console.print(f"{bone} dense bone candidate(s) not shown (listed in --json).", highlight=False)
    for warning in findings.input.get("loader_warnings", []) + findings.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
