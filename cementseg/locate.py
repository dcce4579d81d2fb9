"""Stage 4: split cement at the vertebral cortex and say where every part lies.

Touching cement candidates form one mass. The mass is cut where it leaves a vertebral body:
the part inside a body is the intended fill (`vertebral_body`, not a leak; one fill per body),
and every connected part outside is a finding of its own.

1. Inside or outside: a signed distance to the vertebral body surface, computed on the
   anatomy's working grid and interpolated at CT voxels. The body mask is first opened slice
   by slice (`body_opening_mm`): an HU-based map takes dense cement on the body wall for bone.
2. Each outside voxel gets the location of the structure it lies in (disc, canal, foramen,
   IVC, azygos, heart, lung, posterior elements -> needle tract, paravertebral), but cement
   within `plexus_max_mm` of the body is never in the IVC (the prevertebral veins, crus and
   psoas lie there; an HU-based IVC lumen bleeds into that muscle); where the map
   says nothing specific, the canal and the disc are also taken from their place relative to
   the body (cement hides them from an HU-based map).
3. Connected runs of one location are parts. Parts holding less cement than `min_leak_mm3`
   join their largest neighbour, parts within the fill margin join the fill, a short generic
   stretch between the cortex and a named compartment joins the compartment (not a venous
   trunk: the plexus or segmental vein leading to the IVC or azygos is a finding of its own).
   An IVC or azygos part is carried up through the generic cement on its line (blood, and the
   cement in it, flows cranially; an HU-based map takes the cast's dense voxels for bone and
   may name only a stretch of the trunk), then followed down from its cranial end as a cast;
   what lies at its foot beyond the cast's cross-section, on the body's side, is the tributary
   that brought the cement (an HU-based map cannot place an unenhanced trunk's wall) and goes
   back to step 4.
4. Generic parts are refined by what surrounds them (lung -> pulmonary embolus, heart ->
   right heart), by shape and place (a thin cranio-caudal cast in front of the body is in the
   IVC, or at thoracic levels right next to it in the azygos vein; thin paravertebral cement
   is venous, a thick blob is in the soft tissue; thickness is the larger of the inscribed ball
   and the mean cross-section from cement volume over length, which coarse voxels keep).

Volumes are cement volumes: the sum of stage 2's per-voxel cement fractions.
Positions relative to the spine use patient axes from the direction cosines (LPS), never the
array orientation: right = -L, anterior = -P, cranial = +S.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .anatomy.anatomy_map import STRUCTURE_NAMES, AnatomyMap
from .candidates import Candidate
from .findings import Component
from .segment import principal_axis
from .settings import Settings
from .spine_context import GENERIC_LOCATIONS, SpineContext
from .vocabulary import LOCATION_CODES, LOCATIONS, VENOUS_TRUNKS
from .volume import CTVolume

log = logging.getLogger(__name__)

#: piece code of the intended fill of vertebral body k is FILL_CODE + k (leak codes are 2-12)
FILL_CODE = 100

#: the size, density and position fields a Component takes from its statistics (or candidate)
SIZE_FIELDS = ("volume_ml", "voxel_count", "centroid_lps_mm", "bbox_lps_mm", "hu_max", "hu_mean", "length_mm")
#: venous trunks the paravertebral veins drain into
_VENOUS_TRUNKS = {LOCATION_CODES[name] for name in VENOUS_TRUNKS}
#: reached through the heart: no nearest-body tracing
_EMBOLIC = {"right_heart", "pulmonary_artery"}
_EMBOLIC_CODES = {LOCATION_CODES[name] for name in _EMBOLIC}
_OTHER = LOCATION_CODES["other"]


def locate_findings(
    candidates: list[Candidate],
    volume: CTVolume,
    anatomy: AnatomyMap,
    settings: Settings,
    spine: SpineContext | None = None,
) -> list[Component]:
    """Components of every candidate: cement split into fills and located leaks, others as they are.

    Args:
        candidates: stage-1 candidates with `material` set (stage 2).
        volume: the CT they were found in.
        anatomy: anatomy map of the same CT (any grid; positions go through LPS mm).
        settings: `fill_margin_mm`, `fill_margin_voxels`, `min_leak_mm3`, `min_fill_ml`,
            `source_trace_max_mm`, `paravertebral_max_mm`, `venous_max_thickness_mm`, `severity`.
        spine: ``SpineContext(anatomy, volume, settings)`` when built beforehand; None builds it here.

    Returns:
        Components numbered 1..n: fills, then leaks, then non-cement candidates.
    """
    if spine is None:
        spine = SpineContext(anatomy, volume, settings)
    cement = []
    for mass in _cement_masses([c for c in candidates if c.material == "cement"]):
        cement.extend(_split_cement(mass, volume, spine, settings))
    others = [_non_cement_component(c, volume, spine) for c in candidates if c.material != "cement"]
    fills = [c for c in cement if not c.is_leak]
    leaks = [c for c in cement if c.is_leak]
    _trace_unconnected_sources(leaks, fills, spine, settings)
    ordered = fills + sorted(leaks, key=lambda c: -c.volume_ml) + others
    for number, component in enumerate(ordered, start=1):
        component.id = number
    return ordered


@dataclass
class _CementMass:
    """Touching cement candidates taken together (stage 1 cuts a faint thin leak off its fill)."""

    id: int  # the largest candidate's id
    flat_index: np.ndarray
    reason: str
    candidate_ids: list[int]
    cement_fraction: np.ndarray  # cement volume per voxel (voxel units), flat_index order

    def zyx(self, shape) -> np.ndarray:
        return np.column_stack(np.unravel_index(self.flat_index, shape))


def _cement_masses(cement: list[Candidate]) -> list[_CementMass]:
    """Group cement candidates that touch (``evidence["touches"]``) into masses."""
    group = {c.id: c.id for c in cement}

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for c in cement:
        for other in c.evidence.get("touches", []):
            if other in group:
                group[root(other)] = root(c.id)
    members: dict[int, list[Candidate]] = {}
    for c in cement:
        members.setdefault(root(c.id), []).append(c)
    masses = []
    for parts in members.values():
        largest = max(parts, key=lambda c: c.voxel_count)
        masses.append(
            _CementMass(
                id=largest.id,
                flat_index=np.concatenate([c.flat_index for c in parts]),
                reason=largest.reason,
                candidate_ids=sorted(c.id for c in parts),
                cement_fraction=np.concatenate([_cement_fraction(c) for c in parts]),
            )
        )
    return masses


def _cement_fraction(candidate: Candidate) -> np.ndarray:
    """Cement volume per voxel from stage 2 (partial volume counted); whole voxels when absent."""
    if candidate.cement_fraction is None:
        return np.ones(candidate.voxel_count, np.float32)
    return np.asarray(candidate.cement_fraction, np.float32)


@dataclass
class _Part:
    code: int  # FILL_CODE + body id, or a location code
    flat_index: np.ndarray
    max_outside_mm: float
    min_outside_mm: float
    votes: dict[int, int]
    neighbours: set[int]
    rule: str | None = None  # why a shape/position rule chose the location, when one did


def component_stats(volume: CTVolume, flat_index: np.ndarray) -> dict:
    """Size, HU, centroid, bbox (LPS mm), principal-axis length (mm) and tubularity of some voxels."""
    zyx = np.column_stack(np.unravel_index(flat_index, volume.shape))
    hu = volume.hu.reshape(-1)[flat_index].astype(float)
    lps = volume.index_to_lps(zyx)
    centroid = lps.mean(axis=0)
    axis, length, tubularity = principal_axis(lps - centroid, volume)
    return {
        "voxel_count": int(len(flat_index)),
        "volume_ml": float(len(flat_index) * volume.voxel_volume_mm3 / 1000.0),
        "hu_max": float(hu.max()),
        "hu_mean": float(hu.mean()),
        "centroid_lps_mm": tuple(float(v) for v in centroid),
        "bbox_lps_mm": (tuple(float(v) for v in lps.min(0)), tuple(float(v) for v in lps.max(0))),
        "length_mm": length,
        "tubularity": tubularity,
        "principal_axis_lps": axis,
        "lps": lps,
    }


def thickness_mm(volume: CTVolume, flat_index: np.ndarray) -> float:
    """Diameter (mm) of the largest ball inside some voxels: about 2 mm for a vein cast, 10 for a blob."""
    zyx = np.column_stack(np.unravel_index(flat_index, volume.shape))
    lo = zyx.min(0) - 1
    mask = np.zeros(tuple(zyx.max(0) - lo + 2), bool)
    mask[tuple((zyx - lo).T)] = True
    inside = ndimage.distance_transform_edt(mask, sampling=volume.spacing_mm)
    return float(max(2.0 * inside.max() - min(volume.spacing_mm), min(volume.spacing_mm)))


def _split_cement(
    candidate: _CementMass, volume: CTVolume, spine: SpineContext, settings: Settings
) -> list[Component]:
    """Fill and leak components of one cement mass."""
    zyx = candidate.zyx(volume.shape)
    outside = spine.outside_mm(zyx)
    leak_codes = spine.location_codes(zyx)
    body_ids = spine.nearest_body(spine.ct_lps(zyx))[1] if spine.has_bodies else np.zeros(len(zyx), int)
    codes = np.where(outside <= 0, FILL_CODE + body_ids, leak_codes).astype(np.uint16)
    lo = zyx.min(0)
    local = zyx - lo
    crop = np.zeros(tuple(zyx.max(0) - lo + 1), dtype=np.uint16)
    cement_fraction = candidate.cement_fraction
    merge = (zyx, leak_codes, outside, cement_fraction, volume, spine, settings)
    parts = _merged_parts(crop, local, codes, *merge)
    if spine.has_bodies:
        carried = _trunk_casts_carried_up(parts, zyx, volume, spine, settings)
        if carried is not None:
            parts = _merged_parts(crop, local, carried, *merge)
        recoded = _tributaries_off_trunk_casts(parts, zyx, outside, volume, spine, settings)
        if recoded is not None:
            parts = _merged_parts(crop, local, recoded, *merge)
        _split_off_ivc_casts(parts, zyx, outside, leak_codes, volume, spine, settings)
    fill_of_part = {label: part.code - FILL_CODE for label, part in parts.items() if part.code >= FILL_CODE}
    source_of_part = _sources_by_connectivity(parts, fill_of_part)
    components = []
    for label, part in parts.items():
        flat = np.ravel_multi_index(tuple(zyx[part.flat_index].T), volume.shape)
        # cement volume, not voxel count: a partial-volumed thin leak fills its voxels only in part
        cement_ml = float(cement_fraction[part.flat_index].sum() * volume.voxel_volume_mm3 / 1000.0)
        if part.code >= FILL_CODE:
            component = _fill_component(candidate, volume, spine, flat, part.code - FILL_CODE)
        else:
            component = _leak_component(
                candidate, volume, spine, settings, flat, part, source_of_part.get(label), fill_of_part, cement_ml
            )
        component.evidence["voxel_count_volume_ml"] = round(component.volume_ml, 5)
        component.volume_ml = cement_ml
        components.append(component)
    return components


def _merged_parts(
    crop, local, codes, zyx, leak_codes, outside, cement_fraction, volume, spine, settings
) -> dict[int, _Part]:
    """Connected runs of one code, after merging small parts and shallow bulges into neighbours.

    ``crop`` is a zeroed uint16 array covering the candidate; ``local`` are the voxels' indices in it;
    ``codes`` the starting code per voxel; ``cement_fraction`` how much of each voxel is cement, so
    that a faint partial-volume rim counts for what it holds. Returns parts keyed by label;
    ``_Part.flat_index`` holds indices into the candidate's voxel list.
    """
    voxel_mm3 = volume.voxel_volume_mm3
    min_fill_voxels = settings.min_fill_ml * 1000.0 / voxel_mm3
    min_leak_cement_voxels = settings.min_leak_mm3 / voxel_mm3
    codes = codes.copy()
    seen: set[bytes] = set()
    for _ in range(50):
        state = codes.tobytes()
        if state in seen:  # merges going round in a circle: any of these partitions will do
            break
        seen.add(state)
        crop[tuple(local.T)] = codes
        labels = cc3d.connected_components(crop, connectivity=26, out_dtype=np.uint32)
        voxel_label = labels[tuple(local.T)]
        parts = _describe_parts(labels, voxel_label, codes, leak_codes, outside)
        touched: set[int] = set()
        fill_codes = {p.code for p in parts.values() if p.code >= FILL_CODE}
        for label, part in sorted(parts.items(), key=lambda item: len(item[1].flat_index)):
            size = len(part.flat_index)
            if label in touched:
                continue
            if part.code >= FILL_CODE:
                if size < min_fill_voxels:  # too little to be an intended fill: the cement is passing by
                    codes[part.flat_index] = leak_codes[part.flat_index]
                    touched.add(label)
                continue
            fill_neighbours = [
                n for n in part.neighbours if parts[n].code >= FILL_CODE and _in_fill_margin(part, parts[n], zyx, spine)
            ]
            embolic_neighbours = [n for n in part.neighbours if parts[n].code in _EMBOLIC_CODES]
            # cement reaches a venous trunk through a vein of its own (plexus, segmental vein): the
            # stretch from the cortex to the IVC or azygos is a finding of its own, not the trunk
            named_neighbours = [
                n for n in part.neighbours if parts[n].code not in GENERIC_LOCATIONS | fill_codes | _VENOUS_TRUNKS
            ]
            if fill_neighbours:
                target = max(fill_neighbours, key=lambda n: len(parts[n].flat_index))
            elif part.code in GENERIC_LOCATIONS and named_neighbours and part.max_outside_mm <= spine.bridge_mm:
                # the short stretch between the cortex and a named compartment belongs to the compartment
                target = max(named_neighbours, key=lambda n: len(parts[n].flat_index))
            elif part.code == _OTHER and embolic_neighbours:
                # one embolus: where the map has no artery (on CTPA an enhanced artery beside the
                # lung reads as bone) it is still the artery its other part lies in
                target = max(embolic_neighbours, key=lambda n: len(parts[n].flat_index))
            elif cement_fraction[part.flat_index].sum() < min_leak_cement_voxels and part.neighbours:
                target = max(part.neighbours, key=lambda n: len(parts[n].flat_index))
            else:
                continue
            if target in touched:
                continue
            codes[part.flat_index] = parts[target].code
            touched.update((label, target))
        crop[tuple(local.T)] = 0
        if not touched:
            return parts
    log.info("part merging did not settle; reporting the last partition")
    return parts


def _in_fill_margin(part: _Part, fill: _Part, zyx: np.ndarray, spine: SpineContext) -> bool:
    """Within the fill margin of the body ``fill`` lies in, not merely of the nearest body: a disc
    leak's far side lies near the next body."""
    if part.max_outside_mm > spine.fill_margin_mm:  # farther from the nearest body, farther from any
        return False
    return bool(spine.in_fill_margin(zyx[part.flat_index], fill.code - FILL_CODE).all())


