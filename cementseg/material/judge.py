"""Judging a candidate with the material rules: the first rule that answers, and the same again
for a candidate made or changed after the first round (`Judge`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..anatomy.anatomy_map import AnatomyMap
from ..candidates import Candidate
from ..settings import Settings
from ..volume import CTVolume
from . import rules
from .features import ScanScale, measure


def first_rule(c, f, scale, settings, metal_ids, has_anatomy):
    """The verdict of the first rule after metal that answers (None: no rule does)."""
    if has_anatomy:
        return (
            rules.arterial(c, f, scale, settings)
            or rules.contrast(c, f, scale, settings, True)
            or rules.next_to_metal(c, f, scale, settings, metal_ids)
            or rules.bone(c, f, scale, settings)
            or rules.cement(c, f, scale, settings, set())
        )
    return (
        rules.contrast(c, f, scale, settings, False)
        or rules.next_to_metal(c, f, scale, settings, metal_ids)
        or rules.cement_without_anatomy(c, f, scale, settings)
    )


def distance_to_metal_mm(metal: list[Candidate], candidates: list[Candidate], volume: CTVolume) -> dict:
    """Shortest distance (mm) from each non-metal candidate's voxels to a metal voxel."""
    if not metal:
        return {}
    metal_lps = volume.index_to_lps(
        np.concatenate([m.zyx(volume.shape)[:: max(1, m.voxel_count // 5000)] for m in metal])
    )
    tree = cKDTree(metal_lps)
    ids = {m.id for m in metal}
    distances = {}
    for c in candidates:
        if c.id not in ids:
            zyx = c.zyx(volume.shape)[:: max(1, c.voxel_count // 2000)]
            distances[c.id] = float(tree.query(volume.index_to_lps(zyx))[0].min())
    return distances


@dataclass(frozen=True)
class Judge:
    """Features and verdict of a candidate made or changed after the first round of rules."""

    volume: CTVolume
    anatomy: AnatomyMap
    scale: ScanScale
    settings: Settings
    metal_ids: set[int]
    metal: list[Candidate]

    def __call__(self, c: Candidate, cement_ids: set[int]) -> tuple[dict, tuple | None]:
        f = measure(c, self.volume, self.anatomy, self.settings)
        f["distance_to_metal_mm"] = distance_to_metal_mm(self.metal, [c], self.volume).get(c.id)
        verdict = first_rule(c, f, self.scale, self.settings, self.metal_ids, True)
        return f, verdict or rules.cement(c, f, self.scale, self.settings, cement_ids)
