"""Vertebral bodies of an anatomy map, ready for per-voxel questions at CT resolution.

`SpineContext` answers, for CT voxels: how far outside (or inside) the nearest vertebral body
surface they lie (mm, from a signed distance on the anatomy's working grid, interpolated),
which body and level they belong to, which anatomic structure holds them (mapped to a
location of the vocabulary by `STRUCTURE_LOCATION`), and where they sit relative to a body
centre in (right, anterior, cranial) mm. Used by stage 4 (`locate`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .anatomy.anatomy_map import STRUCTURE_NAMES, STRUCTURES, AnatomyMap
from .anatomy.morphology import bounding_box
from .settings import Settings
from .vocabulary import LOCATION_CODES
from .volume import CTVolume, lps_to_index

#: where cement outside a vertebral body is, by the anatomy structure it lies in
STRUCTURE_LOCATION: dict[str, str] = {
    "soft_tissue": "other",
    "lung": "pulmonary_artery",
    "intervertebral_disc": "intradiscal",
    "spinal_canal": "spinal_canal",
    "neural_foramen": "neural_foramen",
    "posterior_elements": "needle_tract",
    "aorta": "other",  # cement cannot reach the arterial side; say "other" and let the reason tell
    "inferior_vena_cava": "inferior_vena_cava",
    "azygos_system": "azygos_system",
    "heart": "right_heart",  # venous cement can only reach the right heart
    "right_heart": "right_heart",
    "pulmonary_artery": "pulmonary_artery",
    "paravertebral": "paravertebral_venous",
    "other_bone": "other",
    "liver": "other",
    "kidney": "other",
    "hip_prosthesis": "other",
}
_LOCATION_OF_STRUCTURE = np.full(256, LOCATION_CODES["other"], dtype=np.uint16)
for _name, _location in STRUCTURE_LOCATION.items():
    _LOCATION_OF_STRUCTURE[STRUCTURES[_name]] = LOCATION_CODES[_location]

#: locations a shape/position rule may refine (the anatomy only says "somewhere here")
GENERIC_LOCATIONS = {LOCATION_CODES["other"], LOCATION_CODES["paravertebral_venous"]}
#: nearest-surface queries of at least this many points run in threads (fewer: not worth starting them)
THREADED_QUERY_POINTS = 5000


def _fill_margins_mm(ct_to_work: np.ndarray, ct_spacing_zyx, settings: Settings) -> np.ndarray:
    """The fill margin (mm) along each working-grid axis (z, y, x): `fill_margin_voxels` CT voxels
    along the CT axis nearest to it, at least `fill_margin_mm`."""
    nearest_ct_axis = np.argmax(np.abs(ct_to_work[:3, :3]), axis=1)  # per working axis (x, y, z)
    spacing_xyz = np.asarray(ct_spacing_zyx, dtype=float)[::-1][nearest_ct_axis]
    return np.maximum(settings.fill_margin_mm, settings.fill_margin_voxels * spacing_xyz[::-1])


def _query(tree: cKDTree, points: np.ndarray):
    """``tree.query(points)``, in all cores' threads for many points (the same answer either way)."""
    return tree.query(points, workers=-1 if len(points) >= THREADED_QUERY_POINTS else 1)