def _tributaries_off_trunk_casts(
    parts: dict[int, _Part], zyx, outside, volume, spine, settings
) -> np.ndarray | None:
    """Per-voxel codes with the tributary at the foot of an IVC or azygos cast taken off it, or None.

    Cement in a venous trunk is a cast running along it, cranio-caudally; the plexus or
    segmental vein that brought it in runs across, in the axial plane, from the vertebral body.
    An HU-based map cannot place the trunk's wall (unenhanced blood has the density of the crus
    and psoas), so its lumen may take in that tributary's last centimetres. Followed slice by
    slice from its cranial end, a cast (at least twice as long as a vein cast is thick) keeps
    its own cross-section: its points within its own radius (measured in its cranial half,
    where no tributary joins; at most half the thickest vein cast) plus half a voxel's in-plane
    diagonal of the centre. Voxels at its foot beyond that cross-section, lying (by their
    median) nearer the body than the cast, are the tributary: their location goes back to
    shape and position (generic), which call a thin run next to the body paravertebral venous.
    None when no part changes.
    """
    voxel_lps, reach_mm = _cast_reach_mm(volume, settings)
    codes = _part_codes(parts, len(zyx))
    changed = False
    for part in parts.values():
        if part.code not in _VENOUS_TRUNKS:
            continue
        lps = spine.ct_lps(zyx[part.flat_index])
        own_mm = _upper_cast_radius_mm(lps, voxel_lps[2]) + float(np.hypot(*voxel_lps[:2])) / 2.0
        on_cast = _cast_cross_sections(lps, voxel_lps[2], min(reach_mm, own_mm))
        cast_length_mm = np.ptp(lps[on_cast, 2]) + voxel_lps[2] if on_cast.any() else 0.0
        off = part.flat_index[~on_cast]
        elongated = cast_length_mm >= 2.0 * settings.venous_max_thickness_mm
        if not elongated or off.size == 0:
            continue
        if np.median(outside[off]) >= np.median(outside[part.flat_index[on_cast]]):
            continue  # not on the body's side of the cast: something else in the trunk
        codes[off] = LOCATION_CODES["other"]
        changed = True
    return codes if changed else None


