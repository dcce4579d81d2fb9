"""`cementseg scan PATH`: run the detector, print a table and a one-line verdict, choose the exit code."""

from __future__ import annotations

import gc
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import click

from cementseg.vocabulary import SEVERITIES

from .common import EXIT_FINDINGS, one_line_errors
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
@click.option("--all", "show_all", is_flag=True, help="List every candidate (bone, metal, contrast...) with its reason.")
@report_options  # --report --png --csv --dicom-seg --dicom-sr (issue 6)
@one_line_errors
def scan_command(
    path, series, json_out, labels_out, out_dir, anatomy, anatomy_engine, totalseg_fast, fail_on, quiet,
    show_all, **report_outputs,
) -> None:
    """Find bone-cement leakage on the CT at PATH.

    Exit codes: 0 no leak at or above --fail-on, 1 such a leak found, 2 usage error,
    3 input error (unreadable or unusable series), 4 internal error.
    """
    from cementseg.pipeline import scan

    if anatomy is not None and anatomy_engine != "builtin":
        raise click.UsageError("give either --anatomy or --anatomy-engine totalsegmentator, not both")
    with _collector_paused():
        findings = scan(  # a CementsegError exits 3, anything else 4 (one_line_errors)
            path,
            series=series,
            anatomy=anatomy,
            anatomy_engine=anatomy_engine,
            anatomy_cache_dir=_cache_dir(out_dir, json_out, labels_out),
            totalseg_fast=totalseg_fast,
        )

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
        _print_table(findings, show_all)
    write_report_outputs(findings, path, **report_outputs)  # issue 6: after the table, before the exit code
    click.echo(findings.verdict(), err=json_to_stdout)
    if findings.at_or_above(fail_on):
        sys.exit(EXIT_FINDINGS)


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off for the one scan of this command: its passes over the
    million objects that importing SciPy and pydicom creates cost 0.05-0.1 s, and a scan leaves
    almost no cyclic garbage (about a thousand objects)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _cache_dir(out_dir, json_out, labels_out) -> Path | None:
    """Where TotalSegmentator's output is cached: the --out folder, else beside --json / --labels."""
    if out_dir is not None:
        return out_dir
    for target in (json_out, labels_out):
        if target and str(target) != "-":
            return Path(target).parent
    return None


def _print_table(findings, show_all: bool = False) -> None:
    """The cement table (fills and leaks), reasons for leaks, a count of the rest; ``show_all``: every candidate."""
    from rich.console import Console

    console = Console(width=max(140, Console().width))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    cement = sorted(
        (c for c in findings.components if c.material == "cement"),
        key=lambda c: (not c.is_leak, -rank[c.severity], c.id),
    )
    if show_all:
        others = sorted((c for c in findings.components if c.material != "cement"), key=lambda c: c.id)
        console.print(_table(findings, cement + others, with_material=True, with_reason=True))
    else:
        if cement:
            console.print(_table(findings, cement, with_material=False, with_reason=False))
        for c in cement:
            if c.is_leak:
                console.print(f"  {c.id}: {c.reason}", highlight=False, soft_wrap=True)
        others = Counter(c.material for c in findings.components if c.material != "cement")
        if others:
            counts = ", ".join(f"{n} {material}" for material, n in sorted(others.items()))
            console.print(f"Not cement: {counts} candidate(s) (--all lists them).", highlight=False)
    for warning in findings.input.get("loader_warnings", []) + findings.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _table(findings, components, with_material: bool, with_reason: bool):
    from rich.table import Table

    table = Table(title=f"cementseg findings - series {findings.input.get('series_uid') or '?'}")
    headers = ["id"] + (["material"] if with_material else []) + [
        "location", "leak", "severity", "level", "source", "mL", "length mm", "dist mm", "conf",
    ]
    for header in headers:
        table.add_column(header, no_wrap=True)
    if with_reason:
        table.add_column("reason", ratio=1)
    for c in components:
        row = [str(c.id)] + ([c.material] if with_material else []) + [
            c.location or "-",
            "yes" if c.is_leak else "no",
            c.severity,
            c.vertebral_level or "?",
            c.source_vertebra or "-",
            f"{c.volume_ml:.3f}",
            f"{c.length_mm:.0f}",
            f"{c.distance_to_vertebral_body_mm:.0f}",
            f"{c.confidence:.2f}",
        ]
        table.add_row(*row, *([c.reason] if with_reason else []))
    return table
