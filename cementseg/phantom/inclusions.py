"""`Inclusion`: a dense object added on top of the anatomy -- cement, metal, calcification or
refluxed contrast -- with everything the truth label volume and the manifest need."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..vocabulary import LOCATION_CODES, MATERIAL_TRUTH_CODES
from .geometry import Solid

KINDS = ("cement", "metal", "calcification", "contrast")


@dataclass
class Inclusion:
    """One object with known truth.

    Attributes:
        kind: "cement", "metal", "calcification" or "contrast".
        solid: its geometry (LPS mm).
        hu: its CT number (HU) before partial volume, blur and noise.
        location: for cement, the location name (vocabulary); None otherwise.
        source_vertebra: for cement, the level it came from ("L1").
        route: how it got there, in words ("basivertebral vein", "anterior external plexus", ...).
        centrelines: polylines (LPS mm points) along a thin object; voxels they pass through are
            truth even when the object fills less than half of them (a thin leak is never lost).
        length_mm: length along the centre line (or largest extent) in mm.
        description: what it is, in the reader's words.
        texture_hu: amplitude (HU) of its internal heterogeneity (cement clumps, ...).
    """

    kind: str
    solid: Solid
    hu: float
    location: str | None = None
    source_vertebra: str | None = None
    route: str = ""
    centrelines: list[np.ndarray] = field(default_factory=list)
    length_mm: float = 0.0
    description: str = ""
    texture_hu: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown inclusion kind {self.kind!r}")
        if (self.kind == "cement") != (self.location is not None):
            raise ValueError("cement needs a location, and only cement has one")

    @property
    def truth_code(self) -> int:
        if self.kind == "cement":
            return LOCATION_CODES[self.location]
        return MATERIAL_TRUTH_CODES[self.kind]

    @property
    def is_leak(self) -> bool:
        return self.kind == "cement" and self.location != "vertebral_body"
