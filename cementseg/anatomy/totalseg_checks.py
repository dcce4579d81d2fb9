"""Do not trust external vertebra labels blindly: label checks, a level cross-check, provenance.

TotalSegmentator's maintainers report that it mixes neighbouring vertebrae in about 1-2 % of
CTs, struggles next to spinal instrumentation and gives no confidence. Before its level
names are used they are checked on the working grid (+z cranial):

* one connected piece per label: a second sizeable piece clear of the scan's ends means two
  vertebrae under one name (a duplicate) or one vertebra cut in two;
* labels in anatomical order along the spine axis (each name above the next caudal one);
* no gap: no level name missing between the highest and the lowest label, and no step
  between consecutive label centres longer than `totalseg_gap_factor` x the median step (an
  unlabelled vertebra, so the names on one side are shifted);
* the built-in count (sacrum / lowest rib) names the same body the same way.

A failed check adds a warning and a *doubt* on the vertebrae concerned
(`AnatomyMap.level_doubts`); `record_anatomy_sources` then lowers the confidence of every
finding at a doubted level, checks that each fill lies in the body it is said to be in, and
writes which anatomy source each location decision used (``evidence["anatomy_source"]``).
"""

from __future__ import annotations

import cc3d
import numpy as np

from ..settings import Settings
from .anatomy_map import STRUCTURE_NAMES, AnatomyMap
from .grid import WorkingGrid
from .levels import ORDER

#: a fill with less than this share of its voxels in the body it is said to be in is in doubt
FILL_IN_BODY_MIN_SHARE = 0.5
#: a built-in body matches an external one when this share of the external body lies in it
MATCH_MIN_SHARE = 0.3
#: ... and this share of the built-in body lies in the external one (not two bodies taken as one)
MATCH_MIN_BUILTIN_SHARE = 0.6
POSITION_RULE = "builtin position/shape rule"


def check_vertebra_labels(
    levels: dict[str, np.ndarray], grid: WorkingGrid, settings: Settings
) -> tuple[list[str], dict[str, str]]:
    """Warnings and {level name: doubt} for whole-vertebra masks on the working grid."""
    warnings: list[str] = []
    doubts: dict[str, str] = {}

    def doubt(names, reason: str) -> None:
        for name in names:
            doubts.setdefault(name, reason)

    names = sorted((n for n in levels if n in ORDER and levels[n].any()), key=ORDER.index)  # cranial first
    for name in names:
        pieces = _split_pieces_ml(levels[name], grid, settings)
        if pieces:
            reason = f"the {name} label is split into {len(pieces) + 1} separate pieces"
            warnings.append(
                f"{reason} ({', '.join(f'{ml:.1f}' for ml in pieces)} mL apart from the largest): "
                "two vertebrae under one name, or one vertebra cut in two"
            )
            doubt([name], reason)
    spacing = np.asarray(grid.spacing_mm)
    centre_z_mm = {n: float(np.argwhere(levels[n])[:, 0].mean() * spacing[0]) for n in names}
    out_of_order = False
    for upper, lower in zip(names, names[1:], strict=False):
        if centre_z_mm[upper] <= centre_z_mm[lower]:
            reason = f"vertebra labels out of anatomical order: {upper} lies below {lower}"
            warnings.append(reason)
            doubt([upper, lower], reason)
            out_of_order = True
    if names:
        span = range(ORDER.index(names[0]), ORDER.index(names[-1]) + 1)
        missing = [ORDER[i] for i in span if ORDER[i] not in names]
        if missing:
            reason = f"no label for {', '.join(missing)} between {names[0]} and {names[-1]}"
            warnings.append(reason + ": the vertebra may be missed or the names around it shifted")
            doubt(names, reason)
    if len(names) >= 3 and not out_of_order:
        steps = -np.diff([centre_z_mm[n] for n in names])
        typical = float(np.median(steps))
        for (upper, lower), step in zip(zip(names, names[1:], strict=False), steps, strict=True):
            if step > settings.totalseg_gap_factor * typical:
                reason = (
                    f"{upper} and {lower} labels are {step:.0f} mm apart (typical step {typical:.0f} mm): "
                    "an unlabelled vertebra between them, the names on one side are shifted"
                )
                warnings.append(reason)
                doubt(names, reason)
    return warnings, doubts


def _split_pieces_ml(mask: np.ndarray, grid: WorkingGrid, settings: Settings) -> list[float]:
    """Volumes (mL) of the sizeable pieces of ``mask`` apart from its largest, clear of the scan's ends."""
    labels = cc3d.connected_components(mask, connectivity=26)
    stats = cc3d.statistics(labels)
    counts = np.asarray(stats["voxel_counts"][1:], float)
    if len(counts) < 2:
        return []
    largest = counts.max()
    pieces = []
    for label, count in enumerate(counts, start=1):
        if count == largest:
            continue
        box = stats["bounding_boxes"][label]
        at_scan_end = box[0].start == 0 or box[0].stop == mask.shape[0]
        ml = count * grid.voxel_ml
        if (
            not at_scan_end
            and ml >= settings.totalseg_split_min_ml
            and count >= settings.totalseg_split_min_share * largest
        ):
            pieces.append(ml)
    return pieces


