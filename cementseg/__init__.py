"""cementseg: find PMMA bone-cement leakage on CT after vertebroplasty and kyphoplasty.

Python entry points: `cementseg.scan` (the whole pipeline), `cementseg.io.load`
(a CT series as a `CTVolume`), `cementseg.phantom` (synthetic cases with truth).
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import CementsegError
from .settings import Settings
from .volume import CTVolume

try:
    __version__ = version("cementseg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"


def __getattr__(name: str):
    # `scan` pulls in the whole detector; import it only when asked for.
    if name == "scan":
        from .pipeline import scan

        return scan
    raise AttributeError(f"module 'cementseg' has no attribute {name!r}")


__all__ = ["CTVolume", "CementsegError", "Settings", "scan", "__version__"]