def _trunk_casts_carried_up(parts: dict[int, _Part], zyx, volume, spine, settings) -> np.ndarray | None:
    """Per-voxel codes with each IVC or azygos cast carried up the generic cement on its line, or None.

    Blood in both trunks flows cranially, and cement entering one is carried up it as a cast. An
    HU-based map takes the cast's dense voxels for bone and may label only a stretch of the trunk
    around it; generic cement above that stretch, slice by slice within the cast's cross-section
    (as `_cast_cross_sections` follows it), is the same cast. Below it the tributary that brought
    the cement comes in: `_tributaries_off_trunk_casts` decides there.
    """
    voxel_lps, reach_mm = _cast_reach_mm(volume, settings)
    codes = _part_codes(parts, len(zyx))
    lps = spine.ct_lps(zyx)
    level = np.rint(lps[:, 2] / voxel_lps[2]).astype(int)
    generic = np.isin(codes, list(GENERIC_LOCATIONS))
    changed = False
    for part in parts.values():
        if part.code not in _VENOUS_TRUNKS:
            continue
        top = int(level[part.flat_index].max())
        centre = lps[part.flat_index[level[part.flat_index] == top], :2].mean(axis=0)
        for value in range(top + 1, int(level.max()) + 1):
            rows = np.flatnonzero(generic & (level == value))
            rows = rows[np.linalg.norm(lps[rows, :2] - centre, axis=1) <= reach_mm]
            if rows.size == 0:
                break
            codes[rows], generic[rows], changed = part.code, False, True
            centre = lps[rows, :2].mean(axis=0)
    return codes if changed else None


