"""Write a phantom: a DICOM CT series (CT Image IOD, one file per slice) or NIfTI, plus the
truth, the anatomy labels (TotalSegmentator layout) and the manifest.

Folder layout written by `write_case` (``image_dir``/``truth_dir`` can move the parts):

    OUTDIR/ct/                       DICOM series (or OUTDIR/ct.nii.gz)
    OUTDIR/truth.nii.gz              cement location codes + confounder material codes
    OUTDIR/instances.nii.gz          manifest id of the object owning each truth voxel
    OUTDIR/anatomy.nii.gz            multilabel anatomy (codes in manifest["anatomy_codes"])
    OUTDIR/vertebrae_body.nii.gz     1 vertebral bodies, 2 intervertebral discs
    OUTDIR/segmentations/<name>.nii.gz   one mask per structure, as TotalSegmentator writes them
    OUTDIR/manifest.json

NIfTI files are RAS: the LPS -> RAS flip happens here and nowhere else in the phantom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    RLELossless,
)

from ..errors import SettingsError
from ..volume import CTVolume

RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
COMPRESSIONS = (None, "rle", "deflate")
#: the fake patient every phantom series carries, so nobody mistakes it for a real one
FAKE_PATIENT = {
    "name": "PHANTOM^CEMENTSEG",
    "id_prefix": "CEMENTSEG-PHANTOM",
    "birth_date": "19600101",
    "sex": "O",
}
#: soft tissue and bone windows (centre, width in HU)
WINDOWS = ((40, 400), (500, 2000))
STORED_OFFSET = 1024  # stored value = HU + 1024, 12 bits


def write_nifti(array: np.ndarray, affine_lps: np.ndarray, path: str | Path) -> Path:
    """A (z, y, x) array with its index->LPS affine as a RAS NIfTI file (data in x, y, z order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.ascontiguousarray(array.transpose(2, 1, 0)), RAS_FROM_LPS @ affine_lps)
    image.header.set_xyzt_units("mm")
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    nib.save(image, str(path))
    return path


