"""Scoring against truth (`cementseg.evaluate`, `cementseg evaluate`) on the hand-made scene."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from cementseg.cli import main
from click.testing import CliRunner
from locate_scene import BODY_L2, anatomy_map, ball, box, candidate, volume_with

from cementseg.evaluate import score_case, summarise
from cementseg.findings import Findings
from cementseg.locate import locate_findings
from cementseg.pipeline import _input_block
from cementseg.settings import Settings

FILL = ball((24, 55, 50), 8)
CANAL_LEAK = box((slice(22, 27), slice(60, 80), slice(48, 53)))
IVC_CAST = box((slice(20, 60), slice(22, 24), slice(18, 20)))
SCREW = box((slice(55, 60), slice(70, 90), slice(30, 34)))
DISC_TRUTH = box((slice(38, 41), slice(53, 57), slice(48, 52)))  # a leak the prediction has not seen


def _prediction():
    scene = volume_with(FILL | CANAL_LEAK, IVC_CAST, SCREW)
    candidates = [
        candidate(scene, FILL | CANAL_LEAK, 1),
        candidate(scene, IVC_CAST, 2),
        candidate(scene, SCREW, 3, material="metal"),
    ]
    components = locate_findings(candidates, scene, anatomy_map(), Settings())
    findings = Findings(components, _input_block(scene, "scene"), Settings())
    return scene, findings


def _truth(with_disc=False):
    truth = np.zeros(FILL.shape, np.uint8)
    body = box(BODY_L2)
    truth[(FILL | CANAL_LEAK) & body] = 1
    truth[CANAL_LEAK & ~body] = 3
    truth[IVC_CAST] = 7
    truth[SCREW] = 20
    if with_disc:
        truth[DISC_TRUTH] = 2
    return truth


def test_perfect_prediction_scores_perfectly():
    _, findings = _prediction()
    score = score_case(json.loads(findings.to_json()), findings.label_volume(), _truth(), 1.0)
    assert score.sensitivity == 1.0
    assert score.false_leaks == [] and score.cement_on_confounder == 0
    assert score.volume_error == pytest.approx(0.0, abs=1e-3)
    assert score.confusion() == {"spinal_canal": {"spinal_canal": 1}, "inferior_vena_cava": {"inferior_vena_cava": 1}}


def test_missed_leak_wrong_location_and_false_leaks_are_counted():
    _, findings = _prediction()
    data = json.loads(findings.to_json())
    ivc = next(c for c in data["components"] if c["location"] == "inferior_vena_cava")
    ivc["location"] = "azygos_system"  # a wrong location
    truth = _truth(with_disc=True)
    truth[IVC_CAST] = 0  # ... and now the IVC prediction has nothing under it: a false leak
    truth[box((slice(20, 40), slice(22, 24), slice(18, 20)))] = 7  # half of it is a real leak again
    score = score_case(data, findings.label_volume(), truth, 1.0)
    by_location = {leak["location"]: leak for leak in score.truth_leaks}
    assert by_location["intradiscal"]["found"] is False
    assert by_location["inferior_vena_cava"]["predicted_location"] == "azygos_system"
    assert score.sensitivity == pytest.approx(1 / 3)
    assert score.detection_rate == pytest.approx(2 / 3)
    assert score.confusion()["intradiscal"] == {"missed": 1}

    truth_on_fill = _truth()
    truth_on_fill[CANAL_LEAK] = 1  # truth says the canal part is fill: the leak call is false
    score = score_case(json.loads(findings.to_json()), findings.label_volume(), truth_on_fill, 1.0)
    assert [leak["kind"] for leak in score.false_leaks] == ["fill called leak"]
    assert summarise([score])["fills_called_leak"] == 1


def test_cli_evaluate_scores_files_and_a_folder(tmp_path):
    scene, findings = _prediction()
    case = tmp_path / "cases" / "scene"
    case.mkdir(parents=True)
    findings.write_json(case / "findings.json")
    findings.write_labels(case / "labels.nii.gz")
    truth = sitk.GetImageFromArray(_truth(with_disc=True))
    truth.CopyInformation(scene.to_sitk())
    sitk.WriteImage(truth, str(case / "truth.nii.gz"))

    runner = CliRunner()
    result = runner.invoke(
        main,
        ["evaluate", str(case / "findings.json"), str(case / "labels.nii.gz"), str(case / "truth.nii.gz"), "--json", "-"],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["summary"]["required_leaks"] == 3
    assert scores["summary"]["sensitivity"] == pytest.approx(2 / 3)

    result = runner.invoke(main, ["evaluate", str(tmp_path / "cases")])
    assert result.exit_code == 0, result.output
    assert "scene: sensitivity 67%" in result.output

    result = runner.invoke(main, ["evaluate", str(case / "findings.json"), str(case / "labels.nii.gz")])
    assert result.exit_code == 2  # usage error
    (case / "broken.json").write_text("{not json")
    result = runner.invoke(
        main, ["evaluate", str(case / "broken.json"), str(case / "labels.nii.gz"), str(case / "truth.nii.gz")]
    )
    assert result.exit_code == 3 and "not valid JSON" in result.output


def test_a_small_leak_takes_the_location_covering_its_own_voxels():
    """A one-voxel plexus leak at the foot of an IVC cast: its one-voxel tolerance zone holds more
    IVC prediction than plexus, but its own voxel is predicted plexus -- that is its location."""
    from cementseg.vocabulary import LOCATION_CODES

    _, findings = _prediction()
    data = json.loads(findings.to_json())
    labels = findings.label_volume().copy()
    ivc = next(c for c in data["components"] if c["location"] == "inferior_vena_cava")
    plexus = dict(ivc, id=max(c["id"] for c in data["components"]) + 1, location="paravertebral_venous")
    data["components"].append(plexus)
    foot = (20, 22, 18)  # one voxel of the cast's lowest slice
    labels[foot] = plexus["id"]
    truth = _truth()
    truth[foot] = LOCATION_CODES["paravertebral_venous"]
    score = score_case(data, labels, truth, 1.0)
    by_location = {leak["location"]: leak for leak in score.truth_leaks}
    assert by_location["paravertebral_venous"]["predicted_location"] == "paravertebral_venous"
    assert by_location["inferior_vena_cava"]["predicted_location"] == "inferior_vena_cava"