def _cast_reach_mm(volume: CTVolume, settings: Settings) -> tuple[np.ndarray, float]:
    """One voxel's extent along L, P, S (mm), and how far (mm, in plane) a vein cast reaches from
    its centre in a slice: half the thickest vein cast plus half a voxel's in-plane diagonal."""
    voxel_lps = volume.voxel_extent_lps_mm
    in_plane_mm = float(np.hypot(voxel_lps[0], voxel_lps[1]))
    return voxel_lps, settings.venous_max_thickness_mm / 2.0 + in_plane_mm / 2.0


def _part_codes(parts: dict[int, _Part], count: int) -> np.ndarray:
    """The code of each of the mass's ``count`` voxels, from its parts."""
    codes = np.zeros(count, np.uint16)
    for part in parts.values():
        codes[part.flat_index] = part.code
    return codes


def _upper_cast_radius_mm(lps: np.ndarray, slice_mm: float) -> float:
    """The farthest (mm, in plane) a cast's points lie from their slice's centre, over the slices
    of its cranial half."""
    level = np.rint(lps[:, 2] / slice_mm).astype(int)
    upper = level >= (level.min() + level.max()) / 2.0
    radius = 0.0
    for value in np.unique(level[upper]):
        plane = lps[level == value, :2]
        radius = max(radius, float(np.linalg.norm(plane - plane.mean(axis=0), axis=1).max()))
    return radius


