"""Solids in patient LPS millimetres, and their sampling on a voxel grid.

A solid answers ``contains(x, y, z)`` for broadcastable LPS mm coordinate arrays and
knows its bounding box, so that it is only ever evaluated where it can be. `occupancy`
samples a solid at given 1-D coordinates (voxel centres or sub-voxel points);
`fraction` averages sub-voxel samples into the partial-volume fraction of each voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """An axial voxel grid with identity direction: x -> left, y -> posterior, z -> superior.

    ``shape`` and ``spacing_mm`` are (z, y, x); ``origin_lps_mm`` is the LPS mm centre of
    voxel (0, 0, 0).
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_lps_mm: tuple[float, float, float]

    def axis_mm(self, axis: int) -> np.ndarray:
        """LPS mm coordinates of the voxel centres along array axis 0 (z), 1 (y) or 2 (x)."""
        lps_axis = 2 - axis
        return self.origin_lps_mm[lps_axis] + self.spacing_mm[axis] * np.arange(self.shape[axis])

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing_mm))

    def box_slices(self, lo_lps, hi_lps) -> tuple[slice, slice, slice] | None:
        """(z, y, x) slices of the voxels whose extent meets the LPS box; None if empty."""
        slices = []
        for axis in range(3):
            lps_axis = 2 - axis
            step = self.spacing_mm[axis]
            start = self.origin_lps_mm[lps_axis]
            first = int(np.floor((lo_lps[lps_axis] - start) / step + 0.5))
            last = int(np.ceil((hi_lps[lps_axis] - start) / step - 0.5))
            first, last = max(first, 0), min(last, self.shape[axis] - 1)
            if last < first:
                return None
            slices.append(slice(first, last + 1))
        return tuple(slices)


class Solid:
    """A region of space in LPS mm."""

    lo: np.ndarray  # (3,) LPS mm
    hi: np.ndarray

    def contains(self, x, y, z) -> np.ndarray:
        raise NotImplementedError

    def occupancy(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Boolean (z, y, x) array: which of the points of the 1-D axes lie inside."""
        return np.broadcast_to(
            self.contains(x[None, None, :], y[None, :, None], z[:, None, None]), (len(z), len(y), len(x))
        )


def _span(axis: np.ndarray, lo: float, hi: float) -> slice:
    return slice(int(np.searchsorted(axis, lo, "left")), int(np.searchsorted(axis, hi, "right")))


class Union(Solid):
    """Several solids; each is only evaluated inside its own bounding box."""

    def __init__(self, parts: list[Solid]):
        self.parts = [p for p in parts if p is not None]
        self.lo = np.min([p.lo for p in self.parts], axis=0)
        self.hi = np.max([p.hi for p in self.parts], axis=0)

    def contains(self, x, y, z):
        result = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), bool)
        for part in self.parts:
            result |= part.contains(x, y, z)
        return result

    def occupancy(self, x, y, z):
        out = np.zeros((len(z), len(y), len(x)), bool)
        for part in self.parts:
            sz, sy, sx = (_span(a, part.lo[i], part.hi[i]) for a, i in ((z, 2), (y, 1), (x, 0)))
            if sz.stop > sz.start and sy.stop > sy.start and sx.stop > sx.start:
                out[sz, sy, sx] |= part.occupancy(x[sx], y[sy], z[sz])
        return out


class Intersection(Solid):
    """Points inside every part (bounding box of the first part, clipped by the others)."""

    def __init__(self, *parts: Solid):
        self.parts = parts
        self.lo = np.max([p.lo for p in parts], axis=0)
        self.hi = np.min([p.hi for p in parts], axis=0)

    def contains(self, x, y, z):
        result = self.parts[0].contains(x, y, z)
        for part in self.parts[1:]:
            result = result & part.contains(x, y, z)
        return result


class Difference(Solid):
    """Points inside ``keep`` and outside ``remove``."""

    def __init__(self, keep: Solid, remove: Solid):
        self.keep, self.remove = keep, remove
        self.lo, self.hi = keep.lo, keep.hi

    def contains(self, x, y, z):
        return self.keep.contains(x, y, z) & ~self.remove.contains(x, y, z)


class Ellipsoid(Solid):
    """Ellipsoid with semi-axes ``radii`` (mm) along the columns of ``axes`` (default x, y, z)."""

    def __init__(self, center, radii, axes=None):
        self.center = np.asarray(center, float)
        self.radii = np.asarray(radii, float)
        self.axes = np.eye(3) if axes is None else np.asarray(axes, float)
        extent = np.sqrt(((self.axes * self.radii[None, :]) ** 2).sum(axis=1))
        self.lo, self.hi = self.center - extent, self.center + extent

    def contains(self, x, y, z):
        d = (x - self.center[0], y - self.center[1], z - self.center[2])
        total = 0.0
        for k in range(3):
            u = d[0] * self.axes[0, k] + d[1] * self.axes[1, k] + d[2] * self.axes[2, k]
            total = total + (u / self.radii[k]) ** 2
        return total <= 1.0

    @property
    def volume_mm3(self) -> float:
        return float(4.0 / 3.0 * np.pi * np.prod(self.radii))


class Box(Solid):
    """Axis-aligned box between LPS corners ``lo`` and ``hi`` (mm)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)

    def contains(self, x, y, z):
        return (
            (x >= self.lo[0])
            & (x <= self.hi[0])
            & (y >= self.lo[1])
            & (y <= self.hi[1])
            & (z >= self.lo[2])
            & (z <= self.hi[2])
        )


