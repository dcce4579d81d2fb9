"""`AnatomyMap`: the anatomy of one CT, on a (usually coarser) working grid.

One exclusive label volume holds the structures (codes in `STRUCTURES`); a second one
holds the vertebral bodies, each with its own integer id, and `vertebra_levels` names
them ("L1", "T12", ...) or gives ``None`` with the reason in `level_note`.
Arrays are (z, y, x); `affine` maps (x, y, z, 1) to LPS mm like `CTVolume.affine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..volume import index_to_lps, lps_to_index
from .frame import SpineFrame

#: structure codes of `AnatomyMap.structures` (0 = outside the body)
STRUCTURES: dict[str, int] = {
    "soft_tissue": 1,  # inside the body, nothing more specific
    "lung": 2,
    "vertebral_body": 3,
    "intervertebral_disc": 4,
    "spinal_canal": 5,
    "neural_foramen": 6,
    "posterior_elements": 7,
    "aorta": 8,
    "inferior_vena_cava": 9,
    "azygos_system": 10,
    "heart": 11,
    "right_heart": 12,
    "pulmonary_artery": 13,
    "paravertebral": 14,  # the paravertebral space next to the vertebral bodies
    "other_bone": 15,  # ribs, pelvis, sacrum, sternum
    "liver": 16,
    "kidney": 17,
    "hip_prosthesis": 18,
}
STRUCTURE_NAMES: dict[int, str] = {code: name for name, code in STRUCTURES.items()}


@dataclass
class AnatomyMap:
    """Anatomy on a working grid.

    Attributes:
        structures: uint8 (z, y, x) label volume, codes from `STRUCTURES`.
        vertebrae: uint8/uint16 (z, y, x), 0 = no vertebral body, k = vertebral body k.
        affine: 4x4, index (x, y, z, 1) -> LPS mm, of the working grid.
        vertebra_levels: vertebral body id -> level name ("T12", "L1", ...) or None.
        level_note: why levels are None when they are (field of view, ...).
        source: structure name -> where it came from ("builtin", "totalsegmentator").
        warnings: what the provider noticed (disagreements, missing structures).
        spine_frame: body centres and (right, anterior, cranial) axes along the spine, or
            None when no spine is in view (see `SpineFrame.spine_coordinates`).
        level_doubts: vertebral body id -> why its level name is in doubt (external labels that
            failed a check or disagree with the built-in count; see docs/totalsegmentator.md).
    """

    structures: np.ndarray
    vertebrae: np.ndarray
    affine: np.ndarray
    vertebra_levels: dict[int, str | None] = field(default_factory=dict)
    level_note: str = ""
    source: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    spine_frame: SpineFrame | None = None
    level_doubts: dict[int, str] = field(default_factory=dict)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """(z, y, x) voxel size of the working grid in mm."""
        xyz = np.linalg.norm(self.affine[:3, :3], axis=0)
        return tuple(float(s) for s in xyz[::-1])

    def _indices(self, lps) -> tuple[np.ndarray, np.ndarray]:
        zyx = np.rint(lps_to_index(self.affine, np.atleast_2d(lps))).astype(int)
        inside = np.all((zyx >= 0) & (zyx < np.array(self.structures.shape)), axis=1)
        return zyx, inside

    def structure_at(self, lps) -> np.ndarray:
        """Structure code at each LPS mm point (n, 3); 0 outside the grid."""
        zyx, inside = self._indices(lps)
        codes = np.zeros(len(zyx), dtype=np.uint8)
        codes[inside] = self.structures[tuple(zyx[inside].T)]
        return codes

    def vertebra_at(self, lps) -> np.ndarray:
        """Vertebral body id at each LPS mm point (n, 3); 0 where there is none."""
        zyx, inside = self._indices(lps)
        ids = np.zeros(len(zyx), dtype=np.int32)
        ids[inside] = self.vertebrae[tuple(zyx[inside].T)]
        return ids

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of one structure on the working grid."""
        return self.structures == STRUCTURES[name]

    def voxel_centres_lps(self, zyx) -> np.ndarray:
        """LPS mm of working-grid (z, y, x) indices."""
        return index_to_lps(self.affine, zyx)
