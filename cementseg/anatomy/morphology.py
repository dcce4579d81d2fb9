"""Fast binary morphology with box footprints (separable min/max filters), sized in mm.

A box instead of a disk changes nothing that matters at the working grid's 2-3 mm, and
separable filters cost a few passes over the volume instead of one pass per footprint pixel
(each axis's window grown by doubling: about log2 of its length whole-array passes).
Dilations and closings run on the mask's bounding box (what lies farther away cannot change),
with the same result as on the whole volume. Also: that bounding box, the voxels of a mask
found within it, and per-slice work on all slices at once: one (y, x) box per slice stacked
(`StackedBoxes`), 3 x 3 neighbourhoods, in-plane dilation and exact convex hulls of a stack of images.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def box(spacing_mm, radius_mm) -> tuple[int, ...]:
    """Footprint size per axis: 2 * round(radius / spacing) + 1 (1 where the radius is 0)."""
    return tuple(2 * int(round(r / s)) + 1 if r > 0 else 1
                 for r, s in zip(np.broadcast_to(radius_mm, len(spacing_mm)), spacing_mm, strict=True))


def dilate(mask: np.ndarray, size) -> np.ndarray:
    """Box dilation, on the mask's bounding box grown by half the footprint (nothing reaches further)."""
    out = np.zeros_like(mask)
    crop = bounding_box(mask, [s // 2 for s in size])
    if crop is not None:
        out[crop] = _maximum(mask[crop], size)
    return out


def grow_one_voxel(mask: np.ndarray) -> np.ndarray:
    """Dilation by the 6-connected cross (``ndimage.binary_dilation``'s default), within the bounding box."""
    out = np.zeros_like(mask)
    crop = bounding_box(mask, 1)
    if crop is not None:
        out[crop] = ndimage.binary_dilation(mask[crop])
    return out


def erode(mask: np.ndarray, size) -> np.ndarray:
    """Box erosion, the volume's edges extended (``ndimage.minimum_filter``, mode "nearest").

    Computed on the mask's bounding box grown by one voxel: where that box stops short of the
    volume's edge its faces are empty, and so, extended, is what lies beyond them.
    """
    out = np.zeros_like(mask)
    crop = bounding_box(mask, 1)
    if crop is not None:
        out[crop] = _box_filter(mask[crop], size, np.logical_and)
    return out


def _maximum(mask: np.ndarray, size) -> np.ndarray:
    """Box dilation, the volume's edges extended (``ndimage.maximum_filter``, mode "nearest")."""
    return _box_filter(mask, size, np.logical_or)


def _box_filter(mask: np.ndarray, size, op) -> np.ndarray:
    """``op`` (logical and / or) over the centred box of ``size`` (odd, per axis): a new array."""
    out = mask
    for axis, n in enumerate(size):
        if n > 1:
            out = _window_along(out, n, axis, op)
    return out.copy() if out is mask else out


def _window_along(mask: np.ndarray, size: int, axis: int, op) -> np.ndarray:
    """``op`` over each element's centred window of ``size`` along ``axis``, the ends extended.

    The padded array's windows are grown by doubling: window length L to L + step with one
    ``op`` of two shifted views, so a window of n takes about log2(n) whole-array passes.
    """
    pad = [(0, 0)] * mask.ndim
    pad[axis] = (size // 2, size // 2)
    out = np.pad(mask, pad, mode="edge")
    length = 1
    while length < size:
        step = min(length, size - length)
        end = out.shape[axis]
        out = op(_along(out, axis, 0, end - step), _along(out, axis, step, end))
        length += step
    return out


def _along(values: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    return values[(slice(None),) * axis + (slice(start, stop),)]


def close(mask: np.ndarray, size) -> np.ndarray:
    """Dilation then erosion; the volume's edges are extended, so nothing erodes at the ends of the scan.

    Computed on the mask's bounding box grown by half the footprint and one voxel: the grown
    part stays empty, so its extended edges are the empty surroundings of the whole volume.
    """
    out = np.zeros_like(mask)
    crop = bounding_box(mask, [s // 2 + 1 for s in size])
    if crop is not None:
        out[crop] = erode(_maximum(mask[crop], size), size)
    return out


def open_(mask: np.ndarray, size) -> np.ndarray:
    return dilate(erode(mask, size), size)


def bounding_box(mask: np.ndarray, margin=0) -> tuple[slice, ...] | None:
    """Slices of ``mask``'s bounding box grown by ``margin`` voxels per axis (clipped); None if empty.

    The first axis from one pass, the others from the mask's projection over the occupied range.
    """
    margin = np.broadcast_to(margin, mask.ndim)
    hit = np.nonzero(mask.reshape(len(mask), -1).any(axis=1))[0]
    if len(hit) == 0:
        return None
    first, stop = int(hit[0]), int(hit[-1]) + 1
    inner = bounding_box(mask[first:stop].any(axis=0), margin[1:]) if mask.ndim > 1 else ()
    return (slice(max(first - int(margin[0]), 0), min(stop + int(margin[0]), len(mask))), *inner)


def over_3x3(values: np.ndarray, op, edge=None) -> np.ndarray:
    """``op`` (``np.maximum``, ``np.logical_or``, ``np.logical_and``) of each pixel of a 2D array (or of
    each image of a stack: the last two axes) and its 3 x 3 neighbours within the image, from shifted
    views (no per-call set-up cost on the small images of one slice); with ``edge``, pixels on the
    image's border become ``edge`` (False: an erosion with the outside as background)."""
    out = values
    for after in ((slice(None),), ()):  # the rows, then the columns
        lower, upper = (..., slice(None, -1), *after), (..., slice(1, None), *after)
        grown = out.copy()
        op(grown[upper], out[lower], out=grown[upper])
        op(grown[lower], out[upper], out=grown[lower])
        if edge is not None:
            grown[(..., slice(None, 1), *after)] = edge
            grown[(..., slice(-1, None), *after)] = edge
        out = grown
    return out


def dilate_in_plane(masks: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation`` of each image of a stack (the last two axes) by a 2D structuring
    element that is symmetric and, row by row, one run of pixels centred on its middle column
    (a disk, a cross, a square); outside the image counts as background.

    From shifted copies: the images grown along the rows by each run's half-width (a pixel more
    on each side at a time), then those shifted by each row's offset and OR-ed.
    """
    runs = [masks]
    half_widths = structure.sum(axis=1) // 2
    for _ in range(int(half_widths.max())):
        grown = runs[-1].copy()
        grown[..., 1:] |= runs[-1][..., :-1]
        grown[..., :-1] |= runs[-1][..., 1:]
        runs.append(grown)
    out = np.zeros_like(masks)
    rows = masks.shape[-2]
    for dy, (width, row) in enumerate(zip(half_widths, structure, strict=True), start=-(len(structure) // 2)):
        if row.any():  # out[y] |= runs[width][y + dy]
            target = slice(max(-dy, 0), max(rows - max(dy, 0), 0))
            source = slice(max(dy, 0), max(rows - max(-dy, 0), 0))
            out[..., target, :] |= runs[width][..., source, :]
    return out


class StackedBoxes:
    """One (y, x) box per slice of a volume, stacked: layer i holds slice ``z[i]``'s box at its top
    left, padded to the largest box's size.

    ``lo`` and ``size`` (n, 2) are each box's first (y, x) index and size, ``rows`` (n, R) and
    ``columns`` (n, C) the volume's row and column at each layer position, ``in_box`` (n, R, C)
    whether that position lies in the layer's box (not padding).
    """

    def __init__(self, z, lo_yx, hi_yx):
        self.z = np.asarray(z, dtype=np.intp)
        lo, hi = np.asarray(lo_yx, dtype=np.intp).reshape(-1, 2), np.asarray(hi_yx, dtype=np.intp).reshape(-1, 2)
        self.lo, self.size = lo, np.maximum(hi - lo, 0)
        size = self.size.max(axis=0, initial=0)
        self.rows, self.columns = (lo[:, k, None] + np.arange(size[k]) for k in range(2))
        self.in_box = (self.rows < hi[:, :1])[:, :, None] & (self.columns < hi[:, 1:])[:, None, :]
        self._boxes = [  # per layer: its slice, the box's (y, x) slices there and its part of the layer
            (z, (slice(y, y + h), slice(x, x + w)), (slice(0, h), slice(0, w)))
            for z, y, x, h, w in zip(self.z.tolist(), *lo.T.tolist(), *self.size.T.tolist(), strict=True)
        ]

    def gather(self, volume: np.ndarray, fill=0) -> np.ndarray:
        """The (n, R, C) values of ``volume`` (z, y, x) in the boxes, ``fill`` on the padding."""
        out = np.full(self.in_box.shape, fill, dtype=volume.dtype)
        for layer, (z, box, part) in zip(out, self._boxes, strict=True):
            layer[part] = volume[z][box]
        return out

    def paste(self, stack: np.ndarray, volume: np.ndarray, add: bool = False) -> None:
        """Write the boxes' part of ``stack`` (n, R, C) into ``volume`` (z, y, x); with ``add``, OR it
        into what ``volume`` holds there."""
        for layer, (z, box, part) in zip(stack, self._boxes, strict=True):
            if add:
                volume[z][box] |= layer[part]
            else:
                volume[z][box] = layer[part]


def voxels(mask: np.ndarray) -> np.ndarray:
    """``np.argwhere(mask)`` (same indices, same order), searched within the mask's bounding box."""
    crop = bounding_box(mask)
    if crop is None:
        return np.zeros((0, mask.ndim), dtype=np.intp)
    return np.argwhere(mask[crop]) + [c.start for c in crop]


def convex_hull(mask: np.ndarray) -> np.ndarray:
    """Pixels inside or on the convex hull of a 2D mask's pixels, each a diamond of its edge midpoints
    (``skimage.morphology.convex_hull_image``): `convex_hulls` of one image."""
    return convex_hulls(mask[None])[0]


def convex_hulls(masks: np.ndarray) -> np.ndarray:
    """`convex_hull` of each image of a stack (n, rows, columns), all at once.

    The same pixels as ``skimage.morphology.convex_hull_image``, found row by row in exact
    integer arithmetic on doubled coordinates instead of a point-in-polygon test per pixel: the
    hull's left edge, as a function of the row, is the lower convex chain of the leftmost
    diamond corners (`_lower_chains`), its right edge the upper chain of the rightmost ones; a
    pixel is in the hull when its centre lies between them. Only the rows of each mask's extent
    are tested: the hull's horizontal edges, if any, are its top and bottom, outside them.
    """
    out = np.zeros(masks.shape, dtype=bool)
    crop = bounding_box(masks.any(axis=0))  # what any hull can reach
    if crop is None:
        return out
    masks = masks[:, crop[0], crop[1]]
    n, rows, columns = masks.shape
    occupied = masks.any(axis=2)
    left2 = 2 * masks.argmax(axis=2)
    right2 = 2 * (columns - 1 - masks[:, :, ::-1].argmax(axis=2))
    # the left edge's chain, and the right edge's mirrored (x -> -x) so that it is a lower chain too
    chains = _lower_chains(np.concatenate([_corner_heights(occupied, left2 - 1, left2),
                                           _corner_heights(occupied, -right2 - 1, -right2)]))
    centre_height = 2 * np.arange(rows) + 1  # row r's centre on the doubled grid (height 0: the top corner of row 0)
    lowest = _ceil_half_below(*chains, centre_height)
    highest = -lowest[n:]
    lowest = lowest[:n]
    span = np.logical_or.accumulate(occupied, axis=1) & np.logical_or.accumulate(occupied[:, ::-1], axis=1)[:, ::-1]
    columns_at = np.arange(columns)
    hulls = (columns_at >= lowest[:, :, None]) & (columns_at <= highest[:, :, None]) & span[:, :, None]
    out[:, crop[0], crop[1]] = hulls
    return out


_NO_CORNER = np.iinfo(np.int64).max // 4  # a height without a corner


def _corner_heights(occupied: np.ndarray, middle: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n, 2 rows + 1) doubled x of the leftmost corner at each doubled height (row r's top corner at
    2r, its side corner at 2r + 1, its bottom corner at 2r + 2, shared with the next row's top):
    ``middle`` at the side corners, ``ends`` at the top and bottom ones, _NO_CORNER where none."""
    n, rows = occupied.shape
    out = np.full((n, 2 * rows + 1), _NO_CORNER, dtype=np.int64)
    out[:, 1::2] = np.where(occupied, middle, _NO_CORNER)
    ends = np.where(occupied, ends, _NO_CORNER)
    out[:, :-1:2] = ends
    out[:, 2::2] = np.minimum(out[:, 2::2], ends)
    return out


def _lower_chains(x_at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``x_at`` (x at each height; _NO_CORNER: no point), the lower convex chain of its
    points: (heights, x, number of vertices), the vertices packed to the left.

    Every point on or right of the segment joining its two neighbouring points is dropped, all
    rows and points at once, until none is: such a point is no vertex (the hull does not change
    without it), and a chain left with every point strictly left of its neighbours' segment is convex.
    """
    heights, x, count = _packed(x_at != _NO_CORNER, np.broadcast_to(np.arange(x_at.shape[1]), x_at.shape), x_at)
    while True:
        (h0, h1, h2), (x0, x1, x2) = ((a[:, :-2], a[:, 1:-1], a[:, 2:]) for a in (heights, x))
        drop = ((x1 - x0) * (h2 - h0) >= (x2 - x0) * (h1 - h0)) & (np.arange(1, x.shape[1] - 1) < count[:, None] - 1)
        if not drop.any():
            return heights, x, count
        keep = np.arange(x.shape[1]) < count[:, None]
        keep[:, 1:-1] &= ~drop
        heights, x, count = _packed(keep, heights, x)


def _packed(keep: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """``values`` (n, m) with each row's kept entries moved to its start (in order) and the rest cut
    to the longest row; and the number kept per row."""
    order = np.argsort(~keep, axis=1, kind="stable")
    count = keep.sum(axis=1)
    width = max(int(count.max(initial=0)), 1)
    return (*(np.take_along_axis(v, order[:, :width], axis=1) for v in values), count)


def _ceil_half_below(chain_h: np.ndarray, chain_x: np.ndarray, count: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """(n, len(heights)) smallest integer c with 2c at or right of each lower chain at ``heights``
    (within the chain's extent): the maximum over its edges' lines (the chain is convex)."""
    edges = max(int(count.max()) - 1, 1)
    ah, ax = chain_h[:, :edges, None], chain_x[:, :edges, None]
    bh, bx = chain_h[:, 1 : edges + 1, None], chain_x[:, 1 : edges + 1, None]
    rise = np.maximum(bh - ah, 1)  # > 0 on the real edges
    scaled = ax * rise + (bx - ax) * (heights - ah)  # rise x the edge's (doubled) x at each height
    ceil = -((-scaled) // (2 * rise))
    real = np.arange(edges)[None, :, None] < (count[:, None, None] - 1)
    return np.where(real, ceil, -_NO_CORNER).max(axis=1)
