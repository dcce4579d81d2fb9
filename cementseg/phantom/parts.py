"""A `Part` is one piece of phantom anatomy: its TotalSegmentator-style name, its tissue, its solid."""

from __future__ import annotations

from dataclasses import dataclass

from .geometry import Solid


@dataclass(frozen=True)
class Part:
    """``anatomy``: label name as TotalSegmentator writes it (or a phantom-only name such as
    ``spinal_canal``); ``tissue``: key of `materials.TISSUE_HU`; parts are painted in order,
    later ones over earlier ones."""

    anatomy: str
    tissue: str
    solid: Solid
