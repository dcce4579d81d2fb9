"""Synthetic post-vertebroplasty CT with voxel-exact truth (issue 3).

``generate(scenario, seed)`` makes a `PhantomCase`: a `CTVolume`, a truth label volume
(cement location codes and confounder material codes), TotalSegmentator-style anatomy
labels and a JSON-ready manifest; ``insert(volume, labels, plan)`` puts the same cement
into a real CT guided by its TotalSegmentator labels. See docs/phantom.md.
"""

from .case import PhantomCase, generate
from .insert import insert
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "PhantomCase", "generate", "insert"]
