"""The working grid: the CT resampled, axis-aligned in LPS, at a coarser voxel size.

On the working grid the array axes are (z, y, x) = (superior, posterior, left), each
increasing, whatever the orientation of the input array: the anatomy code then knows
where anterior (-y), right (-x) and cranial (+z) are from the DICOM geometry alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..volume import CTVolume, index_to_lps, make_affine

if TYPE_CHECKING:
    import SimpleITK as sitk


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
        import SimpleITK as sitk

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
    lps = np.maximum(volume.voxel_extent_lps_mm, target_mm)
    return lps[::-1]


def to_working_grid(volume: CTVolume, target_mm: float, threads: int = 1) -> WorkingGrid:
    """Resample ``volume`` onto an axis-aligned LPS grid of about ``target_mm`` voxels.

    The CT is first averaged over whole blocks of voxels no larger than the target (reading
    the int16 array through strided views: no full-resolution copy), then resampled linearly
    onto the working grid, as SimpleITK's ResampleImageFilter does it. A CT stored along the
    LPS axes (each possibly reversed: a diagonal direction, nearly every CT) is resampled
    here, axis by axis in double precision, one block slice at a time (no full-size copy),
    runs of block slices shared among ``threads`` threads (the same result); any other
    orientation goes through SimpleITK.
    """
    spacing_zyx = working_spacing(volume, target_mm)
    low, high = _lps_bounds(volume.shape, volume.affine)
    size_xyz = np.floor((high - low) / spacing_zyx[::-1]).astype(int) + 1
    blocks = _Blocks(volume, target_mm)
    target = (
        tuple(float(s) for s in spacing_zyx[::-1]), tuple(float(v) for v in low), [int(n) for n in size_xyz]
    )
    if np.array_equal(np.abs(volume.direction), np.eye(3)):
        hu = _resample_diagonal(blocks, *target, threads=threads)
    else:
        hu = _resample_sitk(blocks, *target)
    return WorkingGrid(hu=hu, spacing_mm=tuple(float(s) for s in spacing_zyx),
                       origin_lps_mm=tuple(float(v) for v in low))


BLOCK_SLAB = 16  # block-mean slices handed to SimpleITK at a time
OUTSIDE_HU = -1024.0  # working-grid voxels beyond the CT


class _Blocks:
    """Mean HU over k-voxel blocks (k per array axis: the most voxels fitting in ``target_mm``).

    A grid of ``counts`` blocks with its own spacing and origin (the centre of the first block)
    and the CT's direction; `means` gives a slab of it.
    """

    def __init__(self, volume: CTVolume, target_mm: float):
        spacing = np.asarray(volume.spacing_mm)
        self.hu = volume.hu
        self.k = np.maximum(1, np.floor(target_mm / spacing + 1e-6).astype(int))
        self.counts = np.asarray(volume.shape) // self.k
        self.spacing_xyz = tuple(float(s) for s in (spacing * self.k)[::-1])
        self.origin_lps = tuple(float(v) for v in index_to_lps(volume.affine, (self.k - 1) / 2.0))
        self.direction = volume.direction

    def means(self, z0: int, z1: int, out: np.ndarray | None = None) -> np.ndarray:
        """float32 means of block slices z0..z1-1 (into ``out``, when given): summed exactly in
        int32, one block slice at a time (its slices added into one plane, then along y and x,
        in cache), then divided."""
        k, counts = self.k, self.counts
        total = np.empty((z1 - z0, *counts[1:]), dtype=np.float32) if out is None else out
        for dz in range(len(total)):
            block = self.hu[(z0 + dz) * k[0] : (z0 + dz + 1) * k[0]]
            plane = block[0].astype(np.int32)
            for more in block[1:]:
                plane += more
            for axis in (0, 1):
                plane = _block_sum(plane, axis, k[axis + 1], counts[axis + 1] * k[axis + 1])
            total[dz] = plane
        total /= float(np.prod(k))
        return total


def _resample_diagonal(blocks: _Blocks, spacing_xyz, origin_lps, size_xyz, threads: int = 1) -> np.ndarray:
    """The block means linearly resampled onto the axis-aligned grid, for a diagonal direction.

    Each working-grid axis then samples one block axis: the blend along x, then y, then z of
    SimpleITK's linear interpolator, in double precision, with its continuous indices and edge
    rules (`_axis_samples`), gives the same float32 values. Up to ``threads`` threads each take
    a run of consecutive block slices (`_resample_run`; NumPy lets go of the GIL on these array
    operations); runs write disjoint working slices.
    """
    samples = [_axis_samples(blocks, axis, spacing_xyz[axis], origin_lps[axis], size_xyz) for axis in range(3)]
    hu = np.full(size_xyz[::-1], OUTSIDE_HU, dtype=np.float32)
    n = max(1, min(threads, blocks.counts[0]))
    cuts = np.linspace(0, blocks.counts[0], n + 1).astype(int).tolist()
    if n == 1:
        _resample_run(blocks, samples, hu, 0, cuts[1])
    else:
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda k: _resample_run(blocks, samples, hu, cuts[k], cuts[k + 1]), range(n)))
    (_, _, _, in_x), (_, _, _, in_y), _ = samples
    hu[:, ~in_y] = OUTSIDE_HU
    hu[:, :, ~in_x] = OUTSIDE_HU
    return hu


def _resample_run(blocks: _Blocks, samples: list, hu: np.ndarray, first: int, stop: int) -> None:
    """The working slices of ``hu`` whose lower block slice is one of first..stop-1 (`_axis_samples`
    per ITK axis in ``samples``): one block slice at a time, its mean blended along x and y (the
    last two such blends kept), then each working slice between it and the one below along z;
    every buffer small, allocated once and kept in cache."""
    (lo_x, hi_x, w_x, _), (lo_y, hi_y, w_y, _), (lo_z, hi_z, w_z, in_z) = samples
    targets = np.nonzero(in_z & (lo_z >= first) & (lo_z < stop))[0]
    if len(targets) == 0:
        return
    mean = np.empty((1, *blocks.counts[1:]), dtype=np.float32)
    exact = np.empty(mean.shape, dtype=np.float64)  # the float32 mean, blended without casts
    along_x = _AxisBlend(2, lo_x, hi_x, w_x, (1, blocks.counts[1], len(lo_x)))
    along_y = [_AxisBlend(1, lo_y, hi_y, w_y[:, None], (1, len(lo_y), len(lo_x))) for _ in range(2)]
    along_z = np.empty(hu.shape[1:], dtype=np.float64)
    blended: dict[int, np.ndarray] = {}
    for b in range(int(lo_z[targets].min()), int(hi_z[targets].max()) + 1):
        np.copyto(exact, blocks.means(b, b + 1, out=mean))
        blended[b] = along_y[b % 2](along_x(exact))[0]  # alternating buffers: the one below stays
        blended.pop(b - 2, None)
        for z in targets[hi_z[targets] == b]:
            below, above = blended[int(lo_z[z])], blended[b]
            np.subtract(above, below, out=along_z)
            along_z *= w_z[z]
            along_z += below
            hu[z] = along_z


class _AxisBlend:
    """lower + (upper - lower) x weight in double precision, lower and upper taken along ``axis``
    of up to ``shape[0]`` slices of float64 values, in buffers kept from call to call (no fresh
    pages for each)."""

    def __init__(self, axis: int, lo: np.ndarray, hi: np.ndarray, weight: np.ndarray, shape):
        self.axis, self.lo, self.hi, self.weight = axis, lo, hi, weight
        self.lower, self.out = np.empty(shape), np.empty(shape)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        n = len(values)
        lower, out = self.lower[:n], self.out[:n]
        np.take(values, self.lo, axis=self.axis, out=lower, mode="clip")  # indices in range: no check
        np.take(values, self.hi, axis=self.axis, out=out, mode="clip")
        out -= lower
        out *= self.weight
        out += lower
        return out


def _axis_samples(blocks: _Blocks, axis: int, spacing: float, origin: float, size_xyz):
    """Along ITK axis ``axis`` (x, y, z) of the working grid: the lower and upper block index,
    the weight of the upper one and whether the block grid reaches there, per working voxel.

    As in ITK's ResampleImageFilter (linear transform) and LinearInterpolateImageFunction: the
    continuous index is (direction sign / block spacing) x (point - block origin); along x it is
    interpolated along each line between its start and one past its end; a point is inside
    within half a block of the end blocks; a weight <= 0, or no block above, means no blend.
    """
    n = int(blocks.counts[::-1][axis])
    sign = float(blocks.direction[axis, axis])
    scale = sign / blocks.spacing_xyz[axis]

    def continuous(index) -> np.ndarray:
        return scale * ((origin + spacing * np.asarray(index, dtype=np.float64)) - blocks.origin_lps[axis])

    if axis == 0:
        start, end = continuous(0), continuous(size_xyz[0])
        c = start + (np.arange(size_xyz[0]) / float(size_xyz[0])) * (end - start)
    else:
        c = continuous(np.arange(size_xyz[axis]))
    inside = (c >= -0.5) & (c < n - 0.5)
    lo = np.clip(np.floor(c), 0, n - 1).astype(np.intp)
    weight = c - lo
    weight[~(weight > 0)] = 0.0
    return lo, np.minimum(lo + 1, n - 1), weight, inside


def _resample_sitk(blocks: _Blocks, spacing_xyz, origin_lps, size_xyz) -> np.ndarray:
    """The block means linearly resampled onto the axis-aligned grid by SimpleITK (any direction).

    The means are pasted into the image a slab at a time and the image is freed before the
    result is copied out, so no two full-size copies of either are held at once.
    """
    import SimpleITK as sitk

    image = sitk.Image([int(n) for n in blocks.counts[::-1]], sitk.sitkFloat32)
    for z0 in range(0, blocks.counts[0], BLOCK_SLAB):
        z1 = min(z0 + BLOCK_SLAB, blocks.counts[0])
        image[:, :, z0:z1] = sitk.GetImageFromArray(blocks.means(z0, z1))
    image.SetSpacing(blocks.spacing_xyz)
    image.SetOrigin(blocks.origin_lps)
    image.SetDirection(tuple(blocks.direction.ravel()))
    resampler = sitk.ResampleImageFilter()
    resampler.SetOutputSpacing(spacing_xyz)
    resampler.SetOutputOrigin(origin_lps)
    resampler.SetOutputDirection(tuple(np.eye(3).ravel()))
    resampler.SetSize(size_xyz)
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetDefaultPixelValue(OUTSIDE_HU)
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampler.Execute(image))


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
    import SimpleITK as sitk

    resampled = sitk.Resample(
        labels, grid.reference_image(), sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID()
    )
    return sitk.GetArrayFromImage(resampled)
