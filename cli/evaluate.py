"""`cementseg evaluate`: score scans against ground-truth labels (one case, or a folder of cases)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import one_line_errors

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("evaluate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--manifest", type=_FILE, help="Truth manifest (JSON).")
@click.option(
    "--instances", type=_FILE, help="Truth object ids; with --manifest, one truth leak per manifest leak."
)
@click.option("--min-leak-ml", default=0.02, show_default=True, help="Truth leaks this big must be found.")
@click.option("--findings-name", default="findings.json", show_default=True, help="Folder mode: findings.")
@click.option("--labels-name", default="labels.nii.gz", show_default=True, help="Folder mode: labels.")
@click.option("--truth-name", default="truth.nii.gz", show_default=True, help="Folder mode: truth.")
@click.option("--manifest-name", default="manifest.json", show_default=True, help="Folder mode: manifest.")
@click.option(
    "--instances-name", default="instances.nii.gz", show_default=True, help="Folder mode: object ids."
)
@click.option(
    "--json", "json_out", metavar="FILE|-", help="Write the scores as JSON to FILE, or stdout with '-'."
)
@one_line_errors
def evaluate_command(paths, manifest, instances, min_leak_ml, json_out, **names):
    """Score predictions against truth.

    \b
    One case:   cementseg evaluate PRED_JSON PRED_LABELS TRUTH_LABELS [--manifest M] [--instances I]
    Many cases: cementseg evaluate FOLDER   (each sub-folder holding findings.json and
                labels.nii.gz from `cementseg scan --out`, plus truth.nii.gz and optionally
                manifest.json and instances.nii.gz as `cementseg phantom` writes them)

    Truth labels: 1 intended fill, 2-12 leak locations, 20 metal, 21 contrast, 22 calcification.
    """
    from cementseg.evaluate import score_files, summarise  # scipy and cc3d only when scoring

    if len(paths) == 3:
        scores = [score_files(*paths, manifest=manifest, min_leak_ml=min_leak_ml, truth_instances=instances)]
    elif len(paths) == 1 and paths[0].is_dir():
        scores = [
            _score_folder(case, min_leak_ml, **names) for case in _cases(paths[0], names["findings_name"])
        ]
    else:
        raise click.UsageError("give PRED_JSON PRED_LABELS TRUTH_LABELS, or one FOLDER of cases")

    summary = summarise(scores)
    if json_out:
        text = json.dumps({"summary": summary, "cases": [s.to_dict() for s in scores]}, indent=2)
        if json_out == "-":
            click.echo(text)
            return
        Path(json_out).write_text(text + "\n")
    for score in scores:
        click.echo(
            f"{score.name}: sensitivity {_pct(score.sensitivity)}, found {_pct(score.detection_rate)}, "
            f"false leaks {len(score.false_leaks)} ({score.fills_called_leak} fills), "
            f"leak volume {score.predicted_leak_volume_ml:.3f} / {score.truth_leak_volume_ml:.3f} mL "
            f"(error {_pct(score.volume_error)})"
        )
    click.echo(
        f"all: {summary['cases']} case(s), {summary['required_leaks']} leak(s) >= {min_leak_ml} mL, "
        f"sensitivity {_pct(summary['sensitivity'])}, false leaks per scan {summary['false_leaks_per_scan']:.2f}, "
        f"worst volume error {_pct(summary['max_abs_volume_error'])}"
    )
    for truth, row in sorted(summary["confusion"].items()):
        click.echo(f"  {truth:>26} -> " + ", ".join(f"{k} {v}" for k, v in sorted(row.items())))


def _cases(folder: Path, findings_name: str) -> list[Path]:
    cases = sorted(p for p in folder.iterdir() if (p / findings_name).is_file())
    if not cases:
        raise click.UsageError(f"no sub-folder of {folder} holds {findings_name}")
    return cases


def _score_folder(
    case: Path, min_leak_ml, findings_name, labels_name, truth_name, manifest_name, instances_name
):
    from cementseg.evaluate import score_files

    def optional(name: str) -> Path | None:
        return case / name if (case / name).is_file() else None

    return score_files(
        case / findings_name,
        case / labels_name,
        case / truth_name,
        manifest=optional(manifest_name),
        min_leak_ml=min_leak_ml,
        name=case.name,
        truth_instances=optional(instances_name),
    )


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"
