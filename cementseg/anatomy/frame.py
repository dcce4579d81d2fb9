"""The spine reference frame: per axial level, the vertebral body centre and the patient's
right, anterior and cranial directions there, all in LPS.

`SpineFrame.spine_coordinates` expresses any LPS point as (right, anterior, cranial) mm
from the nearest body centre on the spine centreline, the natural coordinates of a leak
("12 mm right, 30 mm anterior of the L1 body centre").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SpineFrame:
    """Body centres and unit axes along the spine, caudal to cranial.

    Attributes:
        centres_lps: (n, 3) vertebral body centre per working-grid level, LPS mm.
        right_lps, anterior_lps, cranial_lps: (n, 3) unit vectors in LPS at each level;
            cranial follows the spine axis, anterior points from the canal to the body,
            right = anterior x cranial.
        canal_lps: (n, 3) spinal canal centre per level, LPS mm.
        body_centres_lps: vertebral body id -> LPS mm centroid of that body.
    """

    centres_lps: np.ndarray
    right_lps: np.ndarray
    anterior_lps: np.ndarray
    cranial_lps: np.ndarray
    canal_lps: np.ndarray
    body_centres_lps: dict[int, np.ndarray] = field(default_factory=dict)

    def nearest_level(self, lps) -> np.ndarray:
        """Index of the nearest centreline level for each LPS point (n, 3)."""
        lps = np.atleast_2d(np.asarray(lps, dtype=float))
        d = np.linalg.norm(lps[:, None, :] - self.centres_lps[None, :, :], axis=2)
        return np.argmin(d, axis=1)

    def spine_coordinates(self, lps) -> np.ndarray:
        """(n, 3) (right, anterior, cranial) mm of LPS points from the nearest body centre."""
        lps = np.atleast_2d(np.asarray(lps, dtype=float))
        k = self.nearest_level(lps)
        rel = lps - self.centres_lps[k]
        return np.column_stack(
            [
                np.einsum("ij,ij->i", rel, axis[k])
                for axis in (self.right_lps, self.anterior_lps, self.cranial_lps)
            ]
        )

    def to_lps(self, level: int, right_anterior_cranial_mm) -> np.ndarray:
        """LPS mm of a (right, anterior, cranial) mm offset from body centre ``level``."""
        r, a, c = np.asarray(right_anterior_cranial_mm, dtype=float)
        return (
            self.centres_lps[level]
            + r * self.right_lps[level]
            + a * self.anterior_lps[level]
            + c * self.cranial_lps[level]
        )


AXIS_SMOOTHING_MM = 15.0  # the spine axis bends over vertebrae, not within one


def build_frame(body_zyx: np.ndarray, canal_zyx: np.ndarray, affine: np.ndarray) -> SpineFrame | None:
    """The frame from smoothed body and canal centre tracks ((nz, 3) working-grid indices)."""
    from scipy.ndimage import gaussian_filter1d

    from ..volume import index_to_lps

    valid = np.all(np.isfinite(body_zyx), axis=1) & np.all(np.isfinite(canal_zyx), axis=1)
    if valid.sum() < 2:
        return None
    centres = index_to_lps(affine, body_zyx[valid])
    canal = index_to_lps(affine, canal_zyx[valid])
    step_mm = float(np.median(np.linalg.norm(np.diff(centres, axis=0), axis=1))) if len(centres) > 1 else 1.0
    axis = gaussian_filter1d(centres, AXIS_SMOOTHING_MM / max(step_mm, 1e-3), axis=0, mode="nearest")
    cranial = np.gradient(axis, axis=0)
    cranial /= np.linalg.norm(cranial, axis=1, keepdims=True)
    cranial *= np.sign(cranial[:, 2:3] + 1e-9)  # LPS +S is cranial
    anterior = centres - canal
    anterior -= np.einsum("ij,ij->i", anterior, cranial)[:, None] * cranial
    anterior /= np.linalg.norm(anterior, axis=1, keepdims=True)
    right = np.cross(anterior, cranial)
    return SpineFrame(
        centres_lps=centres, right_lps=right, anterior_lps=anterior, cranial_lps=cranial, canal_lps=canal
    )
