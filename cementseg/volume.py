"""`CTVolume`: a CT image in Hounsfield units with its patient geometry.

Conventions (used everywhere in cementseg):

* ``hu`` is an int16 array indexed ``[z, y, x]`` (slice, row, column).
* ``spacing_mm`` is ``(z, y, x)`` in millimetres, matching the array axes.
* Physical coordinates are DICOM patient coordinates, LPS, in millimetres.
* ``direction`` is the 3x3 matrix whose *columns* are the LPS unit vectors of the
  x (column), y (row) and z (slice) index axes -- SimpleITK's convention.
* ``affine`` maps a homogeneous index ``(x, y, z, 1)`` (column, row, slice) to LPS mm,
  as ITK and nibabel do. Prefer `index_to_lps` / `lps_to_index`, which take ``(z, y, x)``
  rows so that array indices never need reversing by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def make_affine(spacing_mm_zyx, origin_lps_mm, direction) -> np.ndarray:
    """4x4 affine from (z, y, x) spacing, LPS origin and ITK-style direction columns."""
    direction = np.asarray(direction, dtype=float).reshape(3, 3)
    spacing_xyz = np.asarray(spacing_mm_zyx, dtype=float)[::-1]
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing_xyz[np.newaxis, :]
    affine[:3, 3] = np.asarray(origin_lps_mm, dtype=float)
    return affine


def index_to_lps(affine: np.ndarray, zyx) -> np.ndarray:
    """LPS mm of (z, y, x) indices; ``zyx`` is one point (3,) or many (n, 3)."""
    zyx = np.asarray(zyx, dtype=float)
    xyz = zyx[..., ::-1]
    return xyz @ affine[:3, :3].T + affine[:3, 3]


def lps_to_index(affine: np.ndarray, lps) -> np.ndarray:
    """Fractional (z, y, x) indices of LPS mm points; ``lps`` is (3,) or (n, 3)."""
    lps = np.asarray(lps, dtype=float)
    xyz = (lps - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    return xyz[..., ::-1]


@dataclass
class CTVolume:
    """A CT volume in HU with LPS geometry and de-identified metadata.

    Attributes:
        hu: int16 HU array, (z, y, x).
        spacing_mm: voxel size (z, y, x) in mm.
        origin_lps_mm: LPS position in mm of the centre of voxel (0, 0, 0).
        direction: 3x3, columns are the LPS directions of the x, y, z index axes.
        meta: de-identified metadata (UIDs, modality, kernel, ...; never names or IDs).
        warnings: what the loader had to do or noticed (resampling, clipping, ...).
    """

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_lps_mm: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.hu.ndim != 3:
            raise ValueError(f"CTVolume needs a 3D array, got shape {self.hu.shape}")
        self.spacing_mm = tuple(float(s) for s in self.spacing_mm)
        self.origin_lps_mm = tuple(float(o) for o in self.origin_lps_mm)
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)

    @property
    def affine(self) -> np.ndarray:
        """4x4 index (x, y, z, 1) -> LPS mm."""
        return make_affine(self.spacing_mm, self.origin_lps_mm, self.direction)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing_mm))

    @property
    def voxel_extent_lps_mm(self) -> np.ndarray:
        """One voxel's extent (mm) along L, P and S (its spacing per axis when stored along them)."""
        return np.abs(self.direction) @ np.asarray(self.spacing_mm[::-1])

    def index_to_lps(self, zyx) -> np.ndarray:
        """LPS mm of (z, y, x) voxel indices."""
        return index_to_lps(self.affine, zyx)

    def lps_to_index(self, lps) -> np.ndarray:
        """Fractional (z, y, x) indices of LPS mm points."""
        return lps_to_index(self.affine, lps)

    def axis_of(self, lps_axis: int) -> tuple[int, int]:
        """Array axis (0=z, 1=y, 2=x) closest to LPS axis ``lps_axis`` (0=L, 1=P, 2=S), and its sign.

        Use it to know, for example, which array direction is anterior without assuming
        the array's orientation.
        """
        column = int(np.argmax(np.abs(self.direction[lps_axis, :])))
        sign = int(np.sign(self.direction[lps_axis, column]))
        return 2 - column, sign

    def to_sitk(self):
        """The volume as a SimpleITK image (same voxels and geometry)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.hu)
        image.SetSpacing(tuple(reversed(self.spacing_mm)))
        image.SetOrigin(self.origin_lps_mm)
        image.SetDirection(tuple(self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image, meta: dict | None = None, warnings: list[str] | None = None) -> CTVolume:
        """A CTVolume from a SimpleITK image in HU (clipped to int16)."""
        import SimpleITK as sitk

        array = sitk.GetArrayFromImage(image)
        if array.dtype != np.int16:
            array = np.clip(np.rint(array), -32768, 32767).astype(np.int16)
        return cls(
            hu=array,
            spacing_mm=tuple(reversed(image.GetSpacing())),
            origin_lps_mm=image.GetOrigin(),
            direction=np.asarray(image.GetDirection()).reshape(3, 3),
            meta=dict(meta or {}),
            warnings=list(warnings or []),
        )
