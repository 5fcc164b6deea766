"""The committed SageMaker Pipeline definition is what the code renders; its step graph, gate and registration."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from mlops.contracts import UNBOUND
from pipelines.training.pipeline_definition import STACK_BOUND, render

COMMITTED = Path(__file__).resolve().parents[3] / "pipelines" / "training" / "pipeline_definition.json"


@cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render())
    return loaded


def _steps() -> dict[str, dict[str, Any]]:
    """Every step by name, the condition's branches included."""
    found: dict[str, dict[str, Any]] = {}
    for step in _document()["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step["Arguments"].get(branch, []):
                found[inner["Name"]] = inner
    return found


def _upstream(step: dict[str, Any]) -> set[str]:
    """Steps this one reads from (``Steps.<name>.`` references) or explicitly depends on."""
    text = json.dumps(step["Arguments"])
    return set(re.findall(r'"Steps\.(\w+)\.', text)) | set(step.get("DependsOn", []))


def test_committed_definition_equals_a_fresh_render() -> None:
    assert COMMITTED.read_text() == render(), "run `mlops train pipeline-definition` and commit the file"


def test_step_graph_names_types_and_data_dependencies() -> None:
    steps = _steps()
    assert [s["Name"] for s in _document()["Steps"]] == ["Prepare", "Train", "Evaluate", "QualityBar"]
    assert {name: s["Type"] for name, s in steps.items()} == {
        "Prepare": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "QualityBar": "Condition",
        "Register": "RegisterModel",
        "QualityBarNotMet": "Fail",
    }
    assert _upstream(steps["Prepare"]) == set()
    assert _upstream(steps["Train"]) == {"Prepare"}
    assert _upstream(steps["Evaluate"]) == {"Prepare", "Train"}
    assert _upstream(steps["Register"]) == {"Prepare", "Train", "Evaluate"}
    entry = {n: steps[n]["Arguments"]["AppSpecification"]["ContainerEntrypoint"] for n in ("Prepare", "Evaluate")}
    assert entry == {
        "Prepare": ["python3", "-m", "pipelines.training.prepare"],
        "Evaluate": ["python3", "-m", "pipelines.training.evaluate"],
    }
    channels = steps["Train"]["Arguments"]["InputDataConfig"]
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels] == [
        {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"},
    ]
    model_input = steps["Evaluate"]["Arguments"]["ProcessingInputs"][0]
    assert (model_input["InputName"], model_input["S3Input"]["S3Uri"]) == (
        "model",
        {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
    )


def test_the_condition_gates_registration_on_the_evaluation_skill() -> None:
    steps = _steps()
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"FilePath": "evaluation.json", "OutputName": "evaluation", "PropertyFileName": "Evaluation"}
    ]
    gate = steps["QualityBar"]["Arguments"]
    assert gate["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": {
                "Std:JsonGet": {
                    "Path": "quality.skill",
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
                }
            },
            "RightValue": {"Get": "Parameters.MinQualitySkill"},
        }
    ]
    assert [s["Name"] for s in gate["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["QualityBarNotMet"]


def test_registration_targets_the_group_parameter_pending_manual_approval() -> None:
    register = _steps()["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == {"Get": "Parameters.ModelPackageGroup"}
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == {"Get": "Parameters.InferenceImage"}
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"]["Std:Join"]["Values"] == [
        {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        "evaluation.json",
    ]
    assert register["CustomerMetadataProperties"]["dataset_version"] == {
        "Std:JsonGet": {"Path": "dataset_version", "PropertyFile": {"Get": "Steps.Prepare.PropertyFiles.Split"}}
    }


def test_role_image_and_locations_are_parameters_not_values() -> None:
    steps = _steps()
    for name in ("Prepare", "Train", "Evaluate"):
        assert steps[name]["Arguments"]["RoleArn"] == {"Get": "Parameters.ExecutionRoleArn"}, name
    train = steps["Train"]["Arguments"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == {"Get": "Parameters.TrainingImage"}
    assert train["OutputDataConfig"]["S3OutputPath"] == {"Get": "Parameters.ModelOutputUri"}
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["Prepare"]["Arguments"]["ProcessingInputs"]}
    assert inputs == {
        "definition": {"Get": "Parameters.DatasetDefinitionUri"},
        "features": {"Get": "Parameters.FeatureTableUri"},
    }
    # every output lands under its parameter's prefix, in a folder of the execution
    train_output = steps["Prepare"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert train_output == {
        "Std:Join": {
            "On": "",
            "Values": [{"Get": "Parameters.TrainUri"}, {"Get": "Execution.PipelineExecutionId"}, "/"],
        }
    }
    defaults = {p["Name"]: p.get("DefaultValue") for p in _document()["Parameters"]}
    assert [name for name, value in defaults.items() if value == UNBOUND] == list(STACK_BOUND)
    assert "arn:aws" not in json.dumps(_document())
