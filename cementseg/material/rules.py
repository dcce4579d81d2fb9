"""The material rules: each looks at one candidate's features and answers or passes.

A rule returns ``(material, one-line reason, confidence)`` or None to let the next rule
decide. Thresholds come from `Settings` (materials section) and scale with the voxel size
through ``ScanScale.pv`` like stage 1.
"""

from __future__ import annotations

from ..candidates import Candidate
from ..settings import Settings
from .features import BLOOD_POOLS, ScanScale

Verdict = tuple[str, str, float] | None

BONE = ("vertebral_body", "posterior_elements", "other_bone")
#: the vertebrae: the bone cement leaves, and the cortex its leaks hug
VERTEBRA = ("vertebral_body", "posterior_elements")
#: spine compartments: a thick dense mass there is cement, never a contrast-filled lumen
SPINE_COMPARTMENTS = (
    "vertebral_body",
    "intervertebral_disc",
    "spinal_canal",
    "neural_foramen",
    "posterior_elements",
)
#: where cement from a vertebral body can go
VENOUS_ROUTE = (
    "intervertebral_disc",
    "spinal_canal",
    "neural_foramen",
    "posterior_elements",
    "paravertebral",
    "inferior_vena_cava",
    "azygos_system",
    "heart",
    "right_heart",
    "pulmonary_artery",
    "lung",
)
#: a spread of HU needs a few voxels: tiny candidates (an embolus on coarse voxels) skip that test
_MIN_VOXELS_FOR_SPREAD = 8
#: where cement arrives only as an embolus, through the heart
EMBOLIC = ("heart", "right_heart", "pulmonary_artery", "lung")
#: arterial trees fed by a ventricle: the ventricle mixes contrast and blood into one level
MIXED_POOLS = ("pulmonary_artery", "aorta")


def fraction_in(f: dict, names) -> float:
    """Share of the candidate's voxels in any of the structures ``names`` (0 without anatomy)."""
    fractions = f.get("structure_fractions") or {}
    return sum(fractions.get(name, 0.0) for name in names)


def is_thick(f: dict, s: Settings) -> bool:
    """At least `cement_bulk_min_voxels` voxels across (`_pure_plateau`): its bulk HU is its
    material's, not partial volume."""
    return f["diameter_mm"] >= s.cement_bulk_min_voxels * f["voxel_across_mm"]


