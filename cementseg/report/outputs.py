"""Write the outputs a user asked for after a scan: CSV, PNG key images, HTML report, DICOM SEG/SR.

The images need the CT pixels; `Findings` keeps only the geometry, so the volume is loaded
again from the scanned path (or passed in by a caller that still holds it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..findings import Findings
from ..volume import CTVolume

log = logging.getLogger(__name__)


def write_outputs(findings: Findings, source: str | os.PathLike | None = None, *, volume: CTVolume | None = None,
                  report: str | os.PathLike | None = None, png_dir: str | os.PathLike | None = None,
                  csv: str | os.PathLike | None = None, dicom_seg: str | os.PathLike | None = None,
                  dicom_sr: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write each requested output; returns what was written where.

    Args:
        findings: the scan's result.
        source: the scanned path (DICOM folder/file/zip or NIfTI...); needed for SEG/SR and,
            when ``volume`` is None, for the images.
        volume: the scanned CT if the caller still holds it.
        report, png_dir, csv, dicom_seg, dicom_sr: where to write; None skips. A SR needs a
            SEG to reference: without ``dicom_seg`` it is written as ``<sr stem>_seg.dcm``.
            Without any cement neither is written (a SEG needs a segment, a TID 1500 SR a
            measurement): a warning is logged and they are missing from the result.

    Raises:
        SourceImagesError (an InputError) for SEG/SR of a scan without DICOM source images,
        after the other outputs were written.
    """
    from .images import key_images, write_pngs
    from .tables import write_csv

    written: dict[str, Path] = {}
    if csv is not None:
        written["csv"] = write_csv(findings, csv)
    if report is not None or png_dir is not None:
        if volume is None:
            from ..io import load

            volume = load(source, series=findings.input.get("series_uid"), settings=findings.settings)
        images = key_images(volume, findings)
        if png_dir is not None:
            write_pngs(volume, findings, png_dir, images=images)
            written["png"] = Path(png_dir)
        if report is not None:
            from .html import write_html

            written["report"] = write_html(volume, findings, report, images=images)
    if dicom_seg is not None or dicom_sr is not None:
        written.update(_write_dicom(findings, source, dicom_seg, dicom_sr))
    for kind, path in written.items():
        log.info("wrote %s: %s", kind, path)
    return written


def _write_dicom(findings: Findings, source, seg_path, sr_path) -> dict[str, Path]:
    from .dicom_seg import SourceImagesError, segment_locations, source_datasets, write_dicom_seg
    from .dicom_sr import write_dicom_sr

    if source is None:
        raise SourceImagesError("DICOM SEG/SR need the scanned DICOM series path")
    datasets = source_datasets(source, findings)
    if seg_path is None:
        sr = Path(sr_path)
        seg_path = sr.with_name(f"{sr.name.removesuffix(sr.suffix)}_seg.dcm")
    if not segment_locations(findings):  # a SEG needs a segment, a TID 1500 SR a measurement
        log.info("no cement found: no DICOM SEG/SR written")
        return {}
    seg = write_dicom_seg(findings, datasets, seg_path)
    written = {"dicom_seg": Path(seg_path)}
    if sr_path is not None:
        written["dicom_sr"] = write_dicom_sr(findings, seg, datasets, sr_path)
    return written
