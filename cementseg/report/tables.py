"""A CSV table of the findings: one row per component, sizes in mL and mm, positions in LPS mm."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..findings import Component, Findings

#: CSV columns, in order (units in the names)
CSV_COLUMNS = (
    "id",
    "material",
    "location",
    "is_leak",
    "severity",
    "volume_ml",
    "length_mm",
    "distance_to_vertebral_body_mm",
    "vertebral_level",
    "source_vertebra",
    "centroid_l_mm",
    "centroid_p_mm",
    "centroid_s_mm",
    "hu_max",
    "hu_mean",
    "voxel_count",
    "confidence",
    "reason",
    "series_uid",
)


def finding_row(component: Component, series_uid: str | None) -> dict[str, object]:
    """One CSV row (values rounded for a spreadsheet: mL to 4 decimals, mm to 0.1)."""
    left, posterior, superior = (round(float(v), 1) for v in component.centroid_lps_mm)
    return {
        "id": component.id,
        "material": component.material,
        "location": component.location or "",
        "is_leak": component.is_leak,
        "severity": component.severity,
        "volume_ml": round(float(component.volume_ml), 4),
        "length_mm": round(float(component.length_mm), 1),
        "distance_to_vertebral_body_mm": round(float(component.distance_to_vertebral_body_mm), 1),
        "vertebral_level": component.vertebral_level or "",
        "source_vertebra": component.source_vertebra or "",
        "centroid_l_mm": left,
        "centroid_p_mm": posterior,
        "centroid_s_mm": superior,
        "hu_max": round(float(component.hu_max), 1),
        "hu_mean": round(float(component.hu_mean), 1),
        "voxel_count": component.voxel_count,
        "confidence": round(float(component.confidence), 3),
        "reason": component.reason,
        "series_uid": series_uid or "",
    }


def findings_csv(findings: Findings) -> str:
    """The findings as CSV text (header + one row per component, in `Findings.components` order)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    series_uid = findings.input.get("series_uid")
    for component in findings.components:
        writer.writerow(finding_row(component, series_uid))
    return buffer.getvalue()


def write_csv(findings: Findings, path: str | Path) -> Path:
    """Write `findings_csv` to ``path``."""
    path = Path(path)
    path.write_text(findings_csv(findings), encoding="utf-8")
    return path
