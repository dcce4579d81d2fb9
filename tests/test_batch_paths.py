"""Output names from UIDs only, and messages without the series' folders or image-file names."""

from __future__ import annotations

from cementseg.batch import SeriesJob, safe_uid
from cementseg.batch.jobs import _job
from cementseg.batch.worker import _message, redact
from cementseg.io.records import SeriesRecord


def test_batch_safe_uid_keeps_uids_and_hashes_everything_else():
    assert safe_uid("1.2.840.113619.2.55.3.604688") == "1.2.840.113619.2.55.3.604688"
    for unsafe in ("file:DOE_JANE.nii.gz", "1.2.3/../../etc", "1." + "2" * 70, "no-uid:DOE/ct", "1..2"):
        name = safe_uid(unsafe)
        assert name.startswith("h-") and len(name) == 22 and "DOE" not in name
        assert safe_uid(unsafe) == name  # stable: resume finds it again
    assert safe_uid(None) == "no-uid" and safe_uid("", "no-study") == "no-study"
    assert SeriesJob("file:x.nii", None, ()).result_dir == f"series/no-study/{safe_uid('file:x.nii')}"


def _record(files, source="dicom", uid="1.2.3"):
    return SeriesRecord(series_uid=uid, study_uid="4.5", modality="CT", image_type=(), description="",
                        n_instances=len(files), rows=None, columns=None, slice_thickness_mm=None,
                        pixel_spacing_mm=None, kernel=None, contrast_agent=None, acquisition_date=None,
                        files=files, source=source)


def test_batch_messages_lose_the_folders_and_image_file_names():
    job = _job(_record(["/data/DOE_JANE/ct/IM1.dcm", "/data/DOE_JANE/ct/IM2.dcm"]))
    text = "gap between /data/DOE_JANE/ct/IM1.dcm and /data/DOE_JANE/ct/IM2.dcm in /data/DOE_JANE/ct\n(2 files)"
    assert _message(text, job) == "gap between IM1.dcm and IM2.dcm in <series folder> (2 files)"
    assert redact({"a": [text], "n": 1.5}, job)["a"][0].count("DOE") == 0
    nifti = _job(_record(["/data/DOE_JANE_ct.nii.gz"], source="image_file", uid="file:DOE_JANE_ct.nii.gz"))
    assert nifti.key == safe_uid("file:DOE_JANE_ct.nii.gz")
    document = redact({"series_uid": "file:DOE_JANE_ct.nii.gz", "w": ["read /data/DOE_JANE_ct.nii.gz",
                                                                       "DOE_JANE_ct.nii.gz: tilted"]}, nifti)
    assert document == {"series_uid": nifti.key, "w": ["read <image file>", "<image file>: tilted"]}
