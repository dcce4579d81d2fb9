"""Anatomy: the built-in rule-based map (no model weights) and external providers.

Every provider returns one `AnatomyMap`.
"""

from .anatomy_map import STRUCTURES, AnatomyMap

__all__ = ["AnatomyMap", "STRUCTURES"]
