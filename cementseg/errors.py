"""Typed errors. The CLI turns each into a one-line message and an exit code.

Every message names the file or series concerned, so a batch log says what to look at.
"""


class CementsegError(Exception):
    """Base class of every error cementseg raises on purpose."""

    exit_code = 3


class InputError(CementsegError):
    """The input cannot be read as a CT volume (file, folder, series)."""


class NoSeriesError(InputError):
    """No loadable image series at the given path."""


class SeriesSelectionError(InputError):
    """The requested series is absent, or several series and none could be chosen."""


class NotCTError(InputError):
    """The series is not a CT image series (refused unless forced)."""


class UnsupportedTransferSyntaxError(InputError):
    """Pixel data in a transfer syntax no installed decoder handles."""


class CorruptFileError(InputError):
    """A file of the series is truncated or its pixel data cannot be decoded."""


class GeometryError(InputError):
    """The slices of a series do not form a volume that can be trusted."""


class MissingSlicesError(GeometryError):
    """A gap in slice positions larger than the tolerance (slices missing)."""


class DuplicateSliceError(GeometryError):
    """Two or more slices at the same position with different content."""


class MixedGeometryError(GeometryError):
    """Slices of one series with different orientations or matrix sizes."""


class AnatomyError(CementsegError):
    """An anatomy map that cannot be used with this CT (for example no overlap)."""


class SettingsError(CementsegError):
    """An option or setting value out of its valid range."""
