"""A small folder of phantom CT studies for the batch, Dask and PACS tests.

Coarse phantoms (3 mm voxels, 30 x 80 x 80) so a scan takes about a second. The patient is
renamed "DOE^JANE" and her folder named after her, so the tests can check that no output
path or file carries the name.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import pydicom

from cementseg.batch import safe_uid
from cementseg.phantom import generate
from cementseg.phantom.writers import write_dicom_series, write_nifti

PATIENT_NAME = "DOE^JANE"
#: every way the patient appears in the input (tags, folder and file names)
NAME_FORMS = ("DOE^JANE", "DOE_JANE", "DOE JANE", "DOE-JANE")
SPACING_MM = (3.0, 3.0, 3.0)
SHAPE = (30, 80, 80)


@dataclass
class Scene:
    root: Path
    ct_series: dict[str, Path]  # SeriesInstanceUID -> folder, scannable CT series
    broken_uid: str  # CT series with a slice missing
    mr_uid: str  # not CT
    nifti_key: str  # the (hashed) key of a NIfTI CT named after the patient


def _rename_patient(paths: list[Path], **changes) -> str:
    uid = ""
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.PatientName = PATIENT_NAME
        ds.PatientID = "DOE-JANE-0042"
        ds.SeriesDescription = "spine DOE JANE post vertebroplasty"
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
        uid = ds.SeriesInstanceUID
    return uid


def write_series(folder: Path, scenario: str, seed: int, **changes) -> tuple[str, list[Path]]:
    case = generate(scenario, seed, spacing_mm=SPACING_MM, shape=SHAPE)
    paths = write_dicom_series(case.volume, folder, uid_seed=f"batch-{scenario}-{seed}-{folder.name}",
                               series_description="x")
    return _rename_patient(paths, **changes), paths


def make_scene(root: Path, with_failures: bool = True) -> Scene:
    """Two scannable DICOM CT series (a clean fill and an IVC leak) plus, optionally, a NIfTI CT
    named after the patient, a CT series with a missing slice, an MR series and junk files."""
    patient = root / "DOE_JANE"
    ct = {}
    for scenario, seed in (("clean_fill", 0), ("ivc_linear_leak", 1)):
        folder = patient / f"{scenario}_{seed}"
        uid, _ = write_series(folder, scenario, seed)
        ct[uid] = folder
    broken_uid = mr_uid = nifti_key = ""
    if with_failures:
        case = generate("minor_leaks", 4, spacing_mm=SPACING_MM, shape=SHAPE)
        nifti = write_nifti(case.volume.hu, case.volume.affine, root / "DOE_JANE_ct.nii.gz")
        nifti_key = safe_uid(f"file:{nifti.name}")
        broken_uid, paths = write_series(patient / "broken", "clean_fill", 2)
        paths[6].unlink()
        mr_uid, _ = write_series(patient / "mr", "clean_fill", 3, Modality="MR")
        (root / "notes DOE JANE.txt").write_text("not DICOM")
        (patient / "garbage.dcm").write_bytes(b"\x00" * 300)
    return Scene(root=root, ct_series=ct, broken_uid=broken_uid, mr_uid=mr_uid, nifti_key=nifti_key)


def without_timing(document: dict) -> dict:
    """A findings JSON without its run-time-dependent fields."""
    return {k: v for k, v in document.items() if k != "timing_s"}


def shared_dir(tmp_path_factory) -> Path:
    """A temporary folder shared by the pytest-xdist workers of one run (the run's own otherwise)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(tmp_path_factory, name: str, build):
    """``build(folder)`` run once per test run, whatever the number of xdist workers; its (picklable)
    result is shared through ``<shared dir>/<name>/result.pickle``, under a file lock."""
    folder = shared_dir(tmp_path_factory) / name
    folder.mkdir(exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "result.pickle"
        if not done.exists():
            done.write_bytes(pickle.dumps(build(folder)))
        return pickle.loads(done.read_bytes())


def scene_and_local_batch(base: Path):
    """The scene under ``base/incoming`` and its local batch (2 worker processes) in ``base/results``."""
    from cementseg.batch import run_batch

    scene = make_scene(base / "incoming")
    return scene, run_batch(scene.root, base / "results", workers=2)


def shared_local_batch(tmp_path_factory):
    """`scene_and_local_batch`, run once per test run for every module and xdist worker (read only)."""
    return build_once(tmp_path_factory, "batch-run", scene_and_local_batch)