def cement_dense(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> bool:
    """Dense like PMMA after partial volume, by the first test that applies.

    0. In enhanced blood: its peak stands out from the blood around it by what a thin line
       keeps (``pv * cement_min_pool_excess_hu``).
    1. A candidate with a core (voxels one voxel deep inside) by the core's median HU, which
       must reach `cement_bulk_min_hu`: denser than the bulk of any bone or contrast lumen.
       Outside the spine, a plateau (`_pure_plateau`) is pure PMMA and must reach
       `cement_min_hu`: a lumen full of refluxed contrast (1000-1450 HU) does not.
    2. Mostly in bone: at least `cement_in_bone_min_fraction` of its voxels reach
       `cement_min_hu`, unscaled -- cortex with bright noise must not pass, and thin cement
       inside bone on coarse voxels cannot be told from cortex -- or it was split off a bone
       candidate around voxels denser than any bone (``evidence["core"]``, `cortex_max_hu`).
    3. Elsewhere: its peak (HU p95) reaches `cement_min_hu` mixed by the partial-volume
       factor with its surroundings (enhanced blood of its vessel, else soft tissue, or lung
       when that is what surrounds it). Below
       `cement_min_hu` it must also be no larger than `faint_cement_max_ml` and show the
       spread of a blurred line (HU p95 - p50 >= `thin_cement_min_spread_hu`), not the flat
       plateau of a material below PMMA density.
    """
    pool = enhanced_pool_hu(f, scale, s)
    if pool is not None:  # in enhanced blood: judged against it
        return c.hu_p95 - pool >= scale.pv * s.cement_min_pool_excess_hu
    core = f.get("core_hu")
    if core is not None:
        return core >= (s.cement_min_hu if _pure_plateau(f, s) else s.cement_bulk_min_hu)
    if fraction_in(f, BONE) >= 0.5:
        if c.evidence.get("core") == "denser_than_bone":
            return True  # split off a bone candidate at voxels no bone reaches (`cortex_max_hu`)
        return f["cement_dense_fraction"] >= s.cement_in_bone_min_fraction
    if c.hu_p95 < s.cement_min_hu:
        if c.volume_ml > s.faint_cement_max_ml:
            return False  # too large for a thin leak, too faint for thick cement: a dense lumen
        flat = c.hu_p95 - c.hu_p50 < s.thin_cement_min_spread_hu
        if flat and c.voxel_count >= _MIN_VOXELS_FOR_SPREAD:
            return False  # a flat plateau below PMMA: bone or calcification, not a blurred line
    return c.hu_p95 >= _thin_line_surroundings_hu(f, scale, s) * (1 - scale.pv) + scale.pv * s.cement_min_hu


def _pure_plateau(f: dict, s: Settings) -> bool:
    """At least `cement_plateau_min_voxels` voxels across (voxels across it: a column up thick
    slices is in-plane voxels across) and outside the vertebrae and spine compartments: its core
    reads its material's own HU, cement not mixed with bone."""
    return (
        f["diameter_mm"] >= s.cement_plateau_min_voxels * f["voxel_across_mm"]
        and fraction_in(f, SPINE_COMPARTMENTS) < 0.3
        and f.get("vertebral_body_fraction", 0.0) < 0.3
    )


def _thin_line_surroundings_hu(f: dict, scale: ScanScale, s: Settings) -> float:
    """What a thin line here is averaged with: enhanced blood of the vessel it lies in, else
    soft tissue, or lung when that is what surrounds it."""
    here = [
        scale.blood_hu[name]
        for name in BLOOD_POOLS
        if scale.blood_hu.get(name) is not None
        and (fraction_in(f, [name]) > 0 or name in f.get("structures_nearby", ()))
    ]
    enhanced = [hu for hu in here if hu >= s.enhanced_blood_min_hu]
    if enhanced:
        return max(enhanced)
    return min(s.soft_tissue_hu, f["local_background_hu"])


def metal(c: Candidate, f: dict, scale: ScanScale, s: Settings, has_anatomy: bool) -> Verdict:
    """Metal by HU scale, prosthesis size, or a ceiling-HU core shaped like hardware."""
    if fraction_in(f, ["hip_prosthesis"]) >= 0.3:
        return "metal", "inside the hip prosthesis", 0.95
    if scale.extended and (c.evidence.get("core") == "metal" or c.hu_p95 >= s.metal_min_hu_extended):
        return "metal", f"HU up to {c.hu_max:.0f}, above any PMMA on an extended HU scale", 0.95
    in_body = f.get("vertebral_body_fraction", 0.0)
    at_ceiling = (
        c.evidence.get("core") == "metal" or f["saturated_fraction"] >= s.metal_min_saturated_fraction
    )
    large = c.volume_ml >= s.metal_min_prosthesis_ml and c.hu_p95 >= s.cement_min_hu
    if large and in_body < 0.5 and (at_ceiling or f["saturated_fraction"] > 0.0):
        return "metal", f"dense mass of {c.volume_ml:.0f} mL outside the vertebral bodies: a prosthesis", 0.8
    at_ceiling = (
        c.evidence.get("core") == "metal" or f["saturated_fraction"] >= s.metal_min_saturated_fraction
    )
    if not at_ceiling:
        return None
    shape = _hardware_shape(c, f, scale, s)
    compact = (
        c.tubularity < s.metal_min_tubularity and shape is None and c.volume_ml >= s.fill_near_metal_min_ml
    )
    if compact and (in_body >= 0.6 or not has_anatomy):
        return None  # cement can reach the ceiling too: a compact mass in a vertebral body is a fill
    return "metal", f"HU at the scanner ceiling, {shape or 'not shaped like a cement fill'}", 0.85


def hardware_geometry(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> str | None:
    """Why a ceiling-HU candidate is shaped like a wire, lead, screw or rod (None if it is not)."""
    if f["diameter_mm"] <= s.metal_wire_max_diameter_mm * max(1.0, scale.voxel_mm / 1.5):
        return f"{f['diameter_mm']:.1f} mm thick: a wire or lead, too thin for cement to saturate"
    straight = f["axis_deviation_mm"] <= 0.75 * f["diameter_mm"] + scale.voxel_mm
    elongated = (
        c.tubularity >= s.metal_min_tubularity or c.length_mm >= s.metal_min_elongation * f["diameter_mm"]
    )
    if straight and elongated and c.length_mm >= s.metal_min_rod_length_mm:
        return f"a straight cylinder {c.length_mm:.0f} x {f['diameter_mm']:.1f} mm: screw or rod"
    return None


def _hardware_shape(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> str | None:
    geometry = hardware_geometry(c, f, scale, s)
    if geometry:
        return geometry
    if f["dark_streak_fraction"] >= s.metal_min_streak_fraction:
        return f"dark streaks around it ({f['dark_streak_fraction']:.0%} of its surroundings)"
    return None


def next_to_metal(c: Candidate, f: dict, scale: ScanScale, s: Settings, metal_ids: set[int]) -> Verdict:
    """Pieces touching hardware: its blurred edge or streaks, or bone -- unless a cement fill.

    Not touching but within `metal_streak_zone_mm`: a thin piece below PMMA bulk density is a
    bright streak or cortex lit up by the hardware's artefacts -- unless, off the vertebrae
    (the screws' bone), its peak reaches PMMA's HU: no streak lifts blood or soft tissue that far
    (a cement fragment in the right ventricle 6 mm from a pacing lead's tip; an IVC cast 9 mm
    from a stent graft, a third of whose voxels the map calls other bone -- any dense voxel
    outside the spine, the cast's own).
    """
    touching = metal_ids.intersection(c.evidence.get("touches", []))
    distance = f.get("distance_to_metal_mm")
    if not touching:
        if distance is not None and distance <= s.metal_streak_zone_mm and c.hu_p50 < s.cement_bulk_min_hu:
            dense_off_bone = c.hu_p95 >= s.cement_min_hu and fraction_in(f, VERTEBRA) < 0.3
            if not is_thick(f, s) and not dense_off_bone:
                return (
                    "indeterminate",
                    f"{distance:.0f} mm from metal, thin and below PMMA bulk: streak or cortex",
                    0.5,
                )
        return None
    if c.hu_p50 < s.cement_min_hu:
        return (
            "bone",
            f"touches metal (candidate {min(touching)}), bone-like HU p50 {c.hu_p50:.0f}: cortex or streaks",
            0.6,
        )
    in_body = f.get("vertebral_body_fraction", 1.0)  # without anatomy: judged by size alone
    fill_like = in_body >= 0.5 and c.volume_ml >= s.fill_near_metal_min_ml
    if not fill_like:
        return (
            "metal",
            f"touches metal (candidate {min(touching)}) and is no cement fill: the hardware's edge",
            0.6,
        )
    return None


def arterial(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> Verdict:
    """Nothing in or on the aorta is a cement leak.

    On the wall: small, not in bone, and either mostly off the venous route or, never reaching
    PMMA's HU, mostly within `anatomy_touch_mm` of the aortic lumen (on thick slices the map's
    hemiazygos and paravertebral space overlap the aorta's back wall, where plaques lie). Such
    a faint plaque or strut need only be off the vertebrae: the map calls any dense voxel
    outside the spine "other_bone", the plaque's own voxels too.
    """
    in_aorta = fraction_in(f, ["aorta"])
    hugs_aorta = c.hu_p95 < s.cement_min_hu and f["aortic_wall_share"] >= 0.5
    on_wall = (
        "aorta" in f["structures_nearby"]
        and fraction_in(f, VERTEBRA if hugs_aorta else BONE) < 0.3
        and f["vertebral_body_fraction"] < 0.3
        and c.volume_ml < s.calcification_max_ml
        and (fraction_in(f, VENOUS_ROUTE) < 0.5 or hugs_aorta)
    )
    if in_aorta < 0.3 and not on_wall:
        return None
    if in_aorta >= 0.3 and c.volume_ml >= s.contrast_min_lumen_ml and c.hu_p50 < s.cement_min_hu:
        return "contrast", f"fills the aortic lumen ({c.volume_ml:.1f} mL, HU p50 {c.hu_p50:.0f})", 0.8
    if f["saturated_fraction"] > 0.05 or c.evidence.get("core") == "metal":
        return "metal", "HU at the ceiling in or on the aorta: a stent graft", 0.8
    return "calcification", "in or on the aortic wall: arterial, never a cement route", 0.8


#: where undiluted contrast arrives (the injected veins' inflow, the right atrium, reflux into
#: the IVC, hepatic veins and azygos); past the right ventricle it has mixed with the blood
UNDILUTED_POOLS = ("inferior_vena_cava", "azygos_system", "heart", "right_heart")


def contrast(c: Candidate, f: dict, scale: ScanScale, s: Settings, has_anatomy: bool) -> Verdict:
    """Enhanced blood: as dense as the pool around it, or a thick lumen below PMMA density.

    A dense mass of PMMA density with a flat top is undiluted contrast only in the pools it
    reaches undiluted (`UNDILUTED_POOLS`): in a pulmonary artery or the aorta it is cement.
    """
    pool = enhanced_pool_hu(f, scale, s)
    pooled, vessel = max((fraction_in(f, [name]), name) for name in BLOOD_POOLS)
    if (
        pool is not None
        and pool >= s.enhanced_blood_min_hu
        and pooled >= 0.5
        and c.volume_ml >= s.contrast_min_lumen_ml
    ):
        core = f.get("core_hu")
        flat_top = core is not None and core - pool >= 0.85 * (c.hu_p95 - pool)  # not a blurred thin cast
        if flat_top and core >= s.cement_min_hu and vessel in UNDILUTED_POOLS:  # e.g. the SVC jet into the atrium
            return (
                "contrast",
                f"a {c.volume_ml:.1f} mL dense mass in the enhanced {vessel}: undiluted contrast",
                0.6,
            )
    if pool is not None:
        needed = scale.pv * s.cement_min_pool_excess_hu
        if c.hu_p95 - pool < needed:
            reason = f"HU p95 {c.hu_p95:.0f} within {needed:.0f} HU of the enhanced blood ({pool:.0f} HU) around it"
            return "contrast", reason, 0.8
        return None  # it holds something denser than the enhanced blood around it
    if fraction_in(f, SPINE_COMPARTMENTS) >= 0.3 or f.get("vertebral_body_fraction", 0.0) >= 0.3:
        return None
    if pooled >= 0.5 and is_thick(f, s) and c.volume_ml >= s.contrast_min_lumen_ml and not _cast_in_plain_blood(f, s):
        return (
            "contrast",
            f"fills the {vessel} lumen ({c.volume_ml:.1f} mL, {f['diameter_mm']:.0f} mm wide)",
            0.7,
        )
    core = f.get("core_hu")
    if has_anatomy and core is not None and core < s.cement_bulk_min_hu and _in_enhanced_blood(f, scale, s):
        return "contrast", f"core HU {core:.0f} below PMMA, in enhanced blood: a contrast-filled lumen", 0.7
    lumen = (
        f["diameter_mm"] >= s.contrast_min_diameter_mm
        and c.length_mm >= 2 * f["diameter_mm"]
        and c.tubularity >= 0.5
        and c.volume_ml >= s.contrast_min_lumen_ml
    )
    if lumen and fraction_in(f, BONE) < 0.3:
        return (
            "contrast",
            f"a lumen-like tube {f['diameter_mm']:.0f} mm wide and {c.length_mm:.0f} mm long",
            0.6,
        )
    return None


def enhanced_pool_hu(f: dict, scale: ScanScale, s: Settings) -> float | None:
    """HU of the enhanced blood around the candidate, None when that blood is not enhanced.

    When the pool next to it is enhanced, the scan-wide contrast level (90th percentile) of
    the vessel holding it counts if higher: small vessels lose HU to partial volume. Blood
    that has passed a ventricle (`MIXED_POOLS`) carries one contrast level through its whole
    tree, so that level holds in a small pulmonary artery too, whose voxels the lung around it
    darkens below the enhanced level (refluxed contrast in a vein, by contrast, does not mix).
    """
    pool = f.get("blood_pool_hu")
    if pool is None or pool < s.enhanced_blood_min_hu:
        mixed = [scale.blood_peak_hu.get(name) for name in MIXED_POOLS if _in_tree(f, name)]
        mixed = [hu for hu in mixed if hu is not None and hu >= s.enhanced_blood_min_hu]
        return max(mixed) if mixed else None
    levels = [scale.blood_peak_hu.get(name) for name in BLOOD_POOLS if fraction_in(f, [name]) >= 0.3]
    return max([pool] + [hu for hu in levels if hu is not None])


#: a shell around a candidate with its median HU below fat holds lung
_AERATED_SURROUNDINGS_HU = -150.0


def _in_tree(f: dict, name: str) -> bool:
    """In that arterial tree: mostly in the map's vessel or, for the pulmonary arteries, beside
    the map's lung vessels with lung around it (an enhanced artery at the lung's edge reads as
    bone or soft tissue in the map, and the lung outline stops short of it)."""
    if fraction_in(f, [name]) >= 0.3:
        return True
    return (
        name == "pulmonary_artery"
        and name in f.get("structures_nearby", ())  # none without an anatomy map
        and f["local_background_hu"] < _AERATED_SURROUNDINGS_HU
    )


def _cast_in_plain_blood(f: dict, s: Settings) -> bool:
    """Thinner than a contrast-filled lumen, with unenhanced blood of its own vessel around it.

    Contrast mixes with the blood it flows in and fills the lumen; a thin dense core inside
    plain blood does not fill its vessel, it is a cast in it.
    """
    pool = f.get("blood_pool_hu")
    return pool is not None and pool < s.enhanced_blood_min_hu and f["diameter_mm"] < s.contrast_min_diameter_mm


def _in_enhanced_blood(f: dict, scale: ScanScale, s: Settings) -> bool:
    """Its surroundings, or the blood of the vessel holding it (near it, else scan-wide), are enhanced."""
    if f["local_background_hu"] >= s.enhanced_blood_min_hu:
        return True
    pool = f.get("blood_pool_hu")
    if pool is not None:
        return pool >= s.enhanced_blood_min_hu
    return any(
        (scale.blood_hu.get(name) or 0.0) >= s.enhanced_blood_min_hu
        for name in BLOOD_POOLS
        if fraction_in(f, [name]) >= 0.3
    )


def bone(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> Verdict:
    in_bone = fraction_in(f, BONE)
    if in_bone >= 0.5 and not cement_dense(c, f, scale, s):
        return (
            "bone",
            f"{in_bone:.0%} in bone with bone-like HU (p50 {c.hu_p50:.0f}, p95 {c.hu_p95:.0f})",
            0.7,
        )
    return None


def cement(c: Candidate, f: dict, scale: ScanScale, s: Settings, cement_ids: set[int]) -> Verdict:
    """Denser than its surroundings and in a vertebral body, on a venous route, or continuous with cement."""
    if not cement_dense(c, f, scale, s):
        return None
    in_enhanced_pool = enhanced_pool_hu(f, scale, s) is not None
    needed = scale.pv * (s.cement_min_pool_excess_hu if in_enhanced_pool else s.cement_min_local_contrast_hu)
    if f["local_contrast_hu"] < needed:
        return None
    denser = f"{f['local_contrast_hu']:.0f} HU denser than its surroundings"
    if f["vertebral_body_fraction"] >= 0.5:
        return "cement", f"{denser}, in a vertebral body", 0.9
    touching = cement_ids.intersection(c.evidence.get("touches", []))
    if touching:
        return "cement", f"{denser}, continuous with cement (candidate {min(touching)})", 0.85
    fractions = f["structure_fractions"]
    route = [n for n in VENOUS_ROUTE if fractions.get(n, 0.0) > 0.0 or n in f["structures_nearby"]]
    if f["vertebral_body_fraction"] > 0.0 or "vertebral_body" in f["structures_nearby"]:
        route.insert(0, "next to a vertebral body")
    f["cement_route"] = route
    if route:
        return "cement", f"{denser}, on a venous route ({route[0]})", 0.75
    return None


def cement_without_anatomy(c: Candidate, f: dict, scale: ScanScale, s: Settings) -> Verdict:
    """Without anatomy only candidates holding PMMA-dense voxels: faint ones may be cortex."""
    if c.evidence.get("core") != "cement_dense":
        return None
    needed = scale.pv * s.cement_min_local_contrast_hu
    if cement_dense(c, f, scale, s) and f["local_contrast_hu"] >= needed:
        return "cement", f"{f['local_contrast_hu']:.0f} HU denser than its surroundings, PMMA-dense", 0.5
    return None
