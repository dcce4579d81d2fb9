"""Synthetic post-vertebroplasty CT with voxel-exact truth (issue 3).

``generate(scenario, seed)`` makes a `PhantomCase`: a `CTVolume`, a truth label volume
(cement location codes and confounder material codes), TotalSegmentator-style anatomy
labels and a JSON-ready manifest. See docs/phantom.md.
"""

from .case import PhantomCase, generate
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "PhantomCase", "generate"]
