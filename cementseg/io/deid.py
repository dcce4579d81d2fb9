"""De-identified metadata: only what describes the acquisition, never who or where.

Kept: UIDs, modality, kernel, manufacturer, model, slice thickness, contrast agent and
acquisition date. Names, IDs, birth dates, institutions and free-text descriptions are dropped.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value) or None
    return str(value)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def acquisition_date(ds: Dataset) -> str | None:
    """AcquisitionDate, else SeriesDate, else StudyDate (YYYYMMDD), else None."""
    for keyword in ("AcquisitionDate", "SeriesDate", "StudyDate"):
        value = _text(ds.get(keyword))
        if value:
            return value
    return None


def deidentified_meta(ds: Dataset) -> dict[str, Any]:
    """The de-identified metadata dict of a series, from one of its headers."""
    return {
        "series_uid": _text(ds.get("SeriesInstanceUID")),
        "study_uid": _text(ds.get("StudyInstanceUID")),
        "frame_of_reference_uid": _text(ds.get("FrameOfReferenceUID")),
        "sop_class_uid": _text(ds.get("SOPClassUID")),
        "modality": _text(ds.get("Modality")),
        "kernel": _text(ds.get("ConvolutionKernel")),
        "manufacturer": _text(ds.get("Manufacturer")),
        "model": _text(ds.get("ManufacturerModelName")),
        "slice_thickness_mm": _float(ds.get("SliceThickness")),
        "contrast_agent": _text(ds.get("ContrastBolusAgent")),
        "acquisition_date": acquisition_date(ds),
    }