class SpineContext:
    """The vertebral bodies of an anatomy map, ready for per-voxel questions at CT resolution.

    A signed distance to the vertebral body surface (mm, negative inside) is computed once on the
    working grid around the bodies and interpolated at CT voxels; this refines the coarse mask.
    """

    def __init__(self, anatomy: AnatomyMap, volume: CTVolume, settings: Settings):
        self.anatomy = anatomy
        self.levels = dict(anatomy.vertebra_levels)
        self.work_spacing = np.array(anatomy.spacing_mm)
        # CT index (x, y, z, 1) -> working-grid index (x, y, z)
        self.ct_to_work = np.linalg.inv(anatomy.affine) @ volume.affine
        self.ct_affine = volume.affine
        self.ct_shape = volume.shape
        bodies = anatomy.vertebrae > 0
        self.has_bodies = bool(bodies.any())
        self.margin_zyx_mm = _fill_margins_mm(self.ct_to_work, volume.spacing_mm, settings)
        self.fill_margin_mm = float(self.margin_zyx_mm.max())
        # cement this far outside a body in no named compartment is the way into a neighbouring one
        self.bridge_mm = self.fill_margin_mm + float(self.work_spacing.max())
        self.structures = anatomy.structures
        self._last_nearest: tuple[tuple, tuple[np.ndarray, np.ndarray]] | None = None
        self.body_centres: dict[int, np.ndarray] = {}
        self.canal_half_width_mm = settings.canal_half_width_mm
        self.canal_depth_mm = settings.canal_depth_mm
        self.lung_probe_mm = settings.lung_probe_mm
        self.disc_max_mm = settings.disc_max_mm
        self.foramen_lateral_mm = settings.foramen_lateral_mm
        self.foramen_depth_mm = settings.foramen_depth_mm
        self.plexus_max_mm = settings.plexus_max_mm
        if not self.has_bodies:
            self.box_lo = np.zeros(3, int)
            self.signed_mm = None
            self.tree = None
            return
        pad = np.ceil(settings.paravertebral_max_mm / self.work_spacing).astype(int) + 2
        box = bounding_box(bodies, pad)
        lo = np.array([b.start for b in box])
        self.box_lo = lo
        mapped_body_box = bodies[box]
        body_box = self._axial_opening(mapped_body_box, settings.body_opening_mm)
        outside_mm = ndimage.distance_transform_edt(~body_box, sampling=self.work_spacing)
        inside_mm = ndimage.distance_transform_edt(body_box, sampling=self.work_spacing)
        self.signed_mm = np.where(body_box, -inside_mm, outside_mm).astype(np.float32)
        # Outside a body, what lies there: body voxels take the structure of the nearest voxel
        # outside every body of the map (also outside what the opening removed).
        nearest = ndimage.distance_transform_edt(
            mapped_body_box, sampling=self.work_spacing, return_distances=False, return_indices=True
        )
        self.structures = anatomy.structures.copy()
        self.structures[box] = anatomy.structures[box][tuple(nearest)]
        surface = body_box & ~ndimage.binary_erosion(body_box)
        surface_zyx = np.argwhere(surface) + lo
        self.surface_lps = anatomy.voxel_centres_lps(surface_zyx)
        self.surface_ids = anatomy.vertebrae[tuple(surface_zyx.T)].astype(int)
        self.tree = cKDTree(self.surface_lps)
        vertebrae = np.where(body_box, anatomy.vertebrae[box], 0)
        self._body_labels = vertebrae
        self._margins_outside: dict[int, np.ndarray] = {}
        ids, centres = _label_centres(vertebrae, lo)
        self.body_centres = {int(i): anatomy.voxel_centres_lps(c) for i, c in zip(ids, centres, strict=True)}
        self.body_half_width_mm = {
            int(i): float(np.ptp(self.surface_lps[self.surface_ids == i, 0])) / 2.0 for i in ids
        }
        self.body_half_depth_mm = {
            int(i): float(np.ptp(self.surface_lps[self.surface_ids == i, 1])) / 2.0 for i in ids
        }
        self.body_z_range_mm = {
            int(i): (float(self.surface_lps[self.surface_ids == i, 2].min()),
                     float(self.surface_lps[self.surface_ids == i, 2].max()))
            for i in ids
        }
        self.pedicle_height_fraction = settings.pedicle_height_fraction

    def _axial_opening(self, bodies: np.ndarray, radius_mm: float) -> np.ndarray:
        """Per axial slice, remove what a disk of ``radius_mm`` cannot reach inside the bodies.

        A vertebral body is round in cross-section; cement or bone bulging out of it (a leak the
        map took for bone) is narrower than the disk and falls off, the round body stays.
        """
        if radius_mm <= 0:
            return bodies
        cranial_axis = 2 - int(np.argmax(np.abs(self.anatomy.affine[2, :3])))  # array axis nearest to S
        radius = radius_mm / self.work_spacing
        half = np.floor(radius).astype(int)
        half[cranial_axis] = 0
        grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
        footprint = (
            sum(
                (g / r) ** 2
                for axis, (g, r) in enumerate(zip(grids, radius, strict=True))
                if axis != cranial_axis
            )
            <= 1.0
        )
        opened = ndimage.binary_opening(bodies, structure=footprint)
        return opened if opened.any() else bodies

    def work_index(self, ct_zyx: np.ndarray) -> np.ndarray:
        """Fractional working-grid (z, y, x) of CT (z, y, x) indices."""
        xyz1 = np.column_stack([ct_zyx[:, ::-1], np.ones(len(ct_zyx))])
        return (xyz1 @ self.ct_to_work.T)[:, 2::-1]

    def ct_lps(self, ct_zyx: np.ndarray) -> np.ndarray:
        xyz1 = np.column_stack([ct_zyx[:, ::-1], np.ones(len(ct_zyx))])
        return (xyz1 @ self.ct_affine.T)[:, :3]

    def outside_mm(self, ct_zyx: np.ndarray) -> np.ndarray:
        """Signed distance (mm) from the vertebral body surface: > 0 outside, <= 0 inside."""
        if not self.has_bodies:
            return np.full(len(ct_zyx), np.inf)
        distance, in_box = self._in_box(self.signed_mm, ct_zyx)
        if (~in_box).any():
            distance[~in_box] = _query(self.tree, self.ct_lps(ct_zyx[~in_box]))[0]
        return distance

    def in_fill_margin(self, ct_zyx: np.ndarray, body_id: int) -> np.ndarray:
        """Whether CT voxels lie within the fill margin of one vertebral body, whatever body lies
        nearer: cement in a disc lies near the next body whatever its distance from the one it left.

        The margin holds per axis (`margin_zyx_mm`): on thick slices the partial volume of the
        fill's edge reaches farther across the slices than within them.
        """
        if body_id not in self._margins_outside:
            self._margins_outside[body_id] = ndimage.distance_transform_edt(  # in margins, not mm
                self._body_labels != body_id, sampling=self.work_spacing / self.margin_zyx_mm
            ).astype(np.float32)
        margins, in_box = self._in_box(self._margins_outside[body_id], ct_zyx)
        return in_box & (margins <= 1.0)

    def _in_box(self, field: np.ndarray, ct_zyx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``field`` (on the working-grid box around the bodies) interpolated at CT voxels, and
        which voxels the box holds (the others' values are undefined)."""
        box_index = self.work_index(ct_zyx) - self.box_lo
        in_box = np.all((box_index >= 0) & (box_index <= np.array(field.shape) - 1), axis=1)
        values = np.empty(len(ct_zyx))
        values[in_box] = ndimage.map_coordinates(field, box_index[in_box].T, order=1)
        return values, in_box

    def nearest_body(self, lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance mm to the nearest body surface voxel centre, that body's id) per LPS point."""
        if not self.has_bodies:
            return np.full(len(lps), np.inf), np.zeros(len(lps), int)
        distance, index = self._nearest_surface(lps)
        return distance, self.surface_ids[index]

    def _nearest_surface(self, lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance mm, index) of the nearest body surface voxel per LPS point. The last answer is
        kept: a cement mass asks it for the same points up to three times (its bodies, the canal
        and foramina behind them, the endplates), and a fill's points are many."""
        key = (lps.shape, lps.dtype.str, lps.tobytes())
        if self._last_nearest is None or self._last_nearest[0] != key:
            answer = _query(self.tree, lps)
            for values in answer:
                values.flags.writeable = False  # shared by the askers
            self._last_nearest = (key, answer)
        return self._last_nearest[1]

    def location_codes(self, ct_zyx: np.ndarray) -> np.ndarray:
        """Location code each CT voxel would have if it were cement outside a vertebral body."""
        work = np.rint(self.work_index(ct_zyx)).astype(int)
        inside = np.all((work >= 0) & (work < np.array(self.structures.shape)), axis=1)
        structure = np.zeros(len(work), dtype=np.uint8)
        structure[inside] = self.structures[tuple(work[inside].T)]
        codes = _LOCATION_OF_STRUCTURE[structure]
        in_ivc = np.flatnonzero(codes == LOCATION_CODES["inferior_vena_cava"])
        if self.has_bodies and in_ivc.size:
            # the IVC lies beyond the band of prevertebral veins, crus and psoas around the body
            hugging = self.outside_mm(ct_zyx[in_ivc]) < self.plexus_max_mm
            codes[in_ivc[hugging]] = LOCATION_CODES["paravertebral_venous"]
        unsure = np.flatnonzero(np.isin(codes, list(GENERIC_LOCATIONS | {LOCATION_CODES["needle_tract"]})))
        if self.has_bodies and unsure.size:
            lps = self.ct_lps(ct_zyx[unsure])
            generic = np.isin(codes[unsure], list(GENERIC_LOCATIONS))
            canal, foramen = self.behind_body(lps)
            codes[unsure[canal]] = LOCATION_CODES["spinal_canal"]
            codes[unsure[foramen & generic]] = LOCATION_CODES["neural_foramen"]
            codes[unsure[self.beyond_endplate(lps)]] = LOCATION_CODES["intradiscal"]
        return codes

    def beyond_endplate(self, lps: np.ndarray) -> np.ndarray:
        """True where an LPS point lies above or below a vertebral body, within its outline.

        Cement in a disc raises its HU, so an HU-based map may miss that disc; the disc is also
        where the nearest body surface is an endplate (straight above or below) inside the body's
        axial outline.
        """
        distance, index = self._nearest_surface(lps)
        ids = self.surface_ids[index]
        delta = lps - self.surface_lps[index]
        vertical = np.abs(delta[:, 2]) >= 0.7 * np.maximum(distance, 1e-6)
        inside_outline = np.zeros(len(lps), bool)
        for body in np.unique(ids):
            rows = ids == body
            centre = self.body_centres[int(body)]
            half_lr, half_ap = self.body_half_width_mm[int(body)], self.body_half_depth_mm[int(body)]
            radial = ((lps[rows, 0] - centre[0]) / half_lr) ** 2 + ((lps[rows, 1] - centre[1]) / half_ap) ** 2
            inside_outline[rows] = radial <= 0.8**2
        return vertical & inside_outline & (distance <= self.disc_max_mm)

    def behind_body(self, lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(in the spinal canal, in a neural foramen) by place, for LPS points.

        Cement filling the canal or a foramen hides it from an HU-based map (no CSF- or fat-dense
        space left to find), so both are also taken from their place behind the nearest body:
        the canal within `canal_half_width_mm` of the midline and up to `canal_depth_mm` behind
        the posterior surface; a foramen lateral to that, up to `foramen_lateral_mm` from the
        midline and `foramen_depth_mm` behind the surface.
        """
        _, ids = self.nearest_body(lps)
        canal = np.zeros(len(lps), bool)
        foramen = np.zeros(len(lps), bool)
        for body in np.unique(ids):
            rows = ids == body
            centre, half_depth = self.body_centres[int(body)], self.body_half_depth_mm[int(body)]
            side = np.abs(lps[rows, 0] - centre[0])
            behind = lps[rows, 1] - centre[1] - half_depth
            canal[rows] = (
                (side <= self.canal_half_width_mm) & (behind >= 0.0) & (behind <= self.canal_depth_mm)
            )
            foramen[rows] = (
                (side > self.canal_half_width_mm)
                & (side <= self.foramen_lateral_mm)
                & (behind >= 0.0)
                & (behind <= self.foramen_depth_mm)
            )
        return canal, foramen

    def at_pedicle_height(self, lps: np.ndarray) -> np.ndarray:
        """True where an LPS point lies at the height of its nearest body's pedicles.

        The pedicles leave the body around its mid-height (within `pedicle_height_fraction` of
        its half-height); the neural foramen lies between two pedicles, at the disc level.
        """
        _, ids = self.nearest_body(lps)
        out = np.zeros(len(lps), bool)
        for body in np.unique(ids):
            rows = ids == body
            low, high = self.body_z_range_mm[int(body)]
            half = max((high - low) / 2.0, 1e-6)
            out[rows] = np.abs(lps[rows, 2] - (low + high) / 2.0) <= self.pedicle_height_fraction * half
        return out

    def shares_around(self, lps: np.ndarray) -> dict[str, float]:
        """Share of each structure at points `lung_probe_mm` around some LPS points.

        The map often calls dense cement itself bone; what surrounds it tells where it lies.
        """
        steps = np.array(
            [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) != (0, 0, 0)]
        )
        steps = self.lung_probe_mm * steps / np.linalg.norm(steps, axis=1)[:, None]
        sample = lps[:: max(1, len(lps) // 200)]
        probes = (sample[:, None, :] + steps[None, :, :]).reshape(-1, 3)
        work = np.rint(lps_to_index(self.anatomy.affine, probes)).astype(int)
        inside = np.all((work >= 0) & (work < np.array(self.structures.shape)), axis=1)
        structure = np.zeros(len(work), dtype=np.uint8)
        structure[inside] = self.anatomy.structures[tuple(work[inside].T)]
        codes, counts = np.unique(structure, return_counts=True)
        return {
            STRUCTURE_NAMES.get(int(c), "outside"): n / len(structure)
            for c, n in zip(codes, counts, strict=True)
        }

    def level(self, body_id: int) -> str | None:
        return self.levels.get(int(body_id)) if body_id else None

    def spine_offset_mm(self, lps: np.ndarray, body_id: int) -> np.ndarray | None:
        """(right, anterior, cranial) mm of LPS points (3,) or (n, 3) from the centre of body ``body_id``."""
        centre = self.body_centres.get(int(body_id)) if self.has_bodies else None
        if centre is None:
            return None
        delta = np.asarray(lps) - centre
        return np.stack([-delta[..., 0], -delta[..., 1], delta[..., 2]], axis=-1)


def _label_centres(labels: np.ndarray, offset) -> tuple[np.ndarray, np.ndarray]:
    """(ids of the labels > 0 of a crop at ``offset``, (n, 3) centre of each as a full-grid index).

    The sums `ndimage.center_of_mass` takes over the full grid, in the same order (the same
    floats), without its full-size float temporaries (about 120 MB on a 0.7 mm scan).
    """
    zyx = np.nonzero(labels)
    values = labels[zyx].astype(np.intp)
    ids = np.unique(values)
    counts = np.bincount(values)[ids].astype(float)
    centres = [
        np.bincount(values, weights=(axis + start).astype(float))[ids]
        for axis, start in zip(zyx, offset, strict=True)
    ]
    return ids, np.column_stack(centres) / counts[:, np.newaxis]
