"""Anatomy: the built-in rule-based map (no model weights) and external providers.

Every provider returns one `AnatomyMap`:

* `build(volume)` -- built in, from HU and geometry alone.
* `from_labels(volume, labels, class_map)` / `load_external(path, volume)` -- from
  TotalSegmentator-layout labels, completed by the built-in engine where they are silent.

See docs/anatomy.md for how each structure is found and how accurate it is.
"""

from .anatomy_map import STRUCTURE_NAMES, STRUCTURES, AnatomyMap
from .frame import SpineFrame

_PROVIDERS = {"build": "builtin", "from_labels": "external", "load_external": "external"}


def __getattr__(name: str):
    # The providers pull in scipy.signal and the whole engine: import them when first used,
    # so that commands which never build anatomy (info, --help, phantom) start quickly.
    if name in _PROVIDERS:
        from importlib import import_module

        return getattr(import_module(f".{_PROVIDERS[name]}", __name__), name)
    raise AttributeError(f"module 'cementseg.anatomy' has no attribute {name!r}")


__all__ = ["STRUCTURES", "STRUCTURE_NAMES", "AnatomyMap", "SpineFrame", "build", "from_labels", "load_external"]