def _cast_cross_sections(lps: np.ndarray, slice_mm: float, reach_mm: float) -> np.ndarray:
    """Which points (LPS mm) a cast followed down from its cranial end holds, slice by slice.

    In each axial slice the cast keeps the points within ``reach_mm`` (in plane) of its
    centre in the slice above; it ends at the first slice where none is left.
    """
    level = np.rint(lps[:, 2] / slice_mm).astype(int)
    on_cast = np.zeros(len(lps), bool)
    centre = None
    for value in sorted(np.unique(level), reverse=True):
        rows = np.flatnonzero(level == value)
        plane = lps[rows, :2]
        if centre is None:
            centre = plane.mean(axis=0)
        near = np.linalg.norm(plane - centre, axis=1) <= reach_mm
        if not near.any():
            break
        on_cast[rows[near]] = True
        centre = plane[near].mean(axis=0)
    return on_cast


def _split_off_ivc_casts(parts: dict[int, _Part], zyx, outside, leak_codes, volume, spine, settings) -> None:
    """Cut a thin cranio-caudal cast in the IVC region off a generic part that leads to it.

    Cement that leaves the body through the paravertebral plexus and runs up the IVC is one
    connected mass; when the map has no IVC there, its plexus and IVC stretches share one
    generic part. The voxels far enough in front of the body and to its right are tested as a
    cast on their own; if they are one, they become an IVC part.
    """
    for label, part in list(parts.items()):
        if part.code not in GENERIC_LOCATIONS:
            continue
        lps = spine.ct_lps(zyx[part.flat_index])
        body = int(spine.nearest_body(lps.mean(axis=0, keepdims=True))[1][0])
        offset = spine.spine_offset_mm(lps, body)
        if offset is None:
            continue
        in_front = offset[:, 1] - spine.body_half_depth_mm[body]
        region = (
            (offset[:, 0] >= 10.0)
            & (in_front >= settings.ivc_min_front_mm)
            & (outside[part.flat_index] >= settings.plexus_max_mm)
        )
        if region.all() or region.sum() < 2:
            continue  # all of it or none of it: the part's own shape decides
        flat = np.ravel_multi_index(tuple(zyx[part.flat_index[region]].T), volume.shape)
        stats = component_stats(volume, flat)
        cast = (
            abs(stats["principal_axis_lps"][2]) >= 0.7
            and stats["length_mm"] >= settings.ivc_min_length_mm
            and thickness_mm(volume, flat) <= settings.venous_max_thickness_mm
        )
        if not cast:
            continue
        members = part.flat_index[region]
        new_label = max(parts) + 1
        codes, counts = np.unique(leak_codes[members], return_counts=True)
        parts[new_label] = _Part(
            code=LOCATION_CODES["inferior_vena_cava"],
            flat_index=members,
            max_outside_mm=float(outside[members].max()),
            min_outside_mm=float(outside[members].min()),
            votes={int(c): int(n) for c, n in zip(codes, counts, strict=True)},
            neighbours={label},
            rule=(
                f"thin cranio-caudal cast {stats['length_mm']:.0f} mm long in front of and right of the "
                "vertebral body (IVC region), continuous with paravertebral cement"
            ),
        )
        part.flat_index = part.flat_index[~region]
        part.neighbours = part.neighbours | {new_label}