class AxialEllipse(Solid):
    """Elliptic cylinder along z: centre (cx, cy), semi-axes (ax, ay) mm, from z0 to z1 mm."""

    def __init__(self, cx, cy, ax, ay, z0, z1):
        self.c = (float(cx), float(cy))
        self.a = (float(ax), float(ay))
        self.lo = np.array([cx - ax, cy - ay, min(z0, z1)], float)
        self.hi = np.array([cx + ax, cy + ay, max(z0, z1)], float)

    def contains(self, x, y, z):
        inside = ((x - self.c[0]) / self.a[0]) ** 2 + ((y - self.c[1]) / self.a[1]) ** 2 <= 1.0
        return inside & (z >= self.lo[2]) & (z <= self.hi[2])

    def occupancy(self, x, y, z):
        plane = ((x[None, :] - self.c[0]) / self.a[0]) ** 2 + ((y[:, None] - self.c[1]) / self.a[1]) ** 2 <= 1
        in_z = (z >= self.lo[2]) & (z <= self.hi[2])
        return plane[None, :, :] & in_z[:, None, None]


class Capsule(Solid):
    """A tube segment from ``p0`` to ``p1`` (LPS mm) with radius r0 -> r1 mm and round ends."""

    def __init__(self, p0, p1, r0, r1=None, round_ends: bool = True):
        self.p0, self.p1 = np.asarray(p0, float), np.asarray(p1, float)
        self.r0 = float(r0)
        self.r1 = float(r0 if r1 is None else r1)
        self.round_ends = round_ends
        r = max(self.r0, self.r1)
        self.lo = np.minimum(self.p0, self.p1) - r
        self.hi = np.maximum(self.p0, self.p1) + r

    def contains(self, x, y, z):
        axis = self.p1 - self.p0
        length2 = float(axis @ axis) or 1e-12
        dx, dy, dz = x - self.p0[0], y - self.p0[1], z - self.p0[2]
        t_raw = (dx * axis[0] + dy * axis[1] + dz * axis[2]) / length2
        t = np.clip(t_raw, 0.0, 1.0)
        dist2 = (dx - t * axis[0]) ** 2 + (dy - t * axis[1]) ** 2 + (dz - t * axis[2]) ** 2
        radius = self.r0 + t * (self.r1 - self.r0)
        inside = dist2 <= radius**2
        if not self.round_ends:
            inside = inside & (t_raw >= 0.0) & (t_raw <= 1.0)
        return inside

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(self.p1 - self.p0))


