"""Which series `load` takes when none is named: the best diagnostic axial CT series.

The rule, in order of precedence (docs/loader.md):

1. DICOM modality CT, then image files (NIfTI/NRRD/MHA: no modality, taken as CT), then
   other modalities (only with ``force``),
2. not a LOCALIZER (scout) image,
3. ImageType ORIGINAL before DERIVED (reformats, MIPs),
4. axial (slice normal within about 37 degrees of the patient's head-foot axis),
5. thinnest slice spacing (from positions, to 0.1 mm; SliceThickness if one slice),
6. most slices,
7. lowest SeriesInstanceUID (so the choice is reproducible).
"""

from __future__ import annotations

from ..errors import NoSeriesError, NotCTError, SeriesSelectionError
from .records import SeriesRecord, SeriesScan


def _spacing_mm(record: SeriesRecord) -> float:
    step = record.slice_step_mm()
    if step is None:
        step = record.slice_thickness_mm or float("inf")
    return round(step, 1)


def _is_ct(record: SeriesRecord) -> bool:
    # NIfTI/NRRD/MHA carry no modality; they are taken as CT
    return record.modality == "CT" or (record.source == "image_file" and record.modality is None)


def _rank(record: SeriesRecord) -> tuple:
    return (
        0 if record.modality == "CT" else 1 if _is_ct(record) else 2,
        record.is_localizer,
        not record.is_original and record.source != "image_file",
        not record.is_axial and record.source != "image_file",
        _spacing_mm(record),
        -record.n_images,
        record.series_uid,
    )


def describe_choice(record: SeriesRecord, n_series: int) -> str:
    """Why ``record`` was chosen, in words."""
    parts = [record.modality or "image file"]
    if record.image_type:
        parts.append(record.image_type[0])
    if record.is_axial:
        parts.append("axial")
    step = record.slice_step_mm()
    parts.append(f"{record.n_images} slices" + (f" every {step:.2f} mm" if step else ""))
    reason = ", ".join(parts)
    if n_series > 1:
        return (
            f"{reason}; best of {n_series} series by the rule DICOM CT > image file > not localizer > "
            f"ORIGINAL > axial > thinnest spacing > most slices"
        )
    return f"{reason}; the only series"


def choose_series(
    scan: SeriesScan, series_uid: str | None = None, force: bool = False
) -> tuple[SeriesRecord, str]:
    """The series to load and why: the one named, else the best by the rule above.

    Raises NoSeriesError (nothing found), SeriesSelectionError (named series absent) or
    NotCTError (no CT series, or the named one is not CT, unless ``force``).
    """
    if not scan.series:
        skipped = (
            f"; {len(scan.skipped)} file(s) skipped, e.g. {scan.skipped[0][0]}: {scan.skipped[0][1]}"
            if scan.skipped
            else ""
        )
        raise NoSeriesError(f"{scan.source}: no image series found{skipped}")
    if series_uid is not None:
        record = scan.by_uid(series_uid)
        if record is None:
            known = ", ".join(s.series_uid for s in scan.series)
            raise SeriesSelectionError(f"{scan.source}: series {series_uid} not found (found: {known})")
        _require_ct(record, force)
        return record, "named by the caller"
    candidates = scan.series if force else [s for s in scan.series if _is_ct(s)]
    if not candidates:
        modalities = ", ".join(sorted({s.modality or "?" for s in scan.series}))
        raise NotCTError(f"{scan.source}: no CT series (found {modalities}); use force to load anyway")
    best = min(candidates, key=_rank)
    return best, describe_choice(best, len(scan.series))


def _require_ct(record: SeriesRecord, force: bool) -> None:
    if not force and not _is_ct(record):
        raise NotCTError(
            f"series {record.series_uid}: modality {record.modality}, not CT; use force to load anyway"
        )