def _describe_parts(labels, voxel_label, codes, leak_codes, outside) -> dict[int, _Part]:
    order = np.argsort(voxel_label, kind="stable")
    bounds = np.searchsorted(voxel_label[order], np.unique(voxel_label), side="left")
    groups = np.split(order, bounds[1:])
    contacts = cc3d.contacts(labels, connectivity=26, surface_area=False)
    neighbours: dict[int, set[int]] = {}
    for a, b in contacts:
        neighbours.setdefault(int(a), set()).add(int(b))
        neighbours.setdefault(int(b), set()).add(int(a))
    parts = {}
    for members in groups:
        label = int(voxel_label[members[0]])
        vote_codes, vote_counts = np.unique(leak_codes[members], return_counts=True)
        parts[label] = _Part(
            code=int(codes[members[0]]),
            flat_index=members,
            max_outside_mm=float(outside[members].max()),
            min_outside_mm=float(outside[members].min()),
            votes={int(c): int(n) for c, n in zip(vote_codes, vote_counts, strict=True)},
            neighbours=neighbours.get(label, set()),
        )
    return parts


def _sources_by_connectivity(parts: dict[int, _Part], fill_of_part: dict[int, int]) -> dict[int, int]:
    """Body id each leak part is connected to through other parts (breadth first from the fills)."""
    source = dict(fill_of_part)
    frontier = list(fill_of_part)
    while frontier:
        nxt = []
        for label in frontier:
            for neighbour in parts[label].neighbours:
                if neighbour not in source:
                    source[neighbour] = source[label]
                    nxt.append(neighbour)
        frontier = nxt
    return {label: body for label, body in source.items() if label not in fill_of_part}


def _fill_component(candidate, volume, spine, flat, body_id) -> Component:
    stats = component_stats(volume, flat)
    level = spine.level(body_id)
    name = level or f"vertebral body #{body_id} (level unknown)"
    return Component(
        id=0,
        material="cement",
        location="vertebral_body",
        is_leak=False,
        severity="none",
        **{name: stats[name] for name in SIZE_FIELDS},
        vertebral_level=level,
        source_vertebra=level,
        distance_to_vertebral_body_mm=0.0,
        confidence=1.0,
        reason=f"cement inside {name}: intended fill",
        candidate_id=candidate.id,
        flat_index=flat,
        evidence={
            "source_vertebra_id": int(body_id),
            "material_reason": candidate.reason,
            "candidate_ids": candidate.candidate_ids,
        },
    )


