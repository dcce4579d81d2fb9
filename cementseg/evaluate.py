"""Score a scan against ground truth: leaks found with the right location, false leaks, volume.

Truth is a label volume on the CT grid in the phantom's format (docs/findings-schema.md,
"Scoring"): 1 intended fill, 2-12 leak locations (`vocabulary.LOCATIONS`), 20-22 confounders
(metal, contrast, calcification), 0 elsewhere. Each 26-connected run of one leak code is one
truth leak. A prediction is the findings JSON plus its label volume (component ids).

* A truth leak is *found* when a predicted leak component covers at least one of its voxels
  (after a one-voxel dilation, so a one-voxel offset at a partial-volumed edge still counts); its
  predicted location is that of the predicted leak covering most of its own voxels (of the
  dilated ones only when none of its own is covered: the dilation must not let a larger
  neighbouring leak outvote a small one).
* A predicted leak is *false* when it touches no truth leak; it is a *fill called leak* when most
  of its voxels are intended fill, a *confounder called leak* when most are metal/contrast/calcium.
* Volume error: (predicted - true) / true total leak volume, the truth from the manifest's
  ``volume_ml`` values when a manifest is given (geometric, sub-voxel exact), else from voxels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cc3d
import numpy as np
from scipy import ndimage

from .errors import InputError
from .vocabulary import LOCATIONS, MATERIAL_TRUTH_CODES

FILL = 1
LEAK_CODES = range(2, 13)
CONFOUNDER_CODES = tuple(MATERIAL_TRUTH_CODES.values())


@dataclass
class CaseScore:
    """The score of one scan.

    Attributes:
        name: case name (folder or file stem).
        truth_leaks: one dict per truth leak: location, volume_ml, required, found, predicted_location.
        false_leaks: one dict per false predicted leak: id, location, volume_ml, kind.
        truth_leak_volume_ml, predicted_leak_volume_ml: totals.
        min_leak_ml: truth leaks at least this big are required to be found.
    """

    name: str
    truth_leaks: list[dict[str, Any]]
    false_leaks: list[dict[str, Any]]
    truth_leak_volume_ml: float
    predicted_leak_volume_ml: float
    min_leak_ml: float
    cement_on_confounder: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def required(self) -> list[dict[str, Any]]:
        return [leak for leak in self.truth_leaks if leak["required"]]

    @property
    def sensitivity(self) -> float | None:
        """Fraction of required truth leaks found with the right location (None if there are none)."""
        required = self.required
        if not required:
            return None
        return sum(leak["found"] and leak["location_correct"] for leak in required) / len(required)

    @property
    def detection_rate(self) -> float | None:
        """Fraction of required truth leaks found, whatever the location."""
        required = self.required
        return sum(leak["found"] for leak in required) / len(required) if required else None

    @property
    def volume_error(self) -> float | None:
        """(predicted - true) / true total leak volume; None when the truth has no leak."""
        if self.truth_leak_volume_ml <= 0:
            return None
        return (self.predicted_leak_volume_ml - self.truth_leak_volume_ml) / self.truth_leak_volume_ml

    @property
    def fills_called_leak(self) -> int:
        return sum(leak["kind"] == "fill called leak" for leak in self.false_leaks)

    def confusion(self) -> dict[str, dict[str, int]]:
        """truth location -> predicted location ("missed" when not found) -> count, required leaks."""
        table: dict[str, dict[str, int]] = {}
        for leak in self.required:
            predicted = leak["predicted_location"] if leak["found"] else "missed"
            row = table.setdefault(leak["location"], {})
            row[predicted] = row.get(predicted, 0) + 1
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sensitivity": self.sensitivity,
            "detection_rate": self.detection_rate,
            "false_leak_count": len(self.false_leaks),
            "fills_called_leak": self.fills_called_leak,
            "cement_on_confounder": self.cement_on_confounder,
            "truth_leak_volume_ml": round(self.truth_leak_volume_ml, 4),
            "predicted_leak_volume_ml": round(self.predicted_leak_volume_ml, 4),
            "volume_error": None if self.volume_error is None else round(self.volume_error, 4),
            "confusion": self.confusion(),
            "truth_leaks": self.truth_leaks,
            "false_leaks": self.false_leaks,
            "notes": self.notes,
        }


def score_case(
    findings: dict[str, Any],
    predicted_labels: np.ndarray,
    truth_labels: np.ndarray,
    voxel_volume_mm3: float,
    manifest: dict[str, Any] | None = None,
    min_leak_ml: float = 0.02,
    name: str = "case",
    truth_instances: np.ndarray | None = None,
) -> CaseScore:
    """Score one scan (findings JSON dict + its label volume) against a truth label volume.

    With ``truth_instances`` (the phantom's per-object id volume) and a manifest, each manifest
    leak is one truth leak; otherwise each 26-connected run of one leak code is.
    """
    if predicted_labels.shape != truth_labels.shape:
        raise InputError(
            f"{name}: predicted labels {predicted_labels.shape} and truth {truth_labels.shape} differ in shape"
        )
    components = {c["id"]: c for c in findings["components"]}
    leak_ids = np.array(sorted(i for i, c in components.items() if c["is_leak"]), dtype=np.int64)
    cement_ids = np.array(
        sorted(i for i, c in components.items() if c["material"] == "cement"), dtype=np.int64
    )
    predicted = predicted_labels.astype(np.int64, copy=False)
    leak_mask = np.isin(predicted, leak_ids)

    truth_leaks = []
    covered_predictions: set[int] = set()
    for leak in _truth_leak_objects(truth_labels, truth_instances, manifest, voxel_volume_mm3):
        grown_box, grown = _dilated(leak["labels"], leak["box"], leak["label"])
        hits = predicted[grown_box][grown & leak_mask[grown_box]]
        ids = np.unique(hits)
        covered_predictions.update(int(i) for i in ids)
        own = leak["labels"][grown_box] == leak["label"]
        own_hits = predicted[grown_box][own & leak_mask[grown_box]]
        majority = np.unique(own_hits if own_hits.size else hits, return_counts=True)
        predicted_location = (
            components[int(majority[0][np.argmax(majority[1])])]["location"] if len(ids) else None
        )
        under = predicted[grown_box][grown]
        under = under[under > 0]
        covered_by = None
        if under.size:  # what the scan made of it: helps to tell a material error from a location error
            best = components.get(int(np.bincount(under).argmax()))
            covered_by = f"{best['material']} {best['location'] or ''}".strip() if best else None
        truth_leaks.append(
            {
                "location": leak["location"],
                "volume_ml": round(leak["volume_ml"], 5),
                "required": leak["volume_ml"] >= min_leak_ml,
                "found": bool(len(ids)),
                "predicted_location": predicted_location,
                "location_correct": predicted_location == leak["location"],
                "covered_by": covered_by,
                **({"manifest_id": leak["manifest_id"]} if "manifest_id" in leak else {}),
            }
        )

    false_leaks = []
    for component_id in leak_ids:
        if int(component_id) in covered_predictions:
            continue
        under = truth_labels[predicted == component_id]
        fill_share = float(np.mean(under == FILL)) if under.size else 0.0
        confounder_share = float(np.mean(np.isin(under, CONFOUNDER_CODES))) if under.size else 0.0
        kind = (
            "fill called leak"
            if fill_share > 0.5
            else "confounder called leak"
            if confounder_share > 0.5
            else "no cement there"
        )
        component = components[int(component_id)]
        false_leaks.append(
            {
                "id": int(component_id),
                "location": component["location"],
                "volume_ml": component["volume_ml"],
                "kind": kind,
            }
        )

    confounder_mask = np.isin(truth_labels, CONFOUNDER_CODES)
    cement_on_confounder = 0
    for component_id in cement_ids:
        under = confounder_mask[predicted == component_id]
        if under.size and under.mean() > 0.5:
            cement_on_confounder += 1

    notes = []
    truth_volume = sum(leak["volume_ml"] for leak in truth_leaks)
    if manifest is not None and manifest.get("leaks") is not None:
        truth_volume = float(sum(_manifest_volume_ml(leak) for leak in manifest["leaks"]))
        notes.append("truth leak volume from the manifest (geometric_volume_ml where given)")
    predicted_volume = float(sum(components[int(i)]["volume_ml"] for i in leak_ids))
    return CaseScore(
        name=name,
        truth_leaks=truth_leaks,
        false_leaks=false_leaks,
        truth_leak_volume_ml=truth_volume,
        predicted_leak_volume_ml=predicted_volume,
        min_leak_ml=min_leak_ml,
        cement_on_confounder=cement_on_confounder,
        notes=notes,
    )


def score_scan(findings, case, name: str = "") -> CaseScore:
    """Score `Findings` of a phantom or inserted-cement case (anything with ``volume``, ``truth``,
    ``manifest`` and ``instances``, like `cementseg.phantom.PhantomCase`) against its truth."""
    return score_case(
        findings.to_dict(),
        findings.label_volume(),
        case.truth,
        case.volume.voxel_volume_mm3,
        manifest=case.manifest,
        truth_instances=case.instances,
        name=name,
    )


def _manifest_volume_ml(leak: dict) -> float:
    return float(leak.get("geometric_volume_ml", leak["volume_ml"]))


def _truth_leak_objects(truth_labels, truth_instances, manifest, voxel_volume_mm3) -> list[dict]:
    """One dict per truth leak: a label volume, its box and label there, location, volume (mL)."""
    if truth_instances is not None and manifest is not None:
        boxes = ndimage.find_objects(truth_instances)
        objects = []
        for leak in manifest["leaks"]:
            box = boxes[leak["id"] - 1] if leak["id"] <= len(boxes) else None
            if box is not None:
                objects.append(
                    {
                        "labels": truth_instances,
                        "box": box,
                        "label": leak["id"],
                        "location": leak["location"],
                        "volume_ml": _manifest_volume_ml(leak),
                        "manifest_id": leak["id"],
                    }
                )
        return objects
    leak_codes = np.where(np.isin(truth_labels, list(LEAK_CODES)), truth_labels, 0).astype(np.uint16)
    parts = cc3d.connected_components(leak_codes, connectivity=26)
    objects = []
    for box, label in _objects(parts):
        region = parts[box] == label
        objects.append(
            {
                "labels": parts,
                "box": box,
                "label": label,
                "location": LOCATIONS[int(truth_labels[box][region][0])],
                "volume_ml": float(region.sum() * voxel_volume_mm3 / 1000.0),
            }
        )
    return objects


def _objects(labels: np.ndarray):
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is not None:
            yield box, index


def _dilated(labels: np.ndarray, box, label: int):
    grown_box = tuple(
        slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, labels.shape, strict=True)
    )
    region = labels[grown_box] == label
    return grown_box, ndimage.binary_dilation(region, structure=np.ones((3, 3, 3), bool))


def read_labels(path: str | Path) -> tuple[np.ndarray, Any]:
    """(z, y, x) integer array and the SimpleITK image (for its geometry) of a label file."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: label file not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"{path}: cannot read labels ({str(error).splitlines()[0]})") from error
    return sitk.GetArrayFromImage(image), image


def score_files(
    findings_json: str | Path,
    predicted_labels: str | Path,
    truth_labels: str | Path,
    manifest: str | Path | None = None,
    min_leak_ml: float = 0.02,
    name: str | None = None,
    truth_instances: str | Path | None = None,
) -> CaseScore:
    """`score_case` on files; the label volumes must share their grid (size, spacing, origin).

    ``truth_instances`` (the phantom's instances.nii.gz, object ids of the manifest) makes each
    manifest leak one truth leak.
    """
    findings = _read_json(findings_json)
    predicted, predicted_image = read_labels(predicted_labels)
    truth, truth_image = read_labels(truth_labels)
    instances = read_labels(truth_instances)[0] if truth_instances else None
    for what in ("GetSize", "GetSpacing", "GetOrigin"):
        a, b = getattr(predicted_image, what)(), getattr(truth_image, what)()
        if not np.allclose(a, b, atol=1e-3):
            raise InputError(
                f"{truth_labels}: grid differs from {predicted_labels} ({what[3:].lower()} {b} vs {a})"
            )
    return score_case(
        findings,
        predicted,
        truth,
        float(np.prod(truth_image.GetSpacing())),
        manifest=_read_json(manifest) if manifest else None,
        min_leak_ml=min_leak_ml,
        name=name or Path(findings_json).parent.name,
        truth_instances=instances,
    )


def _read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from error


def summarise(scores: list[CaseScore]) -> dict[str, Any]:
    """Totals over many cases: sensitivity, false leaks per scan, worst volume error, confusion."""
    required = [leak for s in scores for leak in s.required]
    confusion: dict[str, dict[str, int]] = {}
    for score in scores:
        for truth, row in score.confusion().items():
            for predicted, count in row.items():
                confusion.setdefault(truth, {}).setdefault(predicted, 0)
                confusion[truth][predicted] += count
    errors = [abs(s.volume_error) for s in scores if s.volume_error is not None]
    return {
        "cases": len(scores),
        "required_leaks": len(required),
        "sensitivity": (sum(leak["found"] and leak["location_correct"] for leak in required) / len(required))
        if required
        else None,
        "false_leaks_per_scan": sum(len(s.false_leaks) for s in scores) / len(scores) if scores else None,
        "fills_called_leak": sum(s.fills_called_leak for s in scores),
        "cement_on_confounder": sum(s.cement_on_confounder for s in scores),
        "max_abs_volume_error": max(errors) if errors else None,
        "confusion": confusion,
    }


#: scenarios that hold no leak: any leak finding on them is a false alarm
NEGATIVE_CONTROLS = ("clean_fill", "hardware_no_cement", "ctpa_no_cement")


def bar_failures(score: CaseScore, negative_control: bool, max_volume_error: float = 0.15) -> list[str]:
    """Why one scored case misses the accuracy bar (empty when it meets it).

    The bar: every required leak found with the right location; no intended fill called a leak;
    no confounder (metal, contrast, calcification) called cement; no leak finding at all on a
    negative control; total leak volume within ``max_volume_error`` of the truth.
    """
    failures = []
    for leak in score.required:
        if not leak["found"]:
            what = f", scanned as {leak['covered_by']}" if leak.get("covered_by") else ", not a candidate"
            failures.append(f"missed {leak['location']} leak ({leak['volume_ml']:.3f} mL{what})")
        elif not leak["location_correct"]:
            failures.append(f"{leak['location']} leak called {leak['predicted_location']}")
    if score.fills_called_leak:
        failures.append(f"{score.fills_called_leak} intended fill part(s) called leak")
    if score.cement_on_confounder:
        failures.append(f"{score.cement_on_confounder} confounder(s) called cement")
    if negative_control and score.false_leaks:
        failures.append(f"{len(score.false_leaks)} leak finding(s) on a case without leak")
    error = score.volume_error
    if error is not None and abs(error) > max_volume_error:
        failures.append(f"leak volume off by {100 * error:+.0f}%")
    return failures
