"""What a scan found: one `Component` per cement part or non-cement candidate, and `Findings`.

`Findings.to_json()` is the versioned machine-readable result (schema in
docs/findings-schema.md); `Findings.label_volume()` puts each component's ``id`` on the CT
grid and `write_labels` saves it as NIfTI with exactly the series' geometry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .settings import Settings
from .vocabulary import SEVERITIES, severity_rank

SCHEMA = "cementseg.findings/1"

#: the per-component fields written to JSON and to the DataFrame, in this order
COMPONENT_FIELDS = (
    "id",
    "material",
    "location",
    "is_leak",
    "severity",
    "volume_ml",
    "voxel_count",
    "centroid_lps_mm",
    "bbox_lps_mm",
    "hu_max",
    "hu_mean",
    "length_mm",
    "vertebral_level",
    "source_vertebra",
    "distance_to_vertebral_body_mm",
    "confidence",
    "reason",
    "candidate_id",
    "evidence",
)


@dataclass
class Component:
    """One finding: a cement part (intended fill or leak) or a non-cement candidate.

    Attributes:
        id: 1-based id, also the value of its voxels in `Findings.label_volume`.
        material: cement, metal, contrast, calcification, bone or indeterminate.
        location: vocabulary location for cement (vertebral_body = intended fill); None otherwise.
        is_leak: True for cement outside the vertebral body.
        severity: none, info, warning or critical (from `Settings.severity` for leaks).
        volume_ml, voxel_count: size.
        centroid_lps_mm: centroid, LPS mm.
        bbox_lps_mm: ((min L, P, S), (max L, P, S)) of voxel centres, mm.
        hu_max, hu_mean: HU of its voxels.
        length_mm: extent along its principal axis, mm.
        vertebral_level: level name of the vertebral body nearest to it (None when unknown).
        source_vertebra: level name of the vertebra the cement came from (None when not traceable
            or when the level is unknown; `evidence["source_vertebra_id"]` keeps the body id).
        distance_to_vertebral_body_mm: to the nearest vertebral body surface, 0 inside or touching.
        confidence: 0-1, how sure the location (or material) is; `evidence` holds what was used.
        reason: one line saying why.
        candidate_id: the stage-1 candidate it was cut from.
        flat_index: int64 flat indices of its voxels in the (z, y, x) CT array (not in JSON).
    """

    id: int
    material: str
    location: str | None
    is_leak: bool
    severity: str
    volume_ml: float
    voxel_count: int
    centroid_lps_mm: tuple[float, float, float]
    bbox_lps_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    hu_max: float
    hu_mean: float
    length_mm: float
    vertebral_level: str | None
    source_vertebra: str | None
    distance_to_vertebral_body_mm: float
    confidence: float
    reason: str
    candidate_id: int
    flat_index: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of `COMPONENT_FIELDS` (plain Python numbers and lists)."""
        return {name: _plain(getattr(self, name)) for name in COMPONENT_FIELDS}


#: the clinic's word for a component that is reported
Finding = Component