def cross_check_levels(
    vertebrae: np.ndarray,
    levels: dict[int, str | None],
    builtin_vertebrae: np.ndarray,
    builtin_levels: dict[int, str | None],
) -> tuple[list[str], dict[int, str], int]:
    """Compare external level names with the built-in count, body by body.

    Returns (warnings, {external body id: doubt}, number of bodies the built-in count confirms).
    Bodies the built-in engine does not find or cannot name are neither confirmed nor doubted.
    """
    disagreements: list[tuple[int, str, str]] = []
    confirmed = 0
    for vid, name in sorted(levels.items()):
        body = vertebrae == vid
        if name is None or not body.any():
            continue
        ids, counts = np.unique(builtin_vertebrae[body], return_counts=True)
        keep = ids > 0
        ids, counts = ids[keep], counts[keep]
        if not len(ids):
            continue
        best = int(ids[np.argmax(counts)])
        overlap = counts.max()
        if (
            overlap < MATCH_MIN_SHARE * body.sum()
            or overlap < MATCH_MIN_BUILTIN_SHARE * (builtin_vertebrae == best).sum()
        ):
            continue  # no built-in body, or one spanning several external ones (a missed disc)
        builtin_name = builtin_levels.get(best)
        if builtin_name is None:
            continue
        if builtin_name == name:
            confirmed += 1
        else:
            disagreements.append((vid, name, builtin_name))
    if not disagreements:
        return [], {}, confirmed
    pairs = ", ".join(f"{name} (built-in {other})" for _, name, other in disagreements)
    warning = (
        f"TotalSegmentator's level names disagree with the built-in count for {pairs}: "
        "findings at these levels have lowered confidence; check the level on the images"
    )
    doubts = {
        vid: f"TotalSegmentator calls this body {name}, the built-in count {other}"
        for vid, name, other in disagreements
    }
    return [warning], doubts, confirmed


def record_anatomy_sources(components: list, volume, anatomy: AnatomyMap, settings: Settings) -> list[str]:
    """Write ``evidence["anatomy_source"]`` on every component; lower the confidence of doubted levels.

    ``evidence["anatomy_source"]`` = {"location": provider of the structure that decided the
    location (or ``builtin position/shape rule``), "location_structure": that structure (None
    for a rule), "vertebral_level": provider of the level names}. A component whose source
    vertebra or level is in `anatomy.level_doubts`, or a fill lying mostly outside the body it
    is said to be in (external labels only), gets ``evidence["level_doubt"]`` and its
    confidence multiplied by `totalseg_doubt_confidence_factor`. Returns warnings for the findings.
    """
    from ..spine_context import STRUCTURE_LOCATION

    level_source = anatomy.source.get("vertebral_levels", "builtin")
    id_of_level = {name: vid for vid, name in anatomy.vertebra_levels.items() if name}
    warnings: list[str] = []
    for component in components:
        reasons: list[str] = []
        if component.material != "cement":
            structure = component.evidence.get("structure_at_centroid")
            location_source = anatomy.source.get(structure) if structure in anatomy.source else None
        elif not component.is_leak:
            structure = "vertebral_body"
            location_source = anatomy.source.get(structure, "builtin")
            share = _share_in_body(component, volume, anatomy)
            component.evidence["share_in_labelled_body"] = round(share, 3)
            if level_source != "builtin" and share < FILL_IN_BODY_MIN_SHARE:
                reason = (
                    f"only {share:.0%} of the fill lies in the body labelled "
                    f"{component.source_vertebra or '?'}: the labels may mix neighbouring vertebrae"
                )
                reasons.append(reason)
                warnings.append(f"component {component.id}: {reason}")
        else:
            structure = _deciding_structure(component, volume, anatomy, STRUCTURE_LOCATION)
            location_source = anatomy.source.get(structure, "builtin") if structure else POSITION_RULE
        ids = {component.evidence.get("source_vertebra_id"), id_of_level.get(component.vertebral_level)}
        reasons += [
            anatomy.level_doubts[v]
            for v in sorted(i for i in ids if i is not None)
            if v in anatomy.level_doubts
        ]
        if reasons:
            component.confidence = round(component.confidence * settings.totalseg_doubt_confidence_factor, 3)
            component.evidence["level_doubt"] = "; ".join(dict.fromkeys(reasons))
        component.evidence["anatomy_source"] = {
            "location": location_source,
            "location_structure": structure,
            "vertebral_level": level_source,
        }
    return warnings


def _sample_lps(component, volume, limit: int = 4000) -> np.ndarray:
    flat = component.flat_index[:: max(1, len(component.flat_index) // limit)]
    return volume.index_to_lps(np.column_stack(np.unravel_index(flat, volume.shape)))


def _share_in_body(component, volume, anatomy: AnatomyMap) -> float:
    vid = component.evidence.get("source_vertebra_id")
    if vid is None or not len(component.flat_index):
        return 0.0
    return float(np.mean(anatomy.vertebra_at(_sample_lps(component, volume)) == vid))


def _deciding_structure(component, volume, anatomy: AnatomyMap, structure_location: dict) -> str | None:
    """The structure most of the leak's voxels lie in among those that mean its location; None if none."""
    if not len(component.flat_index):
        return None
    codes, counts = np.unique(anatomy.structure_at(_sample_lps(component, volume)), return_counts=True)
    best, best_count = None, 0
    for code, count in zip(codes, counts, strict=True):
        name = STRUCTURE_NAMES.get(int(code))
        if name and structure_location.get(name) == component.location and count > best_count:
            best, best_count = name, count
    return best
