"""`Findings`: JSON schema, summary, label volume and its NIfTI geometry."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from locate_scene import anatomy_map, ball, box, candidate, volume_with

from cementseg.findings import COMPONENT_FIELDS, SCHEMA, Findings
from cementseg.locate import locate_findings
from cementseg.pipeline import _input_block
from cementseg.settings import Settings
from cementseg.volume import CTVolume

FILL = ball((24, 55, 50), 8)
CANAL_LEAK = box((slice(22, 27), slice(60, 80), slice(48, 53)))
IVC_CAST = box((slice(20, 60), slice(22, 24), slice(18, 20)))
SCREW = box((slice(55, 60), slice(70, 90), slice(30, 34)))


def _findings(volume: CTVolume | None = None) -> Findings:
    scene = volume_with(FILL | CANAL_LEAK, IVC_CAST, SCREW)
    candidates = [
        candidate(scene, FILL | CANAL_LEAK, 1),
        candidate(scene, IVC_CAST, 2),
        candidate(scene, SCREW, 3, material="metal"),
    ]
    components = locate_findings(candidates, scene, anatomy_map(), Settings())
    return Findings(
        components=components,
        input=_input_block(volume or scene, "scene"),
        settings=Settings(),
        timing_s={"locate": 0.1, "total": 0.2},
        anatomy_source={"vertebral_body": "test"},
    )


def test_json_has_the_schema_every_field_and_a_correct_summary():
    findings = _findings()
    data = json.loads(findings.to_json())
    assert data["schema"] == SCHEMA == "cementseg.findings/1"
    assert data["input"]["series_uid"] == "1.2.3"
    assert data["input"]["shape_zyx"] == [100, 100, 100]
    assert set(data["timing_s"]) == {"locate", "total"}
    assert data["settings"]["seed_hu"] == Settings().seed_hu
    for component in data["components"]:
        assert list(component) == list(COMPONENT_FIELDS)
    by_location = {c["location"]: c for c in data["components"]}
    assert by_location["spinal_canal"]["is_leak"] is True
    assert by_location[None]["material"] == "metal" and by_location[None]["is_leak"] is False
    summary = data["summary"]
    canal_ml = (CANAL_LEAK & ~box((slice(10, 38), slice(40, 70), slice(34, 64)))).sum() / 1000.0
    assert summary["cemented_levels"] == ["L2"]
    assert summary["leak_count"] == 2
    assert summary["leak_volume_ml"] == pytest.approx(canal_ml + IVC_CAST.sum() / 1000.0, abs=1e-4)
    assert summary["highest_severity"] == "critical"
    assert summary["leaks_per_location"] == {"inferior_vena_cava": 1, "spinal_canal": 1}
    assert summary["non_cement_per_material"] == {"metal": 1}
    assert "2 cement leak(s)" in findings.verdict()


def test_fail_on_thresholds():
    findings = _findings()
    assert len(findings.at_or_above("critical")) == 2
    assert len(findings.at_or_above("info")) == 2
    assert findings.at_or_above("never") == []


def test_dataframe_has_one_row_per_component():
    pytest.importorskip("pandas", reason="pandas is an optional dependency")
    findings = _findings()
    frame = findings.to_dataframe()
    assert list(frame.columns) == list(COMPONENT_FIELDS)
    assert len(frame) == len(findings.components)
    assert frame["is_leak"].sum() == 2


def test_label_volume_holds_component_ids_on_their_voxels():
    findings = _findings()
    labels = findings.label_volume()
    assert labels.dtype == np.uint16 and labels.shape == (100, 100, 100)
    assert set(np.unique(labels)) == {0} | {c.id for c in findings.components}
    metal = next(c for c in findings.components if c.material == "metal")
    assert np.array_equal(labels == metal.id, SCREW)
    cement = np.isin(labels, [c.id for c in findings.components if c.material == "cement"])
    assert np.array_equal(cement, FILL | CANAL_LEAK | IVC_CAST)


def test_label_nifti_has_exactly_the_series_geometry(tmp_path):
    """An oblique, anisotropic, offset grid survives the NIfTI writer (LPS -> RAS done by SimpleITK)."""
    angle = np.deg2rad(12.0)
    direction = np.array([[np.cos(angle), 0, np.sin(angle)], [0, -1.0, 0], [-np.sin(angle), 0, np.cos(angle)]])
    direction[:, 2] = np.cross(direction[:, 0], direction[:, 1])
    grid = CTVolume(
        hu=np.zeros((100, 100, 100), np.int16),
        spacing_mm=(2.5, 0.8, 0.7),
        origin_lps_mm=(-120.5, 88.25, 1031.0),
        direction=direction,
        meta={"series_uid": "1.2.3"},
    )
    findings = _findings(grid)
    path = findings.write_labels(tmp_path / "labels.nii.gz")
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (100, 100, 100)
    assert np.allclose(image.GetSpacing(), (0.7, 0.8, 2.5), atol=1e-5)
    assert np.allclose(image.GetOrigin(), grid.origin_lps_mm, atol=1e-4)
    assert np.allclose(np.reshape(image.GetDirection(), (3, 3)), direction, atol=1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(image), findings.label_volume())
    ras_affine = nib.load(str(path)).affine
    assert np.allclose(ras_affine, np.diag([-1, -1, 1, 1]) @ grid.affine, atol=1e-4)
