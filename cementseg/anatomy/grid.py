"""The working grid: the CT resampled, axis-aligned in LPS, at a coarser voxel size.

On the working grid the array axes are (z, y, x) = (superior, posterior, left), each
increasing, whatever the orientation of the input array: the anatomy code then knows
where anterior (-y), right (-x) and cranial (+z) are from the DICOM geometry alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..volume import CTVolume, index_to_lps, make_affine


@dataclass
class WorkingGrid:
    """A CT on the axis-aligned LPS working grid.

    Attributes:
        hu: float32 HU, (z, y, x) = (S, P, L) increasing.
        spacing_mm: (z, y, x) voxel size in mm.
        origin_lps_mm: LPS mm of voxel (0, 0, 0).
    """

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_lps_mm: tuple[float, float, float]

    @property
    def affine(self) -> np.ndarray:
        """4x4 index (x, y, z, 1) -> LPS mm."""
        return make_affine(self.spacing_mm, self.origin_lps_mm, np.eye(3))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing_mm)) / 1000.0

    def index_to_lps(self, zyx) -> np.ndarray:
        """LPS mm of (z, y, x) working-grid indices."""
        return index_to_lps(self.affine, zyx)

    def reference_image(self) -> sitk.Image:
        """An empty SimpleITK image with this grid's geometry (for resampling onto it)."""
        image = sitk.Image([int(n) for n in self.shape[::-1]], sitk.sitkUInt8)
        image.SetSpacing(tuple(float(s) for s in self.spacing_mm[::-1]))
        image.SetOrigin(tuple(float(o) for o in self.origin_lps_mm))
        image.SetDirection(tuple(np.eye(3).ravel()))
        return image


def _lps_bounds(volume_shape, affine) -> tuple[np.ndarray, np.ndarray]:
    """LPS min and max over the centres of the eight corner voxels."""
    corners = np.array(
        [
            [z, y, x]
            for z in (0, volume_shape[0] - 1)
            for y in (0, volume_shape[1] - 1)
            for x in (0, volume_shape[2] - 1)
        ]
    )
    lps = index_to_lps(affine, corners)
    return lps.min(axis=0), lps.max(axis=0)


def working_spacing(volume: CTVolume, target_mm: float) -> np.ndarray:
    """(z, y, x) working voxel size: ``target_mm``, or the native step along that LPS axis if coarser."""
    native_lps = np.abs(volume.direction) @ np.asarray(
        volume.spacing_mm[::-1]
    )  # L, P, S extent per index step
    lps = np.maximum(native_lps, target_mm)
    return lps[::-1]


def to_working_grid(volume: CTVolume, target_mm: float) -> WorkingGrid:
    """Resample ``volume`` onto an axis-aligned LPS grid of about ``target_mm`` voxels.

    The CT is first averaged over whole blocks of voxels no larger than the target (reading
    the int16 array through strided views: no full-resolution copy), then resampled
    (linear, SimpleITK) onto the working grid. The block means are written into the image
    a slab at a time and the image is freed before the result is copied out, so no two
    full-size copies of either are held at once.
    """
    spacing_zyx = working_spacing(volume, target_mm)
    low, high = _lps_bounds(volume.shape, volume.affine)
    size_xyz = np.floor((high - low) / spacing_zyx[::-1]).astype(int) + 1
    resampler = sitk.ResampleImageFilter()
    resampler.SetOutputSpacing(tuple(float(s) for s in spacing_zyx[::-1]))
    resampler.SetOutputOrigin(tuple(float(v) for v in low))
    resampler.SetOutputDirection(tuple(np.eye(3).ravel()))
    resampler.SetSize([int(n) for n in size_xyz])
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetDefaultPixelValue(-1024.0)
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    hu = sitk.GetArrayFromImage(resampler.Execute(_block_mean_image(volume, target_mm)))
    return WorkingGrid(hu=hu, spacing_mm=tuple(float(s) for s in spacing_zyx),
                       origin_lps_mm=tuple(float(v) for v in low))


BLOCK_SLAB = 16  # block-mean slices computed (and pasted into the image) at a time


def _block_mean_image(volume: CTVolume, target_mm: float) -> sitk.Image:
    """Mean HU over k-voxel blocks (k per array axis: the most voxels fitting in ``target_mm``), as an image.

    Summed exactly in int32, one output slice at a time (axis by axis, in cache), then divided;
    BLOCK_SLAB slices at a time are pasted into the image in place (no full-size numpy copy).
    """
    spacing = np.asarray(volume.spacing_mm)
    k = np.maximum(1, np.floor(target_mm / spacing + 1e-6).astype(int))
    counts = np.asarray(volume.shape) // k
    image = sitk.Image([int(n) for n in counts[::-1]], sitk.sitkFloat32)
    for z0 in range(0, counts[0], BLOCK_SLAB):
        total = np.empty((min(BLOCK_SLAB, counts[0] - z0), *counts[1:]), dtype=np.float32)
        for dz in range(len(total)):
            block = volume.hu[(z0 + dz) * k[0] : (z0 + dz + 1) * k[0]]
            for axis in range(3):
                block = _block_sum(block, axis, k[axis], counts[axis] * k[axis])
            total[dz] = block[0]
        total /= float(np.prod(k))
        image[:, :, z0 : z0 + len(total)] = sitk.GetImageFromArray(total)
    image.SetSpacing(tuple(float(s) for s in (spacing * k)[::-1]))
    image.SetOrigin(tuple(float(v) for v in index_to_lps(volume.affine, (k - 1) / 2.0)))
    image.SetDirection(tuple(volume.direction.ravel()))
    return image


def _block_sum(values: np.ndarray, axis: int, k: int, length: int) -> np.ndarray:
    """int32 sums of ``k`` neighbours along ``axis`` over its first ``length`` (a multiple of k) entries."""
    def every_kth(start: int) -> tuple:
        return (slice(None),) * axis + (slice(start, length, k),)

    if k == 1:
        return values[every_kth(0)].astype(np.int32)
    out = np.add(values[every_kth(0)], values[every_kth(1)], dtype=np.int32)
    for start in range(2, k):
        out += values[every_kth(start)]
    return out


def labels_to_grid(labels: sitk.Image, grid: WorkingGrid) -> np.ndarray:
    """Nearest-neighbour resampling of a label image onto the working grid ((z, y, x) array)."""
    resampled = sitk.Resample(
        labels, grid.reference_image(), sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID()
    )
    return sitk.GetArrayFromImage(resampled)
