"""Test CT series written with pydicom, with known voxels and geometry.

`write_series` writes one classic (one file per slice) CT series from an int HU array
(z, y, x) and returns a `WrittenSeries` with the files and the exact expected affine.
Options cover what hospitals send: shuffled file names, per-slice rescale, pixel padding,
every transfer syntax pydicom can encode, big endian, gaps, tilt, duplicates, localizers,
non-CT modalities. `write_enhanced` writes one multi-frame Enhanced CT object; `write_junk`
adds non-DICOM and truncated files.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    EnhancedCTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

from cementseg.volume import make_affine

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
NATIVE_SYNTAXES = (ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)
#: lossless compressed syntaxes the factory writes (pydicom's encoders, JPEG lossless by hand)
LOSSLESS_ENCODED = (RLELossless, JPEG2000Lossless, JPEGLSLossless, JPEGLosslessSV1)


@dataclass
class WrittenSeries:
    """Files written and what a correct loader must return for them."""

    folder: Path
    files: list[Path]
    series_uid: str
    study_uid: str
    expected_affine: np.ndarray
    hu: np.ndarray
    extra: dict = field(default_factory=dict)


def hu_phantom(shape=(6, 20, 24), seed=0, low=-1024, high=3071) -> np.ndarray:
    """Random HU volume (z, y, x) with distinct values, including the extremes."""
    rng = np.random.default_rng(seed)
    hu = rng.integers(low, high + 1, size=shape, dtype=np.int32)
    hu.flat[0], hu.flat[-1] = low, high
    return hu


def _base_dataset(sop_class: str, syntax: str, series_uid: str, study_uid: str, modality: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Test^Patient"
    ds.PatientID = "ID12345"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = modality
    ds.Manufacturer = "FactoryScanner"
    ds.ManufacturerModelName = "Model 1"
    ds.ConvolutionKernel = "B30f"
    ds.AcquisitionDate = ds.StudyDate = "20240102"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.SeriesDescription = "factory series"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def stored_values(hu_slice: np.ndarray, slope: float, intercept: float, signed: bool) -> np.ndarray:
    """Stored pixel values whose rescale gives exactly ``hu_slice``."""
    stored = (np.asarray(hu_slice, dtype=np.float64) - intercept) / slope
    if not np.allclose(stored, np.rint(stored)):
        raise ValueError("HU not representable with this slope/intercept")
    stored = np.rint(stored).astype(np.int64)
    low, high = (-32768, 32767) if signed else (0, 65535)
    if stored.min() < low or stored.max() > high:
        raise ValueError("stored values out of 16-bit range")
    return stored.astype(np.int16 if signed else np.uint16)


def _set_pixels(ds: Dataset, stored: np.ndarray, syntax: str) -> None:
    """Store ``stored`` (frames, rows, cols) or (rows, cols) in ``ds`` with transfer syntax ``syntax``."""
    if syntax in NATIVE_SYNTAXES:
        order = ">" if syntax == ExplicitVRBigEndian else "<"
        ds.PixelData = stored.astype(stored.dtype.newbyteorder(order)).tobytes()
        ds["PixelData"].VR = "OW"
        return
    if syntax in (JPEGBaseline8Bit, JPEGLosslessSV1):
        frames = stored.reshape(-1, *stored.shape[-2:])
        encode = _jpeg_baseline if syntax == JPEGBaseline8Bit else jpeg_lossless_sv1
        ds.PixelData = encapsulate([encode(f) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
        return
    ds.PixelData = stored.tobytes()
    kwargs = {JPEG2000: {"j2k_cr": [20]}, JPEGLSNearLossless: {"jls_error": 3}}.get(syntax, {})
    ds.compress(syntax, stored, **kwargs)


def _jpeg_baseline(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame.astype(np.uint8), mode="L").save(buffer, format="JPEG", quality=100)
    return buffer.getvalue()


def write_series(
    folder: Path,
    hu: np.ndarray,
    *,
    spacing_mm=(2.0, 0.8, 0.7),
    origin_lps_mm=(-10.0, -20.0, 100.0),
    orientation=AXIAL,
    syntax: str = ExplicitVRLittleEndian,
    slopes=None,
    intercepts=None,
    signed: bool = False,
    bits_stored: int = 16,
    padding_value: int | None = None,
    padding_mask: np.ndarray | None = None,
    modality: str = "CT",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    series_uid: str | None = None,
    study_uid: str | None = None,
    z_positions_mm=None,
    shear_mm_per_slice=(0.0, 0.0),
    shuffle: bool = True,
    prefix: str = "",
    seed: int = 0,
    instance_numbers=None,
) -> WrittenSeries:
    """Write ``hu`` (z, y, x) as one CT slice per file and return what a loader must find.

    ``z_positions_mm`` (distance of each slice along the normal from the origin) defaults
    to ``k * spacing_mm[0]``; ``shear_mm_per_slice`` moves slice k in-plane by k times that
    (row direction, column direction) in mm, as a tilted gantry does. ``padding_mask``
    marks voxels stored as ``padding_value``. File names are random when ``shuffle``.
    """
    hu = np.asarray(hu)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    n = hu.shape[0]
    slopes = list(slopes) if slopes is not None else [1.0] * n
    intercepts = list(intercepts) if intercepts is not None else [0.0 if signed else -1024.0] * n
    z_positions = list(z_positions_mm) if z_positions_mm is not None else [k * spacing_mm[0] for k in range(n)]
    row_cos, col_cos = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row_cos, col_cos)
    rng = random.Random(seed)
    names = [f"{prefix}{rng.getrandbits(40):010x}.dcm" if shuffle else f"{prefix}slice{k:04d}.dcm" for k in range(n)]
    files = []
    for k in range(n):
        shift = k * (shear_mm_per_slice[0] * row_cos + shear_mm_per_slice[1] * col_cos)
        position = np.asarray(origin_lps_mm) + z_positions[k] * normal + shift
        stored = stored_values(hu[k], slopes[k], intercepts[k], signed)
        if padding_mask is not None:
            stored[padding_mask[k]] = padding_value
        if bits_stored < 16 and not signed:
            stored = stored & ((1 << bits_stored) - 1) | (1 << bits_stored) * 3  # junk in unused high bits
        ds = _base_dataset(CTImageStorage, syntax, series_uid, study_uid, modality)
        ds.ImageType = list(image_type)
        ds.InstanceNumber = instance_numbers[k] if instance_numbers is not None else k + 1
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = [spacing_mm[1], spacing_mm[2]]
        ds.SliceThickness = spacing_mm[0]
        ds.RescaleSlope = slopes[k]
        ds.RescaleIntercept = intercepts[k]
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.PixelRepresentation = 1 if signed else 0
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        if padding_value is not None:
            ds.PixelPaddingValue = padding_value
        if syntax == JPEGBaseline8Bit:
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        _set_pixels(ds, stored, syntax)
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    direction = np.column_stack([row_cos, col_cos, normal])
    affine = make_affine((spacing_mm[0], spacing_mm[1], spacing_mm[2]), origin_lps_mm, direction)
    return WrittenSeries(folder, files, series_uid, study_uid, affine, hu)


def write_enhanced(path: Path, hu: np.ndarray, *, spacing_mm=(1.5, 0.6, 0.5), origin_lps_mm=(5.0, 6.0, -50.0),
                   orientation=AXIAL, slopes=None, intercepts=None, frame_order=None,
                   syntax: str = ExplicitVRLittleEndian) -> WrittenSeries:
    """Write ``hu`` as one Enhanced CT multi-frame object; frames stored in ``frame_order``."""
    n = hu.shape[0]
    frame_order = list(frame_order) if frame_order is not None else list(range(n))
    slopes = list(slopes) if slopes is not None else [1.0] * n
    intercepts = list(intercepts) if intercepts is not None else [-1024.0] * n
    series_uid, study_uid = generate_uid(), generate_uid()
    ds = _base_dataset(EnhancedCTImageStorage, syntax, series_uid, study_uid, "CT")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.NumberOfFrames = n
    ds.Rows, ds.Columns = hu.shape[1:]
    ds.PixelRepresentation = 0
    row_cos, col_cos = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row_cos, col_cos)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [spacing_mm[1], spacing_mm[2]]
    measures.SliceThickness = spacing_mm[0]
    plane = Dataset()
    plane.ImageOrientationPatient = [float(v) for v in orientation]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([plane])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame, frames = [], []
    for z in frame_order:
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [float(v) for v in np.asarray(origin_lps_mm) + z * spacing_mm[0] * normal]
        item.PlanePositionSequence = Sequence([position])
        transform = Dataset()
        transform.RescaleSlope = slopes[z]
        transform.RescaleIntercept = intercepts[z]
        transform.RescaleType = "HU"
        item.PixelValueTransformationSequence = Sequence([transform])
        per_frame.append(item)
        frames.append(stored_values(hu[z], slopes[z], intercepts[z], signed=False))
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    _set_pixels(ds, np.stack(frames), syntax)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    direction = np.column_stack([row_cos, col_cos, normal])
    affine = make_affine(spacing_mm, origin_lps_mm, direction)
    return WrittenSeries(path.parent, [path], series_uid, study_uid, affine, np.asarray(hu))


def write_junk(folder: Path, truncate_from: Path | None = None) -> dict[str, Path]:
    """Files a loader must skip: text, an empty file, a DICOM without pixels, a truncated copy."""
    folder.mkdir(parents=True, exist_ok=True)
    junk = {"text": folder / "README.txt", "empty": folder / "empty.dcm", "no_pixels": folder / "sr.dcm"}
    junk["text"].write_text("not a DICOM file\n")
    junk["empty"].write_bytes(b"")
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.88.11", ExplicitVRLittleEndian, generate_uid(), generate_uid(), "SR")
    for keyword in ("SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit"):
        delattr(ds, keyword)
    ds.save_as(junk["no_pixels"], enforce_file_format=True)
    if truncate_from is not None:
        data = truncate_from.read_bytes()
        junk["truncated"] = folder / "truncated.dcm"
        junk["truncated"].write_bytes(data[: len(data) - 100])
        junk["truncated_header"] = folder / "truncated_header.dcm"
        junk["truncated_header"].write_bytes(data[:300])
    return junk



def jpeg_lossless_sv1(frame: np.ndarray) -> bytes:
    """A 16-bit JPEG lossless (process 14, selection value 1) codestream of ``frame`` (uint16).

    pydicom cannot encode this syntax, so the test writes it by the book (ITU T.81 annex H):
    predictor 1 (left; above for the first column; 2**15 for the first sample), one Huffman
    table with the 17 difference categories coded on 5 bits each.
    """
    values = frame.astype(np.int64)
    prediction = np.empty_like(values)
    prediction[:, 1:] = values[:, :-1]
    prediction[1:, 0] = values[:-1, 0]
    prediction[0, 0] = 1 << 15
    diff = (values - prediction) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff).ravel()
    category = np.where(diff == -32768, 16, np.ceil(np.log2(np.abs(diff) + 1)).astype(np.int64))
    extra = np.where(diff >= 0, diff, diff + (1 << category) - 1) & ((1 << category) - 1)
    extra = np.where(category == 16, 0, extra)
    extra_bits = np.where(category == 16, 0, category)
    token = (category << extra_bits) | extra  # 5-bit code (= category) then the extra bits
    length = 5 + extra_bits
    shifts = length[:, None] - 1 - np.arange(21)[None, :]
    bits = (token[:, None] >> np.maximum(shifts, 0)) & 1
    stream = bits[shifts >= 0].astype(np.uint8)
    stream = np.concatenate([stream, np.ones((-len(stream)) % 8, np.uint8)])
    data = np.packbits(stream).tobytes().replace(b"\xff", b"\xff\x00")
    rows, cols = frame.shape
    sof = b"\xff\xc3" + (11).to_bytes(2, "big") + bytes([16]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big") \
        + bytes([1, 1, 0x11, 0])
    dht = b"\xff\xc4" + (2 + 1 + 16 + 17).to_bytes(2, "big") + bytes([0]) + bytes([0, 0, 0, 0, 17] + [0] * 11) \
        + bytes(range(17))
    sos = b"\xff\xda" + (8).to_bytes(2, "big") + bytes([1, 1, 0x00, 1, 0, 0])
    return b"\xff\xd8" + sof + dht + sos + data + b"\xff\xd9"
