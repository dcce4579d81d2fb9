"""Stage 2 of the detector: what each high-attenuation candidate is made of.

Every candidate becomes ``cement``, ``metal``, ``contrast``, ``calcification``, ``bone`` or
``indeterminate`` with a one-line reason, a confidence and the numbers behind them
(``evidence``). HU alone cannot decide -- cement reaches the 3071 HU ceiling of 12-bit
scales, CTPA contrast in the SVC exceeds 2000 HU, cortical bone reaches 1200 HU -- so the
rules (`rules.py`) weigh shape, surroundings and anatomy, in this order:

1. Metal: a core beyond any PMMA on an extended HU scale; a dense mass larger than any fill
   outside the vertebrae (prosthesis); a core at the HU ceiling unless it is a compact
   mass inside a vertebral body (cement at the ceiling), named by its shape (wire or
   lead too thin for cement to saturate, straight screw or rod, streaks).
2. The arterial side: nothing in or on the aorta is a cement leak (stent = metal,
   lumen = contrast, wall = calcification).
3. Contrast: in a vessel or chamber and within reach of its enhanced blood pool's HU; a
   thick candidate below PMMA density in enhanced blood; a lumen-like tube.
4. Touching metal: bone-like HU = cortex or bright streaks; denser and no fill = the
   hardware's blurred edge.
5. Bone: mostly in bone and not PMMA-dense. On coarse voxels a thin cast hugging a cortex, or a
   needle tract in a pedicle, joins the bone in one candidate: voxels denser than any bone
   (`cortex_max_hu`) with their partial-volume halo are split off a bone candidate in a
   vertebra when they hold at least `min_leak_mm3` of cement and the rules, knowing them to be
   denser than any bone, call them cement; so is the part outside the vertebra that runs up
   the IVC or azygos lumen (no bone lies in a vein) when the rules call it cement; the rest
   stays bone. Cement pieces in the posterior elements one voxel apart (a needle tract cut at
   the partial-volume dips between its peaks) are joined with those dips into one candidate.
6. Cement: PMMA-dense (a thick candidate by its median HU, a thin one by its peak after
   partial volume), markedly denser than a shell 1.5-6 mm around it, and in a vertebral
   body, continuous with cement, or on a venous route from a vertebral body.
7. Otherwise indeterminate.

After the rules, small pieces off the vertebrae that together ring a lumen outside the spine
are a stent graft's struts (`stent.py`).

Without an anatomy map the rules that need it are skipped; the reason says so.
Cement candidates also get ``cement_fraction`` and ``evidence["volume_pv_ml"]``, the
partial-volume cement volume (`cement_volume.py`); one that is nothing but the blurred edge of
a contrast candidate it touches (no voxel denser than that contrast) becomes contrast there.
"""

from __future__ import annotations

from ..anatomy.anatomy_map import AnatomyMap
from ..candidates import Candidate
from ..settings import Settings
from ..volume import CTVolume
from . import rules
from .cement_volume import set_cement_fractions
from .features import ScanScale, measure
from .judge import Judge, distance_to_metal_mm, first_rule
from .split import split_cement_off_bone
from .stent import stent_struts
from .tract import join_tract_pieces

__all__ = ["classify_materials", "measure"]


def classify_materials(
    candidates: list[Candidate], volume: CTVolume, anatomy: AnatomyMap | None, settings: Settings
) -> None:
    """Set ``material``, ``reason``, ``evidence`` (with ``confidence``) on every candidate, in place.

    Args:
        candidates: stage-1 candidates of ``volume`` (`segment.find_candidates`); cement split off a
            bone candidate is appended as a candidate of its own.
        volume: the CT.
        anatomy: its anatomy map (any grid), or None to classify by HU and shape alone.
        settings: the materials section of `Settings`.
    """
    scale = ScanScale(volume, settings, anatomy)
    has_anatomy = anatomy is not None
    features = {c.id: measure(c, volume, anatomy, settings) for c in candidates}
    verdicts: dict[int, tuple[str, str, float]] = {}
    for c in candidates:
        verdict = rules.metal(c, features[c.id], scale, settings, has_anatomy)
        if verdict:
            verdicts[c.id] = verdict
    metal_ids = set(verdicts)
    near_metal_mm = distance_to_metal_mm([c for c in candidates if c.id in metal_ids], candidates, volume)
    for c in candidates:
        features[c.id]["distance_to_metal_mm"] = near_metal_mm.get(c.id)
    for c in candidates:
        if c.id not in verdicts:
            verdict = first_rule(c, features[c.id], scale, settings, metal_ids, has_anatomy)
            if verdict:
                verdicts[c.id] = verdict
    if has_anatomy:
        metal = [c for c in candidates if c.id in metal_ids]
        judge = Judge(volume, anatomy, scale, settings, metal_ids, metal)
        split_cement_off_bone(candidates, features, verdicts, judge)
        stent_struts(candidates, features, verdicts, volume, anatomy)
    _spread_cement(candidates, features, verdicts, scale, settings, has_anatomy)
    if has_anatomy:
        join_tract_pieces(candidates, features, verdicts, judge)
        _require_a_source(candidates, features, verdicts)
    for c in candidates:
        material, reason, confidence = verdicts.get(c.id, ("indeterminate", "fits no material rule", 0.3))
        c.material = material
        c.reason = reason if has_anatomy else f"{reason} (no anatomy map)"
        c.evidence.update(features[c.id])
        c.evidence["confidence"] = confidence if has_anatomy else min(confidence, 0.5)
    set_cement_fractions(candidates, volume, settings, anatomy)


def _spread_cement(candidates, features, verdicts, scale, settings, has_anatomy) -> None:
    """Undecided candidates continuous with cement become cement when PMMA-dense (repeated along chains)."""
    if not has_anatomy:
        return
    changed = True
    while changed:
        cement_ids = {i for i, v in verdicts.items() if v[0] == "cement"}
        changed = False
        for c in candidates:
            if c.id not in verdicts:
                verdict = rules.cement(c, features[c.id], scale, settings, cement_ids)
                if verdict:
                    verdicts[c.id] = verdict
                    changed = True


def _require_a_source(candidates, features, verdicts) -> None:
    """Cement outside the vertebral bodies needs a cemented vertebra in the scan to come from.

    Without one, a dense object on a venous route is more often a wire, a lead or a stent
    strut; it becomes indeterminate and the reason says why.
    """
    cement = [c for c in candidates if verdicts.get(c.id, ("",))[0] == "cement"]
    if any(features[c.id].get("vertebral_body_fraction", 0.0) >= 0.5 for c in cement):
        return
    for c in cement:
        route = features[c.id].get("cement_route") or ["body"]
        reason = f"dense like cement ({route[0]}), but no cemented vertebra in the scan to come from"
        verdicts[c.id] = ("indeterminate", reason, 0.4)
