"""Anatomy from TotalSegmentator-layout labels, completed by the built-in engine.

`from_labels` takes a multilabel volume and its class map (`total_v1`, `total`, or any
{code: TotalSegmentator class name} such as the phantom's), matches it to the CT in
physical space (nearest-neighbour resampling onto the working grid; NIfTI's RAS is read
as LPS by SimpleITK) and refuses labels that do not overlap the CT. Vertebrae keep their
level names; what the labels lack (discs, canal boundary, foramina, azygos, ...) comes
from the built-in engine aligned to the given vertebrae; the spinal canal and other bone are
the union of both (`UNION_WITH_BUILTIN`). ``AnatomyMap.source`` says which. The vertebra
labels are checked and their level names cross-checked with the built-in count
(`totalseg_checks`): failures become warnings and ``AnatomyMap.level_doubts``.
Merge policy and checks: docs/totalsegmentator.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import AnatomyError
from ..settings import Settings
from ..volume import CTVolume
from .anatomy_map import AnatomyMap
from .body import body_mask, lung_mask
from .builtin import GivenVertebrae, builtin_masks, compose
from .class_maps import CLASS_MAPS
from .grid import WorkingGrid, labels_to_grid, to_working_grid
from .totalseg_checks import check_vertebra_labels, cross_check_levels
from .vessels import right_heart

TOTALSEGMENTATOR = "totalsegmentator"

#: TotalSegmentator class name (or name pattern) -> AnatomyMap structure
CLASS_TO_STRUCTURE: list[tuple[str, str]] = [
    (r"lung_.*", "lung"),
    (r"aorta", "aorta"),
    (r"inferior_vena_cava", "inferior_vena_cava"),
    (r"(hemi)?azygos_vein", "azygos_system"),
    (r"heart|heart_myocardium|heart_atrium_left|heart_ventricle_left|atrial_appendage_left", "heart"),
    (r"heart_atrium_right|heart_ventricle_right", "right_heart"),
    (r"pulmonary_artery", "pulmonary_artery"),
    (r"spinal_canal|spinal_cord", "spinal_canal"),
    (r"intervertebral_discs", "intervertebral_disc"),
    (
        r"rib_.*|sternum|costal_cartilages|sacrum|hip_(left|right)|femur_.*|scapula_.*|clavicula_.*|humerus_.*|skull",
        "other_bone",
    ),
    (r"liver", "liver"),
    (r"kidney_(left|right)", "kidney"),
    (r"hip_implant", "hip_prosthesis"),
]
#: structures where TotalSegmentator's mask is joined to the built-in one instead of replacing it
UNION_WITH_BUILTIN = ("spinal_canal", "other_bone")
VERTEBRA = re.compile(r"vertebrae_([CTLS]\d+)$")


def structure_of(class_name: str) -> str | None:
    """The AnatomyMap structure a TotalSegmentator class belongs to (None: not used)."""
    for pattern, structure in CLASS_TO_STRUCTURE:
        if re.fullmatch(pattern, class_name):
            return structure
    return None


def detect_class_map(labels: np.ndarray, lung_slices: np.ndarray) -> dict[int, str]:
    """`total` or `total_v1`, whichever the labels present fit.

    Codes above 104 exist only in `total`. Otherwise both maps are scored on the vertebra
    labels present: their names must stack from caudal to cranial (z of their centroids; +z
    is cranial on the working grid), T1-T9 must lie beside aerated lung and L2-S1 must not
    (``lung_slices``: working-grid slices with lung in the CT). The vertebra codes of the
    two maps are shifted by one to eight levels, so a spine-only file (v2 `vertebrae_S1`..
    `T11` are v1 `T9`..`T2`) is told apart by the lungs.
    """
    present = np.unique(labels[labels > 0])
    if present.size and present.max() > max(CLASS_MAPS["total_v1"]):
        return CLASS_MAPS["total"]
    scores = {
        name: _fit_score(labels, present, class_map, lung_slices) for name, class_map in CLASS_MAPS.items()
    }
    best = max(scores, key=scores.get)
    if scores[best] <= 0 or list(scores.values()).count(scores[best]) > 1:
        raise AnatomyError(
            "cannot tell the TotalSegmentator class map (total or total_v1) of these labels: "
            "name it explicitly"
        )
    return CLASS_MAPS[best]


def _fit_score(
    labels: np.ndarray, present: np.ndarray, class_map: dict[int, str], lung_slices: np.ndarray
) -> int:
    from .levels import ORDER

    heights = []
    score = 0
    for code in present:
        match = VERTEBRA.match(class_map.get(int(code), ""))
        if not (match and match.group(1) in ORDER):
            continue
        level = match.group(1)
        zs = np.nonzero((labels == code).any(axis=(1, 2)))[0]
        heights.append((ORDER.index(level), float(zs.mean())))
        beside_lung = float(lung_slices[zs].mean())
        if ORDER.index("T1") <= ORDER.index(level) <= ORDER.index("T9"):
            score += 1 if beside_lung > 0.5 else -2
        elif ORDER.index(level) >= ORDER.index("L2"):
            score += 1 if beside_lung < 0.5 else -2
    if len(heights) >= 2:
        heights.sort()
        z = np.array([h for _, h in heights])
        score += int(np.sum(np.diff(z) < 0) - np.sum(np.diff(z) > 0))  # cranial names must sit higher
    return score


def _as_image(labels, volume: CTVolume) -> sitk.Image:
    if isinstance(labels, sitk.Image):
        return labels
    array = np.asarray(labels)
    if array.shape != volume.shape:
        raise AnatomyError(
            f"label array shape {array.shape} differs from the CT's {volume.shape}; "
            "pass a SimpleITK image with its own geometry instead"
        )
    image = sitk.GetImageFromArray(array.astype(np.uint16 if array.max() > 255 else np.uint8))
    image.SetSpacing(tuple(reversed(volume.spacing_mm)))
    image.SetOrigin(volume.origin_lps_mm)
    image.SetDirection(tuple(volume.direction.ravel()))
    return image


def _on_grid(labels, volume: CTVolume, grid: WorkingGrid, what: str) -> np.ndarray:
    image = _as_image(labels, volume)
    if image.GetPixelID() not in (
        sitk.sitkUInt8,
        sitk.sitkUInt16,
        sitk.sitkInt16,
        sitk.sitkInt32,
        sitk.sitkUInt32,
        sitk.sitkInt8,
    ):
        image = sitk.Cast(image, sitk.sitkUInt16)
    on_grid = labels_to_grid(image, grid)
    if not on_grid.any():
        raise AnatomyError(
            f"anatomy labels {what} do not overlap the CT (no labelled voxel inside its field of view)"
        )
    return on_grid


def from_labels(
    volume: CTVolume,
    labels,
    class_map: dict[int, str] | str | None = None,
    *,
    vertebrae_body=None,
    settings: Settings | None = None,
    what: str = "(in memory)",
) -> AnatomyMap:
    """An AnatomyMap from TotalSegmentator-layout labels matched to ``volume`` in physical space.

    Args:
        volume: the CT.
        labels: multilabel SimpleITK image (any grid), or an integer array on the CT's own grid.
        class_map: {code: class name}, "total_v1", "total", or None to detect it.
        vertebrae_body: optional `vertebrae_body` task output (1 bodies, 2 discs), same forms.
        settings: working-grid voxel size and built-in thresholds.
        what: the labels' name for error messages (a path).
    """
    settings = settings or Settings()
    grid = to_working_grid(volume, settings.anatomy_working_spacing_mm, settings.scan_threads)
    on_grid = _on_grid(labels, volume, grid, what)
    if isinstance(class_map, str):
        if class_map not in CLASS_MAPS:
            raise AnatomyError(f"unknown class map {class_map!r}; known: {', '.join(CLASS_MAPS)}")
        class_map = CLASS_MAPS[class_map]
    if class_map is None:
        body = body_mask(grid, settings.anatomy_body_hu, settings.anatomy_table_max_mm)
        lungs = lung_mask(
            grid, body, settings.anatomy_lung_hu, settings.anatomy_min_lung_ml, settings.anatomy_min_cut_lung_ml, None
        )
        lung_area_mm2 = lungs.sum(axis=(1, 2)) * grid.spacing_mm[1] * grid.spacing_mm[2]
        class_map = detect_class_map(on_grid, lung_area_mm2 > 1000.0)
    body_labels = _on_grid(vertebrae_body, volume, grid, what) if vertebrae_body is not None else None
    return _from_grid_labels(grid, on_grid, class_map, body_labels, settings)


def _from_grid_labels(
    grid: WorkingGrid,
    on_grid: np.ndarray,
    class_map: dict[int, str],
    body_labels: np.ndarray | None,
    settings: Settings,
) -> AnatomyMap:
    given: dict[str, np.ndarray] = {}
    levels: dict[str, np.ndarray] = {}
    for code in np.unique(on_grid[on_grid > 0]):
        name = class_map.get(int(code))
        if name is None:
            continue
        match = VERTEBRA.match(name)
        if match:
            levels[match.group(1)] = on_grid == code
            continue
        structure = structure_of(name)
        if structure:
            given[structure] = given.get(structure, np.zeros(grid.shape, dtype=bool)) | (on_grid == code)
    if body_labels is not None:
        given["intervertebral_disc"] = body_labels == 2
    vertebrae = (
        GivenVertebrae(
            levels=levels,
            body_mask=None if body_labels is None else body_labels == 1,
            disc_mask=given.get("intervertebral_disc"),
        )
        if levels
        else None
    )
    masks, spine_parts = builtin_masks(grid, settings, vertebrae)
    sources = {}
    if levels:
        sources["vertebral_levels"] = TOTALSEGMENTATOR
        for name in ("vertebral_body", "posterior_elements"):
            sources[name] = (
                TOTALSEGMENTATOR
                if body_labels is not None
                else f"{TOTALSEGMENTATOR} split at the builtin canal"
            )
    for structure, mask in given.items():
        # the canal's boundary, and dense bone TotalSegmentator has no class for (calcified
        # cartilage, heterotopic bone), still come from the built-in engine
        if structure in UNION_WITH_BUILTIN and structure in masks:
            named = (
                np.any([m for s, m in given.items() if s not in UNION_WITH_BUILTIN], axis=0)
                if given
                else False
            )
            masks[structure] = (masks[structure] & ~named) | mask
            sources[structure] = f"{TOTALSEGMENTATOR} + builtin"
            continue
        masks[structure] = mask
        sources[structure] = TOTALSEGMENTATOR
    if "heart" in given and "right_heart" not in given:
        masks["right_heart"] = right_heart(given["heart"], grid)
        sources["right_heart"] = f"builtin split of the {TOTALSEGMENTATOR} heart"
    elif "right_heart" in given:
        masks["heart"] = masks.get("heart", np.zeros(grid.shape, dtype=bool)) | given["right_heart"]
    anatomy = compose(grid, masks, spine_parts, sources)
    if levels:
        _check_levels(anatomy, grid, levels, settings)
    return anatomy


def _check_levels(
    anatomy: AnatomyMap, grid: WorkingGrid, levels: dict[str, np.ndarray], settings: Settings
) -> None:
    """Label checks and the built-in level cross-check: warnings and `level_doubts` on ``anatomy``."""
    warnings, doubts_by_name = check_vertebra_labels(levels, grid, settings)
    id_of = {name: vid for vid, name in anatomy.vertebra_levels.items()}
    doubts = {id_of[name]: reason for name, reason in doubts_by_name.items() if name in id_of}
    if settings.totalseg_level_crosscheck:
        _, builtin = builtin_masks(grid, settings)
        more, crosscheck_doubts, confirmed = cross_check_levels(
            anatomy.vertebrae, anatomy.vertebra_levels, builtin["vertebrae"], builtin["levels"]
        )
        warnings += more
        for vid, reason in crosscheck_doubts.items():
            doubts.setdefault(vid, reason)
        anatomy.level_note += f"; the built-in count ({builtin['level_note']}) confirms {confirmed} of {len(anatomy.vertebra_levels)}"
    anatomy.warnings.extend(warnings)
    anatomy.level_doubts.update(doubts)


def load_external(path, volume: CTVolume, settings: Settings | None = None) -> AnatomyMap:
    """An AnatomyMap from a TotalSegmentator output on disk.

    ``path`` is a multilabel NIfTI (class map `total` or `total_v1`, detected), or a folder
    of per-class masks named like ``vertebrae_L1.nii.gz`` (a ``vertebrae_body.nii.gz`` of the
    `vertebrae_body` task, when present, gives the bodies and discs).
    """
    path = Path(path)
    if not path.exists():
        raise AnatomyError(f"anatomy labels not found: {path}")
    if path.is_file():
        return from_labels(volume, _read(path), None, settings=settings, what=str(path))
    class_map: dict[int, str] = {}
    combined: sitk.Image | None = None
    vertebrae_body = None
    for code, file in enumerate(sorted(path.glob("*.nii*")), start=1):
        name = file.name.split(".nii")[0]
        if name == "vertebrae_body":
            vertebrae_body = _read(file)
            continue
        if structure_of(name) is None and not VERTEBRA.match(name):
            continue
        mask = sitk.Cast(_read(file) > 0, sitk.sitkUInt16) * code
        class_map[code] = name
        combined = mask if combined is None else _paste(combined, mask)
    if combined is None:
        raise AnatomyError(f"no TotalSegmentator class masks (e.g. vertebrae_L1.nii.gz) in {path}")
    return from_labels(
        volume, combined, class_map, vertebrae_body=vertebrae_body, settings=settings, what=str(path)
    )


def _paste(combined: sitk.Image, mask: sitk.Image) -> sitk.Image:
    """Later masks win where two per-class masks overlap (they share one grid in a TotalSegmentator folder)."""
    if combined.GetSize() != mask.GetSize():
        raise AnatomyError("per-class masks of one folder have different grids")
    mask.CopyInformation(combined)
    return sitk.Mask(combined, mask == 0) + mask


def _read(path: Path) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise AnatomyError(f"cannot read anatomy labels {path}: {str(exc).splitlines()[0]}") from exc