def _leak_component(
    candidate, volume, spine, settings, flat, part: _Part, source_id, fill_labels, cement_ml: float
) -> Component:
    stats = component_stats(volume, flat)
    stats["thickness_mm"] = thickness_mm(volume, flat)
    # mean cross-section (cement volume over length): a vein cast keeps a vein's 2-4 mm whatever
    # the voxel size, where the inscribed ball of coarse voxels cannot tell 4 mm from 8 mm
    stats["mean_diameter_mm"] = 2.0 * float(np.sqrt(cement_ml * 1000.0 / (np.pi * stats["length_mm"])))
    lps = stats["lps"]
    touches_fill = any(n in fill_labels for n in part.neighbours)
    distance = 0.0 if touches_fill else max(part.min_outside_mm, 0.0)
    nearest_distance, nearest_ids = spine.nearest_body(lps)
    nearest_id = int(nearest_ids[np.argmin(nearest_distance)]) if spine.has_bodies else 0
    # its level: the body nearest its centre (a canal leak behind one body may touch the next one's
    # endplate corner with a few voxels)
    level_id = int(spine.nearest_body(np.array([stats["centroid_lps_mm"]]))[1][0])
    location, rule = _refine_location(part, stats, spine, nearest_id, source_id is not None, settings)
    total_votes = sum(part.votes.values())
    agreement = part.votes.get(LOCATION_CODES[location], 0) / total_votes
    confidence = 0.5 + 0.5 * agreement if rule is None else 0.6
    if not spine.has_bodies:
        confidence *= 0.5
    connected = source_id is not None
    source_level = spine.level(source_id) if connected else None
    where = ", ".join(f"{LOCATIONS[c]} {n}" for c, n in sorted(part.votes.items(), key=lambda x: -x[1]))
    reason = rule or f"cement outside the vertebral body, in the {_structure_word(location)}"
    if connected:
        reason += f", continuous with the fill of {source_level or f'body #{source_id}'}"
    return Component(
        id=0,
        material="cement",
        location=location,
        is_leak=True,
        severity=settings.severity[location],
        **{name: stats[name] for name in SIZE_FIELDS},
        vertebral_level=spine.level(level_id),
        source_vertebra=source_level,
        distance_to_vertebral_body_mm=distance if spine.has_bodies else float("nan"),
        confidence=round(confidence, 3),
        reason=reason,
        candidate_id=candidate.id,
        flat_index=flat,
        evidence={
            "voxel_locations": where,
            "location_agreement": round(agreement, 3),
            "connected_to_fill": connected,
            "source_vertebra_id": int(source_id) if connected else None,
            "max_distance_outside_body_mm": round(part.max_outside_mm, 2),
            "tubularity": round(stats["tubularity"], 3),
            "thickness_mm": round(stats["thickness_mm"], 1),
            "mean_diameter_mm": round(stats["mean_diameter_mm"], 1),
            "material_reason": candidate.reason,
            "candidate_ids": candidate.candidate_ids,
        },
    )


def _refine_location(
    part: _Part, stats: dict, spine: SpineContext, body_id: int, connected: bool, settings: Settings
):
    """(location name, rule reason or None) from the voxels' votes, then shape and position."""
    code = part.code
    if part.rule:
        return LOCATIONS[code], part.rule
    if not connected and code in GENERIC_LOCATIONS | {LOCATION_CODES["needle_tract"], LOCATION_CODES["right_heart"]}:
        around = spine.shares_around(stats["lps"])
        lung = around.get("lung", 0.0) + around.get("pulmonary_artery", 0.0)
        heart = around.get("heart", 0.0) + around.get("right_heart", 0.0)
        # the map's heart may take in a diaphragm dome at the lung base; the heart itself is not
        # surrounded by lung
        if lung >= settings.lung_min_share and (code != LOCATION_CODES["right_heart"] or lung > heart):
            return (
                "pulmonary_artery",
                "cement surrounded by lung, not connected to the spine (pulmonary embolus)",
            )
        if heart >= settings.lung_min_share and code != LOCATION_CODES["right_heart"]:
            return "right_heart", "cement surrounded by the heart, not connected to the spine (embolus)"
    if code == LOCATION_CODES["needle_tract"] and not connected:
        # A needle tract starts in the fill, or at least runs thin from front to back along the
        # pedicle, at pedicle height; cement lateral to the canal behind the body at disc level,
        # or a lump there, is in a neural foramen.
        centroid = np.array([stats["centroid_lps_mm"]])
        _, foramen = spine.behind_body(centroid)
        at_pedicle = spine.at_pedicle_height(centroid)[0]
        if foramen[0] and not at_pedicle:
            return "neural_foramen", "cement lateral to the canal behind the body at disc level (neural foramen)"
        along_pedicle = (
            abs(stats["principal_axis_lps"][1]) >= 0.6
            and stats["length_mm"] >= 10.0
            and stats["thickness_mm"] <= settings.venous_max_thickness_mm
        )
        if along_pedicle:
            return "needle_tract", "cement along the pedicle axis in the posterior elements (needle tract)"
        if foramen[0]:
            return (
                "neural_foramen",
                "cement lump lateral to the canal behind the vertebral body (neural foramen)",
            )
        code = LOCATION_CODES["other"]
    if code not in GENERIC_LOCATIONS:
        return LOCATIONS[code], None
    axis = stats["principal_axis_lps"]
    width_mm = max(stats["thickness_mm"], stats["mean_diameter_mm"])
    tubular = width_mm <= settings.venous_max_thickness_mm
    offset = spine.spine_offset_mm(np.array(stats["centroid_lps_mm"]), body_id)
    near_body = part.min_outside_mm <= settings.paravertebral_max_mm
    cranio_caudal = abs(axis[2]) >= 0.7 and stats["length_mm"] >= settings.ivc_min_length_mm
    if offset is not None and cranio_caudal and tubular:
        right, anterior, _ = offset
        in_front = anterior - spine.body_half_depth_mm[int(body_id)]  # mm in front of the body
        where = f"{right:.0f} mm right of the body centre and {in_front:.0f} mm in front of the body"
        apart = part.min_outside_mm >= settings.plexus_max_mm
        if right >= 10.0 and in_front >= settings.ivc_min_front_mm and apart:
            return "inferior_vena_cava", (
                f"thin cranio-caudal cast {stats['length_mm']:.0f} mm long, {where} (IVC region)"
            )
        level = spine.level(body_id) or ""
        if 0.0 <= right <= 25.0 and in_front < settings.ivc_min_front_mm and level.startswith("T"):
            return "azygos_system", (
                f"thin cranio-caudal cast {stats['length_mm']:.0f} mm long at {level}, {where} (azygos vein)"
            )
    if code == LOCATION_CODES["paravertebral_venous"] or near_body:
        if tubular:
            return "paravertebral_venous", (
                f"thin ({width_mm:.0f} mm) cement next to the vertebral body "
                "(paravertebral venous plexus)"
            )
        return (
            "paravertebral_soft_tissue",
            f"cement blob {width_mm:.0f} mm thick next to the vertebral body "
            "(paravertebral soft tissue)",
        )
    return "other", None


