"""All tunables in one frozen `Settings` object, with units in every name.

The findings JSON records the settings used (`Settings.to_dict`), and the batch resume key
hashes them (`Settings.digest`). Change a value with ``Settings().replace(name=value)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from .errors import SettingsError
from .vocabulary import DEFAULT_SEVERITY, LOCATIONS, SEVERITIES


@dataclass(frozen=True)
class Settings:
    # --- loader -------------------------------------------------------------------------
    #: a step between slices larger than this times the median step means missing slices
    slice_gap_factor: float = 1.5
    #: slice steps differing from the median by more than this (mm) count as variable spacing
    slice_spacing_tolerance_mm: float = 0.05
    #: resample irregular stacks (tilt, variable spacing) onto a regular grid instead of refusing
    resample_irregular: bool = True
    #: threads used to decode compressed slices
    decode_threads: int = 4

    # --- candidates (stage 1) -----------------------------------------------------------
    #: seed threshold (HU): a candidate must reach this somewhere
    seed_hu: float = 1200.0
    #: grow threshold (HU): a candidate extends down to this, to keep partial-volumed edges
    grow_hu: float = 450.0
    #: candidates smaller than this (mm3) are dropped
    min_candidate_mm3: float = 4.0

    # --- classification -----------------------------------------------------------------
    #: severity of a leak per location (see vocabulary.DEFAULT_SEVERITY)
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def __post_init__(self) -> None:
        if self.grow_hu > self.seed_hu:
            raise SettingsError(f"grow_hu ({self.grow_hu} HU) must not exceed seed_hu ({self.seed_hu} HU)")
        if self.min_candidate_mm3 < 0:
            raise SettingsError("min_candidate_mm3 must be >= 0 mm3")
        for location, severity in self.severity.items():
            if location not in LOCATIONS.values() or severity not in SEVERITIES:
                raise SettingsError(f"bad severity setting {location}={severity}")

    def replace(self, **changes) -> Settings:
        """A copy with some values changed (validated)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        """Short stable hash of every value (for caches and batch resume)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
