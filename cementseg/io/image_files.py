"""NIfTI, NRRD and MHA/MHD volumes -> `CTVolume` with LPS geometry.

NIfTI is read with nibabel and its RAS affine converted to LPS here (the one RAS/LPS
boundary of the loader); NRRD and MetaImage are read with SimpleITK, which is LPS already.
These formats carry no modality: the values are taken as HU, with a warning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, GeometryError
from ..volume import CTVolume
from .records import SeriesRecord

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def is_image_file(path: str) -> bool:
    name = path.lower()
    return name.endswith(NIFTI_SUFFIXES + ITK_SUFFIXES)


def describe(path: str) -> SeriesRecord:
    """A `SeriesRecord` for one image file, from its header only."""
    import nibabel as nib  # imported here: DICOM-only runs should not pay for it
    import SimpleITK as sitk

    try:
        if path.lower().endswith(NIFTI_SUFFIXES):
            image = nib.load(path)
            shape_xyz = image.shape[:3]
            zooms = image.header.get_zooms()[:3]
        else:
            reader = sitk.ImageFileReader()
            reader.SetFileName(path)
            reader.ReadImageInformation()
            shape_xyz = reader.GetSize()[:3]
            zooms = reader.GetSpacing()[:3]
    except (OSError, RuntimeError, nib.filebasedimages.ImageFileError) as error:
        raise CorruptFileError(f"{path}: unreadable image file ({error})") from error
    if len(shape_xyz) != 3:
        raise CorruptFileError(f"{path}: not a 3D image (shape {shape_xyz})")
    return SeriesRecord(
        series_uid=f"file:{Path(path).name}",
        study_uid=None,
        modality=None,
        image_type=(),
        description=Path(path).name,
        n_instances=int(shape_xyz[2]),
        rows=int(shape_xyz[1]),
        columns=int(shape_xyz[0]),
        slice_thickness_mm=float(zooms[2]),
        pixel_spacing_mm=(float(zooms[1]), float(zooms[0])),
        kernel=None,
        contrast_agent=None,
        acquisition_date=None,
        files=[path],
        source="image_file",
    )


def _to_int16(values: np.ndarray, path: str, warnings: list[str]) -> np.ndarray:
    if values.dtype == np.int16:
        return values
    if np.issubdtype(values.dtype, np.floating):
        values = np.rint(values)
    clipped = int(np.count_nonzero((values < -32768) | (values > 32767)))
    if clipped:
        warnings.append(f"{Path(path).name}: {clipped} voxels outside int16 clipped to [-32768, 32767] HU")
    return np.clip(values, -32768, 32767).astype(np.int16)


def load_image_file(path: str) -> CTVolume:
    """A NIfTI/NRRD/MHA file as a `CTVolume` (values taken as HU, geometry in LPS)."""
    import SimpleITK as sitk

    warnings = [f"{Path(path).name}: image file without modality; values taken as CT HU"]
    if path.lower().endswith(NIFTI_SUFFIXES):
        return _load_nifti(path, warnings)
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as error:
        raise CorruptFileError(f"{path}: unreadable image file ({error})") from error
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise CorruptFileError(f"{path}: not a scalar 3D image")
    hu = _to_int16(sitk.GetArrayFromImage(image), path, warnings)
    return CTVolume(
        hu=hu,
        spacing_mm=tuple(reversed(image.GetSpacing())),
        origin_lps_mm=image.GetOrigin(),
        direction=np.asarray(image.GetDirection()).reshape(3, 3),
        meta={"source": path, "series_uid": f"file:{Path(path).name}"},
        warnings=warnings,
    )


def _load_nifti(path: str, warnings: list[str]) -> CTVolume:
    import nibabel as nib

    try:
        image = nib.load(path)
        values = np.asanyarray(image.dataobj)  # applies scl_slope / scl_inter
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as error:
        raise CorruptFileError(f"{path}: unreadable NIfTI ({error})") from error
    if values.ndim != 3:
        raise CorruptFileError(f"{path}: not a 3D image (shape {values.shape})")
    affine_lps = RAS_TO_LPS @ image.affine
    linear = affine_lps[:3, :3]
    spacing_xyz = np.linalg.norm(linear, axis=0)
    direction = linear / spacing_xyz
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise GeometryError(f"{path}: sheared affine (voxel axes not orthogonal); refusing to guess")
    hu = _to_int16(np.ascontiguousarray(values.transpose(2, 1, 0)), path, warnings)
    return CTVolume(
        hu=hu,
        spacing_mm=tuple(spacing_xyz[::-1]),
        origin_lps_mm=affine_lps[:3, 3],
        direction=direction,
        meta={"source": path, "series_uid": f"file:{Path(path).name}"},
        warnings=warnings,
    )
