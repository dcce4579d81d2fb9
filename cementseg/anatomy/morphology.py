"""Fast binary morphology with box footprints (separable min/max filters), sized in mm.

A box instead of a disk changes nothing that matters at the working grid's 2-3 mm, and
separable filters cost a few passes over the volume instead of one pass per footprint pixel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def box(spacing_mm, radius_mm) -> tuple[int, ...]:
    """Footprint size per axis: 2 * round(radius / spacing) + 1 (1 where the radius is 0)."""
    return tuple(2 * int(round(r / s)) + 1 if r > 0 else 1
                 for r, s in zip(np.broadcast_to(radius_mm, len(spacing_mm)), spacing_mm, strict=True))


def dilate(mask: np.ndarray, size) -> np.ndarray:
    return ndimage.maximum_filter(mask.view(np.uint8), size=size, mode="nearest").view(bool)


def erode(mask: np.ndarray, size) -> np.ndarray:
    return ndimage.minimum_filter(mask.view(np.uint8), size=size, mode="nearest").view(bool)


def close(mask: np.ndarray, size) -> np.ndarray:
    """Dilation then erosion; the volume's edges are extended, so nothing erodes at the ends of the scan."""
    return erode(dilate(mask, size), size)


def open_(mask: np.ndarray, size) -> np.ndarray:
    return dilate(erode(mask, size), size)
