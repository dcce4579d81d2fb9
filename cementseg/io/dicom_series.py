"""Classic DICOM images (one 2D image per file): header fields -> `SliceHeader`."""

from __future__ import annotations

import hashlib

import numpy as np
from pydicom.dataset import Dataset

from ..errors import CorruptFileError


def _vector(ds: Dataset, keyword: str, length: int, file: str) -> np.ndarray:
    value = ds.get(keyword)
    if value is None or len(value) != length:
        raise CorruptFileError(f"{file}: {keyword} missing or malformed ({value!r})")
    return np.array([float(v) for v in value], dtype=float)


def pixel_format(ds: Dataset) -> dict:
    """Pixel-module fields shared by classic and multi-frame images."""
    padding = ds.get("PixelPaddingValue")
    padding_limit = ds.get("PixelPaddingRangeLimit")
    return {
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "bits_allocated": int(ds.get("BitsAllocated", 16)),
        "bits_stored": int(ds.get("BitsStored", ds.get("BitsAllocated", 16))),
        "pixel_representation": int(ds.get("PixelRepresentation", 0)),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "padding_value": int(padding) if padding is not None else None,
        "padding_range_limit": int(padding_limit) if padding_limit is not None else None,
    }


def rescale(item: Dataset) -> tuple[float, float]:
    """(slope, intercept) of a dataset or functional-group item; identity when absent."""
    slope = item.get("RescaleSlope")
    intercept = item.get("RescaleIntercept")
    return (
        float(slope) if slope not in (None, "") else 1.0,
        float(intercept) if intercept not in (None, "") else 0.0,
    )


def image_type(ds: Dataset) -> tuple[str, ...]:
    """ImageType values as a tuple of strings (empty when absent)."""
    value = ds.get("ImageType") or ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def instance_uid(ds: Dataset, file: str) -> str:
    """SOPInstanceUID, else the file meta's MediaStorageSOPInstanceUID, else the file itself."""
    meta = getattr(ds, "file_meta", None) or {}
    return str(ds.get("SOPInstanceUID") or meta.get("MediaStorageSOPInstanceUID") or file)


def series_key(ds: Dataset, file: str) -> str:
    """SeriesInstanceUID, or for anonymised files without one a stable stand-in built from
    frame of reference, series number, description, modality and folder (``no-uid:<hash>``)."""
    uid = str(ds.get("SeriesInstanceUID") or "")
    if uid:
        return uid
    parts = [
        str(ds.get(k) or "") for k in ("FrameOfReferenceUID", "SeriesNumber", "SeriesDescription", "Modality")
    ]
    folder = file.rsplit("/", 1)[0] if "/" in file else ""
    digest = hashlib.sha1("|".join([*parts, folder]).encode()).hexdigest()[:12]
    return f"no-uid:{digest}"


def classic_slice(ds: Dataset, file: str, transfer_syntax: str, pixel_data_offset: int | None):
    """The `SliceHeader` of a single-frame image (ImagePositionPatient, orientation, rescale, ...)."""
    from .records import SliceHeader

    spacing = _vector(ds, "PixelSpacing", 2, file)
    slope, intercept = rescale(ds)
    instance = ds.get("InstanceNumber")
    return SliceHeader(
        file=file,
        frame=None,
        sop_instance_uid=instance_uid(ds, file),
        position_lps_mm=_vector(ds, "ImagePositionPatient", 3, file),
        orientation=_vector(ds, "ImageOrientationPatient", 6, file),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        rescale_slope=slope,
        rescale_intercept=intercept,
        transfer_syntax=transfer_syntax,
        pixel_data_offset=pixel_data_offset,
        instance_number=int(instance) if instance not in (None, "") else None,
        image_type=image_type(ds),
        **pixel_format(ds),
    )