@dataclass
class Findings:
    """The result of one scan.

    Attributes:
        components: every component, fills and leaks first, then non-cement candidates.
        input: series UID, shape, spacing, origin, direction and loader warnings.
        settings: the `Settings` used.
        timing_s: seconds per stage (load, candidates, anatomy, materials, locate, total).
        anatomy_source: structure name -> provider ("builtin", "totalsegmentator", ...).
        warnings: what the pipeline noticed (anatomy, levels, ...), loader warnings excluded.
    """

    components: list[Component]
    input: dict[str, Any]
    settings: Settings
    timing_s: dict[str, float] = field(default_factory=dict)
    anatomy_source: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def leaks(self) -> list[Component]:
        return [c for c in self.components if c.is_leak]

    @property
    def summary(self) -> dict[str, Any]:
        """Cemented levels, leak count and volume (mL), highest severity, counts per location."""
        fills = [c for c in self.components if c.material == "cement" and not c.is_leak]
        caudal_first = sorted(fills, key=lambda c: c.centroid_lps_mm[2])
        leaks = self.leaks
        per_location: dict[str, int] = {}
        for leak in leaks:
            per_location[leak.location] = per_location.get(leak.location, 0) + 1
        highest = max((c.severity for c in leaks), key=severity_rank, default="none")
        non_cement: dict[str, int] = {}
        for c in self.components:
            if c.material != "cement":
                non_cement[c.material] = non_cement.get(c.material, 0) + 1
        return {
            "cemented_levels": list(dict.fromkeys(_level_label(c) for c in caudal_first)),
            "fill_volume_ml": round(sum(c.volume_ml for c in fills), 4),
            "leak_count": len(leaks),
            "leak_volume_ml": round(sum(c.volume_ml for c in leaks), 4),
            "highest_severity": highest,
            "leaks_per_location": dict(sorted(per_location.items())),
            "non_cement_per_material": dict(sorted(non_cement.items())),
        }

    def verdict(self) -> str:
        """One line for a reader: leaks with their worst location, or why there are none."""
        summary = self.summary
        levels = ", ".join(summary["cemented_levels"]) or "none"
        if not summary["leak_count"]:
            if summary["cemented_levels"]:
                return f"No cement leak found; cement in vertebral bodies: {levels}."
            return "No bone cement found."
        worst = max(self.leaks, key=lambda c: (severity_rank(c.severity), c.volume_ml))
        return (
            f"{summary['leak_count']} cement leak(s), {summary['leak_volume_ml']:.3f} mL in total; "
            f"highest severity {summary['highest_severity']} ({worst.location}); "
            f"cemented levels: {levels}."
        )

    def at_or_above(self, severity: str) -> list[Component]:
        """Leaks whose severity is at least ``severity`` (none of them for "never")."""
        if severity == "never":
            return []
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        return [c for c in self.leaks if severity_rank(c.severity) >= severity_rank(severity)]

    def to_dict(self) -> dict[str, Any]:
        from . import __version__

        return {
            "schema": SCHEMA,
            "cementseg_version": __version__,
            "input": _plain(self.input),
            "summary": self.summary,
            "components": [c.to_dict() for c in self.components],
            "anatomy_source": dict(self.anatomy_source),
            "timing_s": {k: round(float(v), 3) for k, v in self.timing_s.items()},
            "settings": _plain(self.settings.to_dict()),
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The findings as JSON text (schema ``cementseg.findings/1``)."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataframe(self):
        """One row per component (pandas DataFrame); needs pandas installed."""
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError("Findings.to_dataframe needs pandas: pip install pandas") from error
        rows = [c.to_dict() for c in self.components]
        return pd.DataFrame(rows, columns=list(COMPONENT_FIELDS))

    def plot(self, volume, **options) -> list:
        """matplotlib figures of these findings on ``volume`` (the scanned `CTVolume`); see `cementseg.viz.show`."""
        from .viz import show

        return show(volume, self, **options)

    def label_volume(self) -> np.ndarray:
        """uint16 (z, y, x) volume on the CT grid: each voxel holds its component id, 0 elsewhere."""
        labels = np.zeros(self.input["shape_zyx"], dtype=np.uint16)
        flat = labels.reshape(-1)
        for component in self.components:
            flat[component.flat_index] = component.id
        return labels

    def write_labels(self, path: str | Path) -> Path:
        """Write `label_volume` as NIfTI (or any SimpleITK format) on exactly the CT grid."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.label_volume())
        image.SetSpacing(tuple(reversed(self.input["spacing_mm_zyx"])))
        image.SetOrigin(tuple(self.input["origin_lps_mm"]))
        image.SetDirection(tuple(np.asarray(self.input["direction"], dtype=float).ravel()))
        path = Path(path)
        sitk.WriteImage(image, str(path), True)  # SimpleITK converts LPS to RAS for NIfTI
        return path

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n")
        return path


def _level_label(component: Component) -> str:
    if component.source_vertebra:
        return component.source_vertebra
    return f"body#{component.evidence.get('source_vertebra_id', '?')} (level unknown)"


def _plain(value):
    """numpy scalars/arrays, tuples and dicts -> JSON-serialisable Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, 4) if np.isfinite(value) else None
    return value