def _structure_word(location: str) -> str:
    return {
        "pulmonary_artery": "lung (pulmonary arteries)",
        "intradiscal": "intervertebral disc",
        "needle_tract": "posterior elements (transpedicular needle tract)",
        "other": "no specific compartment",
    }.get(location, location.replace("_", " "))


def _trace_unconnected_sources(leaks, fills, spine: SpineContext, settings: Settings) -> None:
    """A leak not touching a fill comes from the nearest cemented body within `source_trace_max_mm`."""
    cemented = {c.evidence["source_vertebra_id"] for c in fills}
    if not cemented or not spine.has_bodies:
        return
    keep = np.isin(spine.surface_ids, list(cemented))
    tree = cKDTree(spine.surface_lps[keep])
    ids = spine.surface_ids[keep]
    for leak in leaks:
        if leak.evidence.get("connected_to_fill"):
            continue
        if leak.location in _EMBOLIC:
            if len(cemented) == 1:  # emboli can come from any cemented level; with one, it is that one
                body = next(iter(cemented))
                leak.evidence["source_vertebra_id"] = body
                leak.source_vertebra = spine.level(body)
                leak.reason += f"; embolus from the only cemented body, {spine.level(body) or f'#{body}'}"
            continue
        sample = leak.flat_index[:: max(1, len(leak.flat_index) // 500)]
        zyx = np.column_stack(np.unravel_index(sample, spine.ct_shape))
        distance, index = tree.query(spine.ct_lps(zyx))
        best = int(np.argmin(distance))
        if distance[best] <= settings.source_trace_max_mm:
            body = int(ids[index[best]])
            leak.evidence["source_vertebra_id"] = body
            leak.source_vertebra = spine.level(body)
            leak.reason += (
                f"; nearest cemented body {spine.level(body) or f'#{body}'} ({distance[best]:.0f} mm)"
            )


def _non_cement_component(candidate: Candidate, volume: CTVolume, spine: SpineContext) -> Component:
    lps = np.array([candidate.centroid_lps_mm])
    distance, ids = spine.nearest_body(lps)
    body = int(ids[0])
    structure = STRUCTURE_NAMES.get(int(spine.anatomy.structure_at(lps)[0]), "outside the body")
    return Component(
        id=0,
        material=candidate.material,
        location=None,
        is_leak=False,
        severity="none",
        **{name: getattr(candidate, name) for name in SIZE_FIELDS},
        vertebral_level=spine.level(body),
        source_vertebra=None,
        distance_to_vertebral_body_mm=float(distance[0]) if spine.has_bodies else float("nan"),
        confidence=float(candidate.evidence.get("confidence", 0.5)),
        reason=candidate.reason or f"{candidate.material}, not cement",
        candidate_id=candidate.id,
        flat_index=candidate.flat_index,
        evidence={"structure_at_centroid": structure, **_plain_evidence(candidate.evidence)},
    )


def _plain_evidence(evidence: dict) -> dict:
    return {k: v for k, v in evidence.items() if isinstance(v, (int, float, str, bool)) or v is None}
