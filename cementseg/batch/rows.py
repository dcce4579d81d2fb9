"""`SeriesRow`: one line of summary.csv / summary.parquet, and the resume record of a series."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: status of a series: scanned, refused with a reason (input error), crashed (bug), left out
STATUSES = ("ok", "failed", "error", "not_scanned")


@dataclass
class SeriesRow:
    """The outcome of one series (volumes in mL, runtime in s)."""

    study_uid: str | None
    series_uid: str
    status: str
    cemented_levels: str = ""  # levels joined with ";" (e.g. "L1;L2")
    leak_count: int | None = None
    highest_severity: str | None = None
    leak_volume_ml: float | None = None
    error: str = ""
    runtime_s: float = 0.0
    result_dir: str = ""
    outputs: str = ""  # produced files in result_dir, joined with ";"
    settings_digest: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SeriesRow:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


SUMMARY_COLUMNS = tuple(f.name for f in fields(SeriesRow))