def _uid(*parts) -> str:
    """Deterministic UID under the 2.25 (UUID-derived) root: 128 bits of a hash of ``parts``."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()
    return f"2.25.{int(digest[:32], 16)}"


def write_dicom_series(
    volume: CTVolume,
    folder: str | Path,
    *,
    uid_seed: str,
    series_description: str,
    study_description: str = "CEMENTSEG PHANTOM",
    compression: str | None = None,
    patient_id: str | None = None,
) -> list[Path]:
    """One CT Image Storage file per axial slice (``slice_0001.dcm`` caudal first).

    UIDs are derived from ``uid_seed``, so the same phantom gives the same files.
    ``compression``: None (explicit VR little endian), "rle" (RLE Lossless) or "deflate".
    """
    if compression not in COMPRESSIONS:
        raise SettingsError(f"unknown DICOM compression {compression!r}; choose rle, deflate or none")
    if not np.allclose(volume.direction, np.eye(3)):
        raise SettingsError("the phantom DICOM writer only writes axial volumes with identity direction")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = (_uid(uid_seed, kind) for kind in ("study", "series", "frame"))
    stored = np.clip(volume.hu.astype(np.int32) + STORED_OFFSET, 0, 4095).astype(np.uint16)
    today = dt.date(2026, 1, 1).strftime("%Y%m%d")
    syntax = {None: ExplicitVRLittleEndian, "rle": RLELossless, "deflate": DeflatedExplicitVRLittleEndian}[
        compression
    ]
    paths = []
    for k in range(volume.shape[0]):
        position = volume.index_to_lps((k, 0, 0))
        ds = _slice_dataset(
            volume,
            k,
            position,
            study_uid,
            series_uid,
            frame_uid,
            _uid(uid_seed, "slice", k),
            today,
            series_description,
            study_description,
            patient_id or f"{FAKE_PATIENT['id_prefix']}",
        )
        pixels = np.ascontiguousarray(stored[k])
        if compression == "rle":
            ds.compress(RLELossless, pixels, generate_instance_uid=False)
        else:
            ds.PixelData = pixels.tobytes()
            ds.file_meta.TransferSyntaxUID = syntax
        path = folder / f"slice_{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _slice_dataset(
    volume,
    k,
    position,
    study_uid,
    series_uid,
    frame_uid,
    sop_uid,
    date,
    series_description,
    study_description,
    patient_id,
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop_uid
    # patient and study: a recognisable fake patient
    ds.PatientName = FAKE_PATIENT["name"]
    ds.PatientID = patient_id
    ds.PatientBirthDate = FAKE_PATIENT["birth_date"]
    ds.PatientSex = FAKE_PATIENT["sex"]
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic phantom: no real patient"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study_uid, date, "120000"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.StudyDescription = study_description
    # series, frame of reference, equipment
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", series_uid, 1
    ds.SeriesDescription = series_description[:64]
    ds.BodyPartExamined = "SPINE"  # unpaired: no Laterality
    ds.SeriesDate, ds.SeriesTime = date, "120000"
    ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_uid, ""
    ds.Manufacturer, ds.ManufacturerModelName = "cementseg", "synthetic phantom"
    ds.InstitutionName = "cementseg phantom"
    # image
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceNumber = k + 1
    ds.AcquisitionNumber = 1
    ds.ContentDate, ds.ContentTime = date, "120000"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [round(float(v), 4) for v in position]
    ds.SliceLocation = round(float(position[2]), 4)
    ds.SliceThickness = volume.spacing_mm[0]
    ds.PixelSpacing = [volume.spacing_mm[1], volume.spacing_mm[2]]  # row spacing (y), column spacing (x)
    ds.KVP, ds.ConvolutionKernel = 120, "STANDARD"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -STORED_OFFSET, 1, "HU"
    ds.WindowCenter = [c for c, _ in WINDOWS]
    ds.WindowWidth = [w for _, w in WINDOWS]
    ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "BONE"]
    ds.BurnedInAnnotation = "NO"
    return ds


def write_case(
    case,
    outdir: str | Path,
    fmt: str = "dicom",
    *,
    image_dir: str | Path | None = None,
    compression: str | None = None,
    segmentations: bool = True,
) -> dict[str, str]:
    """Write a `PhantomCase` (image, truth, anatomy, manifest); returns what was written where."""
    if fmt not in ("dicom", "nifti"):
        raise SettingsError(f"unknown phantom format {fmt!r}; choose dicom or nifti")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    volume, manifest = case.volume, case.manifest
    affine = volume.affine
    written: dict[str, str] = {}
    if fmt == "dicom":
        folder = Path(image_dir) if image_dir is not None else outdir / "ct"
        seed = f"{manifest['scenario']}/{manifest['seed']}/{manifest['spacing_mm']}/{manifest['shape']}"
        write_dicom_series(
            volume,
            folder,
            uid_seed=seed,
            compression=compression,
            series_description=f"PHANTOM {manifest['scenario']} seed {manifest['seed']}",
            patient_id=f"{FAKE_PATIENT['id_prefix']}-{manifest['scenario']}-{manifest['seed']}",
        )
        written["image"] = str(folder)
    else:
        path = Path(image_dir) if image_dir is not None else outdir / "ct.nii.gz"
        written["image"] = str(write_nifti(volume.hu, affine, path))
    written["truth"] = str(write_nifti(case.truth, affine, outdir / "truth.nii.gz"))
    written["instances"] = str(write_nifti(case.instances, affine, outdir / "instances.nii.gz"))
    written["anatomy"] = str(write_nifti(case.anatomy.labels, affine, outdir / "anatomy.nii.gz"))
    written["vertebrae_body"] = str(
        write_nifti(case.anatomy.vertebral_body, affine, outdir / "vertebrae_body.nii.gz")
    )
    if segmentations:
        present = set(np.unique(case.anatomy.labels).tolist())
        for name, code in case.anatomy.codes.items():
            if code in present:
                write_nifti(
                    (case.anatomy.labels == code).astype(np.uint8),
                    affine,
                    outdir / "segmentations" / f"{name}.nii.gz",
                )
        written["segmentations"] = str(outdir / "segmentations")
    full = {
        **manifest,
        "anatomy_codes": case.anatomy.codes,
        "files": {k: Path(v).name for k, v in written.items()},
    }
    (outdir / "manifest.json").write_text(json.dumps(full, indent=1))
    written["manifest"] = str(outdir / "manifest.json")
    return written
