"""Reading CT: DICOM series (classic and enhanced), NIfTI, NRRD and MHA -> `CTVolume`.

* `find_series(path)` -> `SeriesScan`: one `SeriesRecord` per series, plus the skipped files.
* `load(path, series=None, settings=None, force=False)` -> `CTVolume` (int16 HU, LPS).
* `choose_series(scan)` -> the series `load` would take, and why.

The rules (series choice, ordering, resampling, errors) are in docs/loader.md.
"""

from .choose import choose_series
from .discovery import find_series
from .loader import load
from .records import SeriesRecord, SeriesScan, SliceHeader

__all__ = ["SeriesRecord", "SeriesScan", "SliceHeader", "choose_series", "find_series", "load"]