class Torus(Solid):
    """A ring of tube radius ``r`` mm around ``center`` with major radii (Rx, Ry) in an axial plane."""

    def __init__(self, center, radius_x, radius_y, r):
        self.center = np.asarray(center, float)
        self.R = (float(radius_x), float(radius_y))
        self.r = float(r)
        ext = np.array([radius_x + r, radius_y + r, r])
        self.lo, self.hi = self.center - ext, self.center + ext

    def contains(self, x, y, z):
        dx, dy, dz = x - self.center[0], y - self.center[1], z - self.center[2]
        # distance to the ellipse approximated through the elliptic radius (rings are near-circular)
        rho = np.sqrt((dx / self.R[0]) ** 2 + (dy / self.R[1]) ** 2) + 1e-9
        radial = (rho - 1.0) * np.sqrt(self.R[0] * self.R[1])
        return radial**2 + dz**2 <= self.r**2


def polyline_tube(points, radii, round_ends: bool = True) -> Union:
    """A tube through LPS mm ``points`` with radius (mm) per point, as joined capsules."""
    points = np.asarray(points, float)
    radii = np.broadcast_to(np.asarray(radii, float), (len(points),))
    return Union(
        [
            Capsule(points[i], points[i + 1], radii[i], radii[i + 1], round_ends)
            for i in range(len(points) - 1)
        ]
    )


def polyline_length_mm(points) -> float:
    points = np.asarray(points, float)
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def paint(labels: np.ndarray, grid: Grid, solid: Solid, code: int, where: np.ndarray | None = None) -> None:
    """Set ``labels`` to ``code`` at voxel centres inside ``solid`` (optionally only where ``where``)."""
    slices = grid.box_slices(solid.lo, solid.hi)
    if slices is None:
        return
    x, y, z = (grid.axis_mm(a)[s] for a, s in ((2, slices[2]), (1, slices[1]), (0, slices[0])))
    inside = solid.occupancy(x, y, z)
    if where is not None:
        inside = inside & where[slices]
    labels[slices][inside] = code


def fraction(
    grid: Grid, solid: Solid, samples: int = 4
) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """Partial-volume fraction (0..1, float32) of each voxel inside ``solid``, from samples**3 sub-voxel points.

    Returns the (z, y, x) slices of the solid's bounding box on the grid and the fractions there,
    or None when the solid misses the grid.
    """
    slices = grid.box_slices(solid.lo, solid.hi)
    if slices is None:
        return None
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    fine = []
    for axis in (0, 1, 2):
        centres = grid.axis_mm(axis)[slices[axis]]
        fine.append((centres[:, None] + offsets[None, :] * grid.spacing_mm[axis]).ravel())
    inside = solid.occupancy(fine[2], fine[1], fine[0])
    n = [s.stop - s.start for s in slices]
    blocks = inside.reshape(n[0], samples, n[1], samples, n[2], samples)
    return slices, blocks.mean(axis=(1, 3, 5), dtype=np.float32)


class Implicit(Solid):
    """Points where ``test(x, y, z)`` is true, inside the LPS box ``lo``..``hi`` (mm)."""

    def __init__(self, test, lo, hi):
        self.test = test
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)

    def contains(self, x, y, z):
        return self.test(x, y, z) & (z >= self.lo[2]) & (z <= self.hi[2])


class MaskSolid(Solid):
    """The voxels of a boolean mask on an axial ``Grid`` (nearest voxel), for real-CT anatomy."""

    def __init__(self, mask: np.ndarray, grid: Grid):
        self.mask, self.grid = mask, grid
        zyx = np.argwhere(mask)
        if len(zyx) == 0:
            raise ValueError("empty mask")
        half = np.asarray(grid.spacing_mm)[::-1] / 2
        origin = np.asarray(grid.origin_lps_mm)
        spacing_xyz = np.asarray(grid.spacing_mm)[::-1]
        self.lo = origin + zyx.min(axis=0)[::-1] * spacing_xyz - half
        self.hi = origin + zyx.max(axis=0)[::-1] * spacing_xyz + half

    def contains(self, x, y, z):
        x, y, z = np.broadcast_arrays(x, y, z)
        index = []
        for axis, coordinate in ((0, z), (1, y), (2, x)):
            i = np.rint((coordinate - self.grid.origin_lps_mm[2 - axis]) / self.grid.spacing_mm[axis]).astype(int)
            index.append(i)
        inside = np.ones(x.shape, bool)
        for axis, i in enumerate(index):
            inside &= (i >= 0) & (i < self.mask.shape[axis])
        result = np.zeros(x.shape, bool)
        result[inside] = self.mask[tuple(i[inside] for i in index)]
        return result
