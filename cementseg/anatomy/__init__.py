"""Anatomy: the built-in rule-based map (no model weights) and external providers.

Every provider returns one `AnatomyMap`:

* `build(volume)` -- built in, from HU and geometry alone.
* `from_labels(volume, labels, class_map)` / `load_external(path, volume)` -- from
  TotalSegmentator-layout labels, completed by the built-in engine where they are silent.

See docs/anatomy.md for how each structure is found and how accurate it is.
"""

from .anatomy_map import STRUCTURE_NAMES, STRUCTURES, AnatomyMap
from .builtin import build
from .external import from_labels, load_external
from .frame import SpineFrame

__all__ = ["STRUCTURES", "STRUCTURE_NAMES", "AnatomyMap", "SpineFrame", "build", "from_labels", "load_external"]
