"""All tunables in one frozen `Settings` object, with units in every name.

The findings JSON records the settings used (`Settings.to_dict`), and the batch resume key
hashes them (`Settings.digest`). Change a value with ``Settings().replace(name=value)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from .errors import SettingsError
from .vocabulary import DEFAULT_SEVERITY, LOCATIONS, SEVERITIES

#: settings that share the work among processes and threads and never change a result
SPEED_ONLY = ("header_processes", "scan_threads")


@dataclass(frozen=True)
class Settings:
    # --- loader -------------------------------------------------------------------------
    #: a step between slices larger than this times the median step means missing slices
    slice_gap_factor: float = 1.5
    #: slice steps differing from the median by more than this (mm) count as variable spacing
    slice_spacing_tolerance_mm: float = 0.05
    #: resample irregular stacks (tilt, variable spacing) onto a regular grid instead of refusing
    resample_irregular: bool = True
    #: threads used to decode compressed slices
    decode_threads: int = 4
    #: at most this many processes are forked to read the headers of a large folder: one per 100
    #: files and per CPU, less one while `scan` imports the detector meanwhile; 0 reads them here,
    #: as does a process where forking is unsafe (io/forked.py)
    header_processes: int = 4
    #: threads sharing a scan's array work that NumPy and SciPy do without the GIL (resampling the
    #: CT onto the anatomy's working grid; the locate stage's spine context, built while the
    #: materials are classified), with the same results; 1 does all of it in the calling thread
    scan_threads: int = 2

    # --- candidates (stage 1) -----------------------------------------------------------
    #: seed threshold (HU): a candidate must reach this somewhere
    seed_hu: float = 1200.0
    #: grow threshold (HU): a candidate extends down to this, to keep partial-volumed edges
    grow_hu: float = 450.0
    #: candidates smaller than this (mm3) are dropped
    min_candidate_mm3: float = 4.0
    # (stage 1, owner: segment.py -- see its docstring for the physics)
    #: thinnest leak (mm) that must still seed on coarse voxels; scales the faint-pass levels
    thin_leak_diameter_mm: float = 2.0
    #: HU the partial-volume scaling mixes towards (unenhanced soft tissue / blood)
    soft_tissue_hu: float = 40.0
    #: scanner point spread (Gaussian sigma, mm) in the partial-volume model
    scanner_blur_sigma_mm: float = 0.5
    #: the faint pass runs when a thin leak keeps less than this share of its fine-voxel peak
    faint_pass_max_pv: float = 0.9
    #: growth stops this far (mm, at least 1.5 voxels) from a seed voxel: no flooding into bone
    grow_reach_mm: float = 3.0
    #: a component is split at its metal / cement-dense cores only into pieces of at least
    #: this size (mm3); smaller remainders stay with their core
    split_min_mm3: float = 50.0

    # --- materials (stage 2, owner: material.py -- see its docstring) -------------------
    #: the HU ceiling of 12-bit scanners; a scan whose maximum exceeds it uses an extended scale
    hu_ceiling_12bit: float = 3071.0
    #: local background = median HU of a shell this far (mm) around a candidate
    background_inner_mm: float = 1.5
    background_outer_mm: float = 6.0
    #: shell voxels below this (HU) in non-air surroundings count as dark metal streaks
    streak_dark_hu: float = -300.0
    #: anatomy structures within this distance (mm) of a candidate count as touched
    anatomy_touch_mm: float = 3.0
    #: radiopaque PMMA: lowest intrinsic HU, and the least HU above its local background
    cement_min_hu: float = 1500.0
    cement_min_local_contrast_hu: float = 800.0
    #: cement HU assumed for the partial-volume share of a thin leak with no plateau of its own
    cement_reference_hu: float = 2000.0
    #: a cement candidate this many (largest) voxels across shows its cement's own HU
    cement_plateau_min_voxels: float = 5.0
    #: a candidate this many voxels across has a bulk HU of its own (below: partial volume)
    cement_bulk_min_voxels: float = 3.0
    #: a candidate whose core (one voxel deep) has this median HU is PMMA-dense: above the
    #: bulk of cortical bone, below PMMA's lowest 1500 HU
    cement_bulk_min_hu: float = 1300.0
    #: a candidate mostly in bone is PMMA-dense when this share of its voxels reach cement_min_hu
    cement_in_bone_min_fraction: float = 0.1
    #: the densest an osteoporotic cortex, pedicle or rib reads (HU; the vertebrae of a real 3 mm CT
    #: top out near 1200 HU): inside a candidate called bone, voxels this dense are a core of
    #: cement (thin, partial-volumed on coarse voxels) or metal hugging the bone, split off it
    #: when it holds at least min_leak_mm3 of cement
    cortex_max_hu: float = 1300.0
    #: a thin candidate never reaching cement_min_hu is no leak beyond this voxel volume (mL):
    #: a 100 mm cast on 3 mm voxels fills about 2 mL of voxels
    faint_cement_max_ml: float = 3.0
    #: ... and spans at least this (HU, p95 - p50) from its partial-volumed rim to its peak
    thin_cement_min_spread_hu: float = 150.0
    #: metal: HU p95 on an extended scale that no PMMA reaches
    metal_min_hu_extended: float = 4000.0
    #: metal shape rules apply to candidates with at least this fraction of saturated voxels
    metal_min_saturated_fraction: float = 0.3
    #: a saturated candidate thinner than this (mm, scaled up on coarse voxels) is a wire
    metal_wire_max_diameter_mm: float = 2.5
    #: a saturated straight cylinder this tubular and long (mm) is a screw or rod
    metal_min_tubularity: float = 0.75
    metal_min_rod_length_mm: float = 20.0
    #: ... or at least this many times as long as it is wide
    metal_min_elongation: float = 3.0
    #: fraction of dark streak voxels around a saturated candidate that means metal
    metal_min_streak_fraction: float = 0.08
    #: inside a vertebral body, a compact mass at the HU ceiling or a dense piece touching
    #: metal is a cement fill (not metal) from this volume (mL) up: screw tips are smaller
    fill_near_metal_min_ml: float = 1.0
    #: thin pieces below PMMA bulk density this close (mm) to metal are streaks or cortex
    metal_streak_zone_mm: float = 10.0
    #: a ceiling-HU candidate filling at most this fraction of its convex hull is a branched
    #: construct (screws joined by a rod: 0.2-0.45), not a cement fill (0.7-1); the built-in
    #: anatomy then leaves the slices where it enters a vertebral body out of the disc search
    hardware_max_solidity: float = 0.5
    #: a dense mass (p95 >= cement_min_hu) this large (mL) outside the vertebral bodies is a prosthesis
    metal_min_prosthesis_ml: float = 15.0
    #: aortic wall calcifications are smaller than this (mL)
    calcification_max_ml: float = 2.0
    #: contrast: a lumen filling at least this much (mL), this wide (mm)
    contrast_min_lumen_ml: float = 1.0
    contrast_min_diameter_mm: float = 8.0
    #: a blood pool at least this dense (HU) is enhanced; a candidate in it whose HU p95 is
    #: less than pv * cement_min_pool_excess_hu above it is contrast, not cement (PMMA from
    #: 1500 HU still stands 200 HU and more above refluxed contrast of about 1300 HU)
    enhanced_blood_min_hu: float = 150.0
    cement_min_pool_excess_hu: float = 300.0
    #: a blood pool's scan-wide HU level needs at least this much of it in the anatomy map (mL)
    blood_pool_min_ml: float = 2.0

    # --- anatomy (built-in engine, owner: cementseg/anatomy -- see docs/anatomy.md) ----------
    #: voxel size (mm) of the anatomy working grid (coarser native voxels are kept as they are)
    anatomy_working_spacing_mm: float = 2.0
    #: the body is HU above this; plates thinner than anatomy_table_max_mm (the table) are opened away
    anatomy_body_hu: float = -500.0
    anatomy_table_max_mm: float = 12.0
    #: lungs: aerated tissue below this HU, components of at least anatomy_min_lung_ml, or of
    #: anatomy_min_cut_lung_ml when the first or last slice cuts them (lung bases atop an abdomen)
    anatomy_lung_hu: float = -400.0
    anatomy_min_lung_ml: float = 50.0
    anatomy_min_cut_lung_ml: float = 10.0
    #: bone walls of the spinal canal (HU on the working grid), bridged along the spine over this length
    #: (mm) to close the ring at discs and foramina; the track may miss the ring over anatomy_canal_max_gap_mm
    anatomy_canal_wall_hu: float = 150.0
    anatomy_canal_bridge_mm: float = 21.0
    anatomy_canal_max_gap_mm: float = 25.0
    #: vertebral cortex / bone (HU on the working grid) and smoothed cancellous bone of a body
    anatomy_bone_hu: float = 200.0
    anatomy_cancellous_hu: float = 90.0
    #: a vertebral body piece smaller than this (mL) at the edge of the field of view is dropped
    anatomy_min_body_ml: float = 3.0
    #: the paravertebral space reaches this far (mm) from the vertebral body surface
    anatomy_paravertebral_mm: float = 20.0

    # --- classification -----------------------------------------------------------------
    #: severity of a leak per location (see vocabulary.DEFAULT_SEVERITY)
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    # --- locate (stage 4: split at the cortex, location, source) -------------------------
    #: cement outside the vertebral body mask by less than this (mm) is still the intended fill
    #: (the anatomy's working grid is coarser than the CT); the margin used along each axis is
    #: the larger of this and `fill_margin_voxels` CT voxels along it (on thick slices partial
    #: volume reaches farther across the slices than within them)
    fill_margin_mm: float = 2.5
    fill_margin_voxels: float = 1.5
    #: radius (mm) of the disk that opens the vertebral body mask slice by slice: cement bulging
    #: out of a body, which an HU-based map takes for bone, falls off; the round body stays
    body_opening_mm: float = 9.0
    #: a part of a leak holding less cement than this (mm3, partial volume counted) joins its
    #: largest neighbouring part
    min_leak_mm3: float = 10.0
    #: cement inside a vertebral body smaller than this (mL) is not an intended fill
    min_fill_ml: float = 0.1
    #: a leak not touching a fill is traced to the nearest cemented body up to this far (mm)
    source_trace_max_mm: float = 60.0
    #: cement up to this far (mm) from a vertebral body, in no named compartment, is paravertebral
    paravertebral_max_mm: float = 15.0
    #: paravertebral cement at most this thick (mm, largest inscribed ball) is a vein cast, thicker
    #: is a blob in the soft tissue
    venous_max_thickness_mm: float = 6.0
    #: shortest cranio-caudal cast (mm) called an IVC or azygos leak by its shape and position alone
    ivc_min_length_mm: float = 15.0
    #: a cast at least this far (mm) in front of the vertebral body is in the IVC, closer (thoracic
    #: levels) in the azygos vein
    ivc_min_front_mm: float = 8.0
    #: the prevertebral veins (anterior external plexus, lumbar veins), crus and psoas lie within
    #: this band (mm) of the vertebral body surface: cement there is not in the IVC, even where an
    #: HU-based map (IVC blood = muscle without contrast) draws the IVC lumen over it
    plexus_max_mm: float = 10.0
    #: the spinal canal by position, where cement hides it: half-width (mm) about the midline and
    #: depth (mm) behind the vertebral body's posterior surface
    canal_half_width_mm: float = 7.0
    canal_depth_mm: float = 18.0
    #: a neural foramen by position: lateral to the canal up to this far from the midline (mm) and
    #: up to this deep behind the body (mm)
    foramen_lateral_mm: float = 25.0
    foramen_depth_mm: float = 15.0
    #: the pedicles (and a transpedicular needle) sit within this fraction of a body's half-height
    #: of its mid-height; a foramen opens beyond it, at the level of the disc and endplates
    pedicle_height_fraction: float = 0.6
    #: cement straight above or below a body, within its outline and this close (mm), is in the disc
    disc_max_mm: float = 12.0
    #: cement not connected to the spine with at least this share of lung (heart) `lung_probe_mm`
    #: around it is a pulmonary (right heart) embolus; the lung mask leaves arteries out
    lung_probe_mm: float = 5.0
    lung_min_share: float = 0.4

    # --- report images (owner: cementseg/report -- see docs/report.md) -------------------
    #: (centre, width) HU of the bone window and of the window that shows detail inside cement
    report_bone_window_hu: tuple[float, float] = (500.0, 2000.0)
    report_cement_window_hu: tuple[float, float] = (1800.0, 3000.0)
    #: key images show at least this much (mm) around a finding on every side
    report_view_margin_mm: float = 35.0
    #: the 3D view: voxel size (mm) it is drawn at, and the HU above which the spine is drawn
    report_3d_voxel_mm: float = 4.0
    report_3d_bone_hu: float = 250.0
    #: at most this many key images (leaks first, most severe first); the table lists all findings
    report_max_key_images: int = 24

    # --- TotalSegmentator anatomy (owner: cementseg/anatomy/totalsegmentator.py, docs/totalsegmentator.md)
    #: --anatomy-engine totalsegmentator: the 3 mm `--fast` model instead of the 1.5 mm one
    totalseg_fast: bool = False
    #: device for TotalSegmentator: auto (GPU if present), gpu, cpu or mps
    totalseg_device: str = "auto"
    #: cross-check TotalSegmentator's level names with the built-in count (runs the built-in spine too)
    totalseg_level_crosscheck: bool = True
    #: a vertebra label piece apart from its largest is a split when at least this big (mL) and this
    #: share of the largest piece
    totalseg_split_min_ml: float = 1.0
    totalseg_split_min_share: float = 0.15
    #: consecutive vertebra labels further apart than this times the median step leave a vertebra out
    totalseg_gap_factor: float = 1.6
    #: confidence of a finding whose level (or source vertebra) is in doubt is multiplied by this
    totalseg_doubt_confidence_factor: float = 0.5

    def __post_init__(self) -> None:
        if self.grow_hu > self.seed_hu:
            raise SettingsError(f"grow_hu ({self.grow_hu} HU) must not exceed seed_hu ({self.seed_hu} HU)")
        if self.min_candidate_mm3 < 0:
            raise SettingsError("min_candidate_mm3 must be >= 0 mm3")
        for location, severity in self.severity.items():
            if location not in LOCATIONS.values() or severity not in SEVERITIES:
                raise SettingsError(f"bad severity setting {location}={severity}")

    def replace(self, **changes) -> Settings:
        """A copy with some values changed (validated)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        """Short stable hash of every value that can change a result (for caches and batch
        resume): how the work is shared among processes and threads (`SPEED_ONLY`) is left out,
        so a batch resumes on another machine or with other such values."""
        values = {k: v for k, v in self.to_dict().items() if k not in SPEED_ONLY}
        text = json.dumps(values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
