"""Slice order and stack geometry from headers; regular-grid resampling when needed.

Rules (docs/loader.md):

* Slices are ordered by their position projected on the slice normal (row x column
  cosines); never by file name or InstanceNumber. The z spacing comes from positions.
* Mixed orientations, matrix sizes or pixel spacings in one series -> MixedGeometryError.
* Two images at the same position: identical pixels -> one kept, with a warning;
  different pixels -> DuplicateSliceError (the loader compares them).
* A step larger than ``slice_gap_factor`` x the median step -> MissingSlicesError; a step
  under half the median (overlapping stacks) -> GeometryError.
* Variable spacing or a sheared stack (gantry tilt) -> resampled onto a regular orthogonal
  grid with linear interpolation and a warning (as dcm2niix does), or a GeometryError when
  ``resample_irregular`` is off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import GeometryError, MissingSlicesError, MixedGeometryError
from ..settings import Settings
from .pixels import AIR_HU
from .records import SeriesRecord, SliceHeader

#: two slices closer than this along the normal share one position (mm)
SAME_POSITION_MM = 0.01
ORIENTATION_TOLERANCE = 1e-3


@dataclass
class StackPlan:
    """How the 2D images of a series become a regular 3D grid.

    ``order`` indexes ``slices`` (the series' images less any localizer), sorted along the
    normal, duplicates removed; ``duplicate_groups`` lists indices sharing a position (first kept).
    """

    slices: list[SliceHeader]
    order: list[int]
    along_normal_mm: np.ndarray
    in_plane_offset_px: np.ndarray  # (n, 2): (rows, columns) each kept slice is shifted by
    spacing_mm: tuple[float, float, float]
    origin_lps_mm: np.ndarray
    direction: np.ndarray
    target_along_normal_mm: np.ndarray | None = None  # set when z must be resampled
    duplicate_groups: list[list[int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def needs_resampling(self) -> bool:
        return self.target_along_normal_mm is not None or bool(np.any(self.in_plane_offset_px))


def _names(slices: list[SliceHeader], limit: int = 4) -> str:
    labels = [s.label for s in slices[:limit]]
    more = f" and {len(slices) - limit} more" if len(slices) > limit else ""
    return ", ".join(labels) + more


def _check_uniform(series: SeriesRecord) -> None:
    slices = series.slices
    first = slices[0]
    same = {  # per slice, as np.allclose would say for each
        "orientations": np.isclose(
            np.array([s.orientation for s in slices]), first.orientation, atol=ORIENTATION_TOLERANCE
        ).all(axis=1),
        "matrix sizes": [(s.rows, s.columns) == (first.rows, first.columns) for s in slices],
        "pixel spacings": np.isclose(
            np.array([s.pixel_spacing_mm for s in slices]), first.pixel_spacing_mm, atol=1e-4
        ).all(axis=1),
    }
    for what, agree in same.items():
        odd = [s for s, ok in zip(slices, agree, strict=True) if not ok]
        if odd:
            raise MixedGeometryError(
                f"series {series.series_uid}: mixed {what} ({first.label} differs from {_names(odd)})"
            )


def plan_stack(series: SeriesRecord, settings: Settings) -> StackPlan:
    """Order the slices of ``series`` and decide the output grid; raise on unusable stacks."""
    if not series.slices:
        raise GeometryError(f"series {series.series_uid}: no image slices")
    localizers = [s for s in series.slices if s.is_localizer]
    if localizers and len(localizers) < len(series.slices):
        series = replace(series, slices=[s for s in series.slices if not s.is_localizer])
        warnings = [
            f"series {series.series_uid}: localizer image(s) {_names(localizers)} left out of the volume"
        ]
    else:
        warnings = []
    _check_uniform(series)
    first = series.slices[0]
    row_cos, col_cos = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row_cos, col_cos)
    normal /= np.linalg.norm(normal)
    positions = np.array([s.position_lps_mm for s in series.slices])
    along = positions @ normal
    sorted_indices = list(np.argsort(along, kind="stable"))
    order, groups = _drop_repeats(sorted_indices, along)
    along_kept = along[order]
    offsets_mm = positions[order] - positions[order[0]] - np.outer(along_kept - along_kept[0], normal)
    row_mm, column_mm = first.pixel_spacing_mm
    # rounded to 1e-4 pixel so that whole-pixel shifts stay exact (no edge lost to float noise)
    offsets_px = np.round(
        np.column_stack([offsets_mm @ col_cos / row_mm, offsets_mm @ row_cos / column_mm]), 4
    )
    plan = StackPlan(
        slices=series.slices,
        order=order,
        along_normal_mm=along_kept,
        in_plane_offset_px=offsets_px,
        spacing_mm=(0.0, row_mm, column_mm),
        origin_lps_mm=positions[order[0]],
        direction=np.column_stack([row_cos, col_cos, normal]),
        duplicate_groups=groups,
        warnings=warnings,
    )
    _decide_z(plan, series, settings, offsets_mm)
    return plan


def _drop_repeats(sorted_indices: list[int], along: np.ndarray) -> tuple[list[int], list[list[int]]]:
    """Keep the first slice per position; return (order, groups of slices sharing a position)."""
    order, groups = [], []
    for index in sorted_indices:
        if order and abs(along[index] - along[order[-1]]) < SAME_POSITION_MM:
            if groups and groups[-1][0] == order[-1]:
                groups[-1].append(index)
            else:
                groups.append([order[-1], index])
            continue
        order.append(index)
    return order, groups


def _decide_z(plan: StackPlan, series: SeriesRecord, settings: Settings, offsets_mm: np.ndarray) -> None:
    slices = [series.slices[i] for i in plan.order]
    along = plan.along_normal_mm
    if len(slices) == 1:
        thickness = series.slice_thickness_mm or 1.0
        plan.spacing_mm = (float(thickness), *plan.spacing_mm[1:])
        plan.warnings.append(
            f"series {series.series_uid}: single slice; z spacing taken from SliceThickness ({thickness} mm)"
        )
        return
    steps = np.diff(along)
    median = float(np.median(steps))
    big = np.flatnonzero(steps > settings.slice_gap_factor * median)
    if big.size:
        i = int(big[0])
        raise MissingSlicesError(
            f"series {series.series_uid}: gap of {steps[i]:.2f} mm between {slices[i].label} and "
            f"{slices[i + 1].label} (median step {median:.2f} mm); slices are missing"
            + (f" ({big.size} gaps)" if big.size > 1 else "")
        )
    small = np.flatnonzero(steps < 0.5 * median)
    if small.size:  # resampling at such a step would invent a huge, mostly interpolated volume
        i = int(small[0])
        raise GeometryError(
            f"series {series.series_uid}: {slices[i].label} and {slices[i + 1].label} only {steps[i]:.2f} mm apart "
            f"(median step {median:.2f} mm); overlapping stacks in one series?"
        )
    variable = float(np.max(np.abs(steps - median))) > settings.slice_spacing_tolerance_mm
    shear_mm = float(np.max(np.linalg.norm(offsets_mm, axis=1)))
    sheared = shear_mm > settings.slice_spacing_tolerance_mm
    if (variable or sheared) and not settings.resample_irregular:
        what = "variable slice spacing" if variable else "sheared stack (gantry tilt)"
        raise GeometryError(f"series {series.series_uid}: {what}; resampling is switched off")
    if sheared:
        extent = along[-1] - along[0]
        tilt_deg = np.degrees(np.arctan2(np.linalg.norm(offsets_mm[-1]), extent))
        plan.warnings.append(
            f"series {series.series_uid}: sheared stack (gantry tilt about {tilt_deg:.1f} deg, slices offset up to "
            f"{shear_mm:.2f} mm in-plane); each slice shifted onto an orthogonal grid (linear interpolation)"
        )
    else:
        plan.in_plane_offset_px[:] = 0.0
    if variable:
        step = float(steps.min())
        n = int(np.floor((along[-1] - along[0]) / step + 1e-6)) + 1
        plan.target_along_normal_mm = along[0] + step * np.arange(n)
        plan.spacing_mm = (step, *plan.spacing_mm[1:])
        plan.warnings.append(
            f"series {series.series_uid}: variable slice spacing ({steps.min():.2f}-{steps.max():.2f} mm); "
            f"resampled to a regular {step:.2f} mm grid of {n} slices (linear interpolation)"
        )
    else:
        plan.spacing_mm = (float((along[-1] - along[0]) / (len(along) - 1)), *plan.spacing_mm[1:])


def regularize(stack: np.ndarray, plan: StackPlan) -> np.ndarray:
    """Resample a decoded stack (sorted, kept slices) onto the plan's regular orthogonal grid."""
    if np.any(plan.in_plane_offset_px):
        from scipy import ndimage  # imported here: only tilted stacks need it, and it is slow to import

        for z, shift in enumerate(plan.in_plane_offset_px):
            if np.any(shift):
                moved = ndimage.shift(
                    stack[z].astype(np.float32), shift, order=1, mode="constant", cval=AIR_HU
                )
                stack[z] = np.rint(moved).astype(np.int16)
    if plan.target_along_normal_mm is None:
        return stack
    along = plan.along_normal_mm
    upper = np.clip(np.searchsorted(along, plan.target_along_normal_mm, side="right"), 1, len(along) - 1)
    lower = upper - 1
    weight = (plan.target_along_normal_mm - along[lower]) / (along[upper] - along[lower])
    out = np.empty((len(upper), *stack.shape[1:]), dtype=np.int16)
    for z, (a, b, w) in enumerate(zip(lower, upper, weight, strict=True)):
        out[z] = np.rint((1.0 - w) * stack[a] + w * stack[b]).astype(np.int16)
    return out
