"""DICOM Segmentation (highdicom) of the cement, one segment per location class present.

The SEG references the source CT series' SOP instances frame by frame, so it needs the
source DICOM datasets (`source_datasets` reads them again from the scanned path). A scan of
a NIfTI/NRRD/MHA file, or a series the loader had to resample, has no slices to reference:
then `SourceImagesError` says so in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from ..errors import GeometryError, InputError, NoSeriesError
from ..findings import Findings
from ..vocabulary import LOCATIONS
from ..volume import make_affine
from .dicom_codes import LOCATION_DICOM_CODES

MANUFACTURER = "cementseg"
#: series numbers of the derived series (high, to sort after the source series)
SEG_SERIES_NUMBER = 901
SR_SERIES_NUMBER = 902


#: what a derived object needs from every source image to reference it
REFERENCE_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")


class SourceImagesError(InputError):
    """The scan has no DICOM source images a SEG/SR could reference."""


def source_datasets(path: str | os.PathLike, findings: Findings) -> list[Dataset]:
    """The headers (no pixel data) of the DICOM series ``findings`` was made from, read from ``path``.

    Raises `SourceImagesError` when the scan came from a NIfTI/NRRD/MHA file or an enhanced
    (multi-frame) series, or when the images lack a UID a reference needs (`REFERENCE_UIDS`;
    anonymisers sometimes blank them), NoSeriesError when ``path`` no longer holds the series.
    """
    from ..io.discovery import find_series
    from ..io.files import open_binary

    series_uid = findings.input.get("series_uid")
    scan = find_series(path)
    record = next((r for r in scan if r.series_uid == series_uid), None)
    if record is None and len(scan) == 1 and scan.series[0].source == "image_file":
        record = scan.series[0]
    if record is None:
        raise NoSeriesError(f"{path}: series {series_uid} not found; DICOM SEG/SR need the scanned series")
    if record.source == "image_file":
        raise SourceImagesError(
            f"{path}: DICOM SEG/SR need a DICOM source series; this scan read a "
            f"{Path(record.files[0]).suffix or 'image'} file"
        )
    if record.source != "dicom":
        raise SourceImagesError(
            f"{path}: DICOM SEG/SR are written for single-frame CT series only "
            f"(series {series_uid} is {record.source})"
        )
    datasets = []
    for file in record.files:
        with open_binary(file) as stream:
            ds = dcmread(stream, stop_before_pixels=True)
        for keyword, meta_keyword in (("SOPClassUID", "MediaStorageSOPClassUID"),
                                      ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
            if not ds.get(keyword) and ds.file_meta.get(meta_keyword):
                setattr(ds, keyword, ds.file_meta[meta_keyword].value)  # the same fact, from the file meta
        missing = [keyword for keyword in REFERENCE_UIDS if not ds.get(keyword)]
        if missing:
            raise SourceImagesError(f"{file}: no {', '.join(missing)}; a DICOM SEG/SR could not reference "
                                    f"series {series_uid}")
        datasets.append(ds)
    return datasets


def slice_order(findings: Findings, datasets: list[Dataset]) -> list[int]:
    """The z index of the CT grid each dataset is, checked to be exactly one grid slice.

    Raises GeometryError when a dataset does not lie on the scanned grid (a resampled or
    tilted series, or other files).
    """
    shape = findings.input["shape_zyx"]
    direction = np.asarray(findings.input["direction"], dtype=float)
    affine = make_affine(findings.input["spacing_mm_zyx"], findings.input["origin_lps_mm"], direction)
    inverse = np.linalg.inv(affine[:3, :3])
    order = []
    for ds in datasets:
        orientation = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        on_grid = (int(ds.Rows), int(ds.Columns)) == (shape[1], shape[2]) and np.allclose(
            orientation, np.concatenate([direction[:, 0], direction[:, 1]]), atol=1e-4
        )
        x, y, z = inverse @ (np.asarray([float(v) for v in ds.ImagePositionPatient]) - affine[:3, 3])
        k = int(round(z))
        if not on_grid or abs(x) > 0.01 or abs(y) > 0.01 or abs(z - k) > 0.01 or not 0 <= k < shape[0]:
            raise GeometryError(
                f"series {findings.input.get('series_uid')}: image {ds.SOPInstanceUID} is not a "
                f"slice of the scanned grid (resampled or tilted series); no DICOM SEG/SR"
            )
        order.append(k)
    if sorted(order) != list(range(shape[0])):
        raise GeometryError(
            f"series {findings.input.get('series_uid')}: the source images do not cover the "
            f"{shape[0]} scanned slices one to one; no DICOM SEG/SR"
        )
    return order


def segment_locations(findings: Findings) -> list[str]:
    """Locations of the cement present, in vocabulary order: segment n is entry n-1."""
    present = {c.location for c in findings.components if c.material == "cement" and c.voxel_count}
    return [name for name in LOCATIONS.values() if name in present]


def location_label_volume(findings: Findings, locations: list[str]) -> np.ndarray:
    """uint8 (z, y, x): the segment number (1-based index in ``locations``) of every cement voxel."""
    labels = np.zeros(findings.input["shape_zyx"], dtype=np.uint8)
    flat = labels.reshape(-1)
    for component in findings.components:
        if component.material == "cement" and component.location in locations:
            flat[component.flat_index] = locations.index(component.location) + 1
    return labels


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    from .. import __version__

    # thresholds, connected components and anatomy rules: no learned model
    return hd.AlgorithmIdentificationSequence(
        name="cementseg", family=codes.cid7162.MorphologicalOperations, version=__version__
    )


def build_segmentation(findings: Findings, datasets: list[Dataset]) -> hd.seg.Segmentation:
    """The cement as a binary DICOM SEG on the source series' slices.

    Raises InputError when no cement was found (an empty SEG says nothing).
    """
    from .. import __version__

    locations = segment_locations(findings)
    if not locations:
        raise InputError(f"series {findings.input.get('series_uid')}: no cement found, no DICOM SEG written")
    order = slice_order(findings, datasets)
    labels = location_label_volume(findings, locations)[order]
    algorithm = _algorithm()
    descriptions = []
    for number, location in enumerate(locations, start=1):
        coded = LOCATION_DICOM_CODES[location]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=f"PMMA cement: {location}"[:64],
                segmented_property_category=coded.category,
                segmented_property_type=coded.type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
                tracking_uid=hd.UID(),
                tracking_id=location,
                anatomic_regions=[coded.site] if coded.site is not None else None,
            )
        )
    return hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="cementseg",
        software_versions=__version__,
        device_serial_number="0",
        content_description="PMMA cement by location",
        content_label="CEMENT",
        series_description="cementseg cement segmentation",
    )


def carry_deidentification(derived: Dataset, source: Dataset) -> None:
    """Copy the source's de-identification method; PatientIdentityRemoved YES requires one (1C)."""
    if str(derived.get("PatientIdentityRemoved", "")).upper() != "YES":
        return
    for keyword in ("DeidentificationMethod", "DeidentificationMethodCodeSequence"):
        if keyword in source:
            derived[keyword] = source[keyword]
    if "DeidentificationMethod" not in derived and "DeidentificationMethodCodeSequence" not in derived:
        derived.DeidentificationMethod = "unknown: source marked identity removed without a method"


def write_dicom_seg(
    findings: Findings, datasets: list[Dataset], path: str | os.PathLike
) -> hd.seg.Segmentation:
    """Build the SEG (`build_segmentation`) and save it to ``path``; returns it (the SR references it)."""
    seg = build_segmentation(findings, datasets)
    carry_deidentification(seg, datasets[0])
    seg.save_as(Path(path))
    return seg
