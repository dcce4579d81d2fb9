"""Assemble the phantom's anatomy and paint it on a grid as TotalSegmentator-style labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .geometry import Box, Grid, paint
from .layout import LEVELS, TORSO_HALF_AP_MM, VERTEBRAE
from .lungs import ArterySegment, lung_parts, pulmonary_artery_parts
from .parts import Part
from .spine import spine_parts
from .torso import body_wall_parts, organ_parts
from .vessels import vessel_parts

#: label names that stand for a group of labels
GROUPS = {
    "heart": "heart_",
    "lung": "lung_",
    "vertebrae": "vertebrae_",
}


def anatomy_parts(pulmonary_tree: list[ArterySegment]) -> list[Part]:
    """Every part of the phantom, in painting order (later parts over earlier ones)."""
    sternum = Box(
        (-14.0, -TORSO_HALF_AP_MM + 9.0, VERTEBRAE["T10"].centre[2]),
        (14.0, -TORSO_HALF_AP_MM + 23.0, VERTEBRAE["T6"].top_mm + 60),
    )
    return [
        *body_wall_parts(),
        Part("sternum", "rib", sternum),
        *organ_parts(),
        *lung_parts(),
        *pulmonary_artery_parts(pulmonary_tree),
        *vessel_parts(),
        *spine_parts(),
    ]


def anatomy_codes() -> dict[str, int]:
    """Stable label code of every anatomy name (the same for every scenario and seed)."""
    names: list[str] = []
    for part in anatomy_parts([]):
        if part.anatomy not in names:
            names.append(part.anatomy)
    return {name: code for code, name in enumerate(names, start=1)}


ANATOMY_CODES: dict[str, int] = anatomy_codes()


@dataclass
class PhantomAnatomy(Mapping):
    """Anatomy labels on the CT grid.

    ``labels`` is one uint8 multilabel volume with codes from ``codes`` (TotalSegmentator
    class names; 0 = air outside the body). ``vertebral_body`` follows TotalSegmentator's
    ``vertebrae_body`` task: 1 vertebral bodies, 2 intervertebral discs. Indexing by name
    (``anatomy["vertebrae_L1"]``) gives a boolean mask; "heart", "lung" and "vertebrae"
    give the union of their parts.
    """

    labels: np.ndarray
    codes: dict[str, int]
    vertebral_body: np.ndarray
    levels: tuple[str, ...] = LEVELS

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.codes:
            return self.labels == self.codes[name]
        if name in GROUPS:
            wanted = [code for label, code in self.codes.items() if label.startswith(GROUPS[name])]
            return np.isin(self.labels, wanted)
        raise KeyError(f"no anatomy label {name!r} in the phantom")

    def __iter__(self) -> Iterator[str]:
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)


def paint_anatomy(grid: Grid, parts: list[Part]) -> tuple[np.ndarray, list[Part]]:
    """Part index volume (uint8, 0 = air; k = parts[k - 1]) sampled at the voxel centres."""
    if len(parts) > 255:
        raise ValueError("too many anatomy parts for a uint8 volume")
    volume = np.zeros(grid.shape, np.uint8)
    for index, part in enumerate(parts, start=1):
        paint(volume, grid, part.solid, index)
    return volume, parts


def anatomy_from_parts(part_volume: np.ndarray, parts: list[Part]) -> PhantomAnatomy:
    """TotalSegmentator-style labels from the painted parts."""
    to_label = np.zeros(len(parts) + 1, np.uint8)
    to_body = np.zeros(len(parts) + 1, np.uint8)
    for index, part in enumerate(parts, start=1):
        to_label[index] = ANATOMY_CODES[part.anatomy]
        if part.anatomy.startswith("vertebrae_") and part.tissue in ("cortical_bone", "cancellous_bone"):
            to_body[index] = 1
        elif part.tissue == "disc":
            to_body[index] = 2
    return PhantomAnatomy(
        labels=to_label[part_volume], codes=dict(ANATOMY_CODES), vertebral_body=to_body[part_volume]
    )
