"""Enhanced (multi-frame) CT: one `SliceHeader` per frame from the functional groups.

Each frame's position, orientation, pixel spacing and rescale come from its
PerFrameFunctionalGroupsSequence item, falling back to SharedFunctionalGroupsSequence.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from ..errors import CorruptFileError
from .dicom_series import instance_uid, pixel_format, rescale
from .records import SliceHeader


def is_multiframe(ds: Dataset) -> bool:
    return "PerFrameFunctionalGroupsSequence" in ds or int(ds.get("NumberOfFrames", 1) or 1) > 1


def _group(frame_item: Dataset | None, shared: Dataset | None, sequence: str) -> Dataset | None:
    for item in (frame_item, shared):
        if item is not None and sequence in item and len(item[sequence].value):
            return item[sequence].value[0]
    return None


def frame_slices(ds: Dataset, file: str, transfer_syntax: str) -> list[SliceHeader]:
    """One `SliceHeader` per frame of a multi-frame image."""
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence", []))
    shared_items = ds.get("SharedFunctionalGroupsSequence", [])
    shared = shared_items[0] if len(shared_items) else None
    if per_frame and len(per_frame) != n_frames:
        raise CorruptFileError(f"{file}: {len(per_frame)} per-frame groups for {n_frames} frames")
    fmt = pixel_format(ds)
    slices = []
    for frame in range(n_frames):
        item = per_frame[frame] if per_frame else None
        position = _group(item, shared, "PlanePositionSequence")
        orientation = _group(item, shared, "PlaneOrientationSequence")
        measures = _group(item, shared, "PixelMeasuresSequence")
        if position is None or orientation is None or measures is None:
            raise CorruptFileError(
                f"{file}: frame {frame + 1} lacks plane position, orientation or pixel measures"
            )
        transform = _group(item, shared, "PixelValueTransformationSequence")
        slope, intercept = rescale(transform if transform is not None else ds)
        spacing = [float(v) for v in measures.PixelSpacing]
        slices.append(
            SliceHeader(
                file=file,
                frame=frame,
                sop_instance_uid=instance_uid(ds, file),
                position_lps_mm=np.array([float(v) for v in position.ImagePositionPatient]),
                orientation=np.array([float(v) for v in orientation.ImageOrientationPatient]),
                pixel_spacing_mm=(spacing[0], spacing[1]),
                rescale_slope=slope,
                rescale_intercept=intercept,
                transfer_syntax=transfer_syntax,
                **fmt,
            )
        )
    return slices


def slice_thickness_mm(ds: Dataset) -> float | None:
    """Slice thickness from the shared (or first per-frame) pixel measures."""
    shared = ds.get("SharedFunctionalGroupsSequence", [])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])
    measures = _group(
        per_frame[0] if len(per_frame) else None, shared[0] if len(shared) else None, "PixelMeasuresSequence"
    )
    value = measures.get("SliceThickness") if measures is not None else ds.get("SliceThickness")
    return float(value) if value not in (None, "") else None
