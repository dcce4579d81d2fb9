"""DICOM Comprehensive 3D SR, TID 1500 Measurement Report, of the cement findings (highdicom).

Per cement finding one "Volumetric ROI measurements" group (TID 1411): tracking identifier
``finding <id>``, finding type and site (codes in `dicom_codes`), volume (UCUM ``ml``) and
length (``mm``) measurements, the leak severity as a qualitative evaluation, and a reference
to the SEG segment of its location (segments hold every finding of a location).
"""

from __future__ import annotations

import os
from pathlib import Path

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from ..errors import InputError
from ..findings import Component, Findings
from .dicom_codes import LOCATION_DICOM_CODES, MILLILITRE, MILLIMETRE, SEVERITY_CODES
from .dicom_seg import MANUFACTURER, SR_SERIES_NUMBER, carry_deidentification, segment_locations
from .images import reported_findings


def _observation_context() -> hd.sr.ObservationContext:
    from .. import __version__

    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(), name="cementseg", manufacturer_name=MANUFACTURER, model_name=f"cementseg {__version__}"
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def _referenced_segment(seg: Dataset, segment_number: int) -> hd.sr.ReferencedSegment:
    # Built from the SEG's identity rather than `ReferencedSegment.from_segmentation`, which
    # looks for the segment in every frame's functional groups and fails on a one-segment SEG
    # (highdicom then stores the segment identification in the shared functional groups).
    return hd.sr.ReferencedSegment(
        sop_class_uid=seg.SOPClassUID,
        sop_instance_uid=seg.SOPInstanceUID,
        segment_number=segment_number,
        source_series=hd.sr.SourceSeriesForSegmentation(seg.ReferencedSeriesSequence[0].SeriesInstanceUID),
    )


def _finding_group(
    component: Component, seg: Dataset, segment_number: int, algorithm: hd.sr.AlgorithmIdentification
) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    coded = LOCATION_DICOM_CODES[component.location]
    measurements = [
        hd.sr.Measurement(
            name=codes.SCT.Volume, value=float(component.volume_ml), unit=MILLILITRE, algorithm_id=algorithm
        ),
        hd.sr.Measurement(
            name=codes.SCT.Length, value=float(component.length_mm), unit=MILLIMETRE, algorithm_id=algorithm
        ),
    ]
    evaluations = []
    if component.severity in SEVERITY_CODES:
        evaluations.append(
            hd.sr.QualitativeEvaluation(name=codes.SCT.Severity, value=SEVERITY_CODES[component.severity])
        )
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"finding {component.id}"),
        referenced_segment=_referenced_segment(seg, segment_number),
        finding_type=coded.type,
        finding_sites=[hd.sr.FindingSite(coded.site)] if coded.site is not None else None,
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=evaluations or None,
    )


def build_measurement_report(
    findings: Findings, seg: Dataset, datasets: list[Dataset]
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of every cement finding, referencing segments of ``seg`` (`dicom_seg`).

    ``datasets`` are the source CT headers (patient and study are taken from them). Raises
    InputError without cement: TID 1500 needs at least one measurement group.
    """
    from .. import __version__

    locations = segment_locations(findings)
    cement = [c for c in reported_findings(findings) if c.location in locations]
    if not cement:
        raise InputError(f"series {findings.input.get('series_uid')}: no cement found, no DICOM SR written")
    algorithm = hd.sr.AlgorithmIdentification(name="cementseg", version=__version__)
    groups = [_finding_group(c, seg, locations.index(c.location) + 1, algorithm) for c in cement]
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[seg, *datasets],
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description="cementseg cement measurements",
    )
    carry_deidentification(sr, datasets[0])
    return sr


def write_dicom_sr(
    findings: Findings, seg: Dataset, datasets: list[Dataset], path: str | os.PathLike
) -> Path:
    """Build the SR (`build_measurement_report`) and save it to ``path``."""
    path = Path(path)
    build_measurement_report(findings, seg, datasets).save_as(path)
    return path
