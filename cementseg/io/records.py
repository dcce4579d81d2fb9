"""What discovery learns about each series from headers alone (no pixel data read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np


@dataclass
class SliceHeader:
    """One 2D image of a series: a classic single-frame file or one frame of a multi-frame file.

    Positions and orientations are DICOM patient LPS (mm / unit vectors).
    """

    file: str
    frame: int | None
    sop_instance_uid: str
    position_lps_mm: np.ndarray
    orientation: np.ndarray  # (6,) row cosines then column cosines
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float]  # (between rows, between columns)
    rescale_slope: float
    rescale_intercept: float
    transfer_syntax: str
    bits_allocated: int = 16
    bits_stored: int = 16
    pixel_representation: int = 0
    samples_per_pixel: int = 1
    padding_value: int | None = None
    padding_range_limit: int | None = None
    #: byte offset of the Pixel Data element in the file (uncompressed single-frame files)
    pixel_data_offset: int | None = None
    instance_number: int | None = None
    image_type: tuple[str, ...] = ()

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def label(self) -> str:
        """File name (and frame) for messages."""
        name = PurePath(self.file.split("!/")[-1]).name
        return name if self.frame is None else f"{name}[frame {self.frame + 1}]"


@dataclass
class SeriesRecord:
    """One image series found by `find_series`, described from its headers.

    ``files`` are the paths of its files (a ``archive.zip!/member`` path for zip members);
    ``slices`` holds one `SliceHeader` per 2D image (frames of multi-frame files included).
    For NIfTI/NRRD/MHA files ``source`` is ``"image_file"`` and ``slices`` is empty.
    """

    series_uid: str
    study_uid: str | None
    modality: str | None
    image_type: tuple[str, ...]
    description: str
    n_instances: int
    rows: int | None
    columns: int | None
    slice_thickness_mm: float | None
    pixel_spacing_mm: tuple[float, float] | None
    kernel: str | None
    contrast_agent: str | None
    acquisition_date: str | None
    files: list[str] = field(default_factory=list)
    slices: list[SliceHeader] = field(default_factory=list)
    source: str = "dicom"  # "dicom", "enhanced_dicom" or "image_file"
    meta: dict = field(default_factory=dict)  # de-identified, see deid.py
    #: (file, reason) for files of this series whose pixel data is unusable (e.g. truncated)
    damaged_files: list[tuple[str, str]] = field(default_factory=list)
    #: what discovery noticed about the series (copied into `CTVolume.warnings` by `load`)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        """Number of 2D images (slices or frames); equals n_instances for classic series."""
        return len(self.slices) if self.slices else self.n_instances

    @property
    def is_localizer(self) -> bool:
        return any("LOCALIZER" in value for value in self.image_type)

    @property
    def is_original(self) -> bool:
        return bool(self.image_type) and self.image_type[0] == "ORIGINAL"

    def slice_normal(self) -> np.ndarray | None:
        """Unit normal of the first slice (row x column cosines), or None."""
        if not self.slices:
            return None
        orientation = self.slices[0].orientation
        normal = np.cross(orientation[:3], orientation[3:])
        return normal / np.linalg.norm(normal)

    @property
    def is_axial(self) -> bool:
        normal = self.slice_normal()
        return normal is not None and abs(normal[2]) > 0.8

    def slice_step_mm(self) -> float | None:
        """Median distance (mm) between neighbouring slice positions along the normal."""
        normal = self.slice_normal()
        if normal is None or len(self.slices) < 2:
            return None
        along = np.sort([s.position_lps_mm @ normal for s in self.slices])
        steps = np.diff(along)
        steps = steps[steps > 1e-3]
        return float(np.median(steps)) if steps.size else None


@dataclass
class SeriesScan:
    """Result of `find_series`: the series found and the files skipped, with reasons.

    Iterating a scan yields its `SeriesRecord` objects; ``len(scan)`` counts them.
    """

    series: list[SeriesRecord]
    skipped: list[tuple[str, str]]
    source: str

    def __iter__(self):
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, index: int) -> SeriesRecord:
        return self.series[index]

    def by_uid(self, series_uid: str) -> SeriesRecord | None:
        return next((s for s in self.series if s.series_uid == series_uid), None)
