"""The committed SageMaker Pipeline definition is what the code renders from the step graph; its steps, gate and
registration (through the registry service, only behind the quality bar)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import pytest

from mlops.contracts import UNBOUND
from pipelines.training import graph
from pipelines.training.graph import STACK_BOUND
from pipelines.training.hyperparameters import Hyperparameters, parse_hyperparameters
from pipelines.training.pipeline_definition import config_validated_once, render

COMMITTED = Path(__file__).resolve().parents[3] / "pipelines" / "training" / "pipeline_definition.json"


@cache
def _render_counted() -> tuple[str, int]:
    """One render for the module (~5 CPU-s), and how many times the SDK checked a config against its schema."""
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    with mock.patch.object(jsonschema, "validate", wraps=jsonschema.validate) as validate:
        text = render()
    checks = sum(1 for call in validate.call_args_list if call.args[1] is SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    return text, checks


def _rendered() -> str:
    return _render_counted()[0]


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_rendered())
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
    """Steps this one reads from (``Steps.<name>.`` references) or explicitly depends on; a condition's branches are
    steps of their own."""
    text = json.dumps({k: v for k, v in step["Arguments"].items() if k not in ("IfSteps", "ElseSteps")})
    return set(re.findall(r'"Steps\.(\w+)\.', text)) | set(step.get("DependsOn", []))


def test_committed_definition_equals_a_fresh_render() -> None:
    assert COMMITTED.read_text() == _rendered(), "run `mlops train pipeline-definition` and commit the file"


def test_a_render_checks_the_sdk_config_against_its_schema_once_not_at_every_look_up() -> None:
    # The session's own check and one for the config of the look-ups: 59 checks (11 CPU-s) before.
    assert _render_counted()[1] == 2


def test_a_config_not_checked_yet_is_still_refused_and_the_sdk_is_restored_after() -> None:
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    good = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    with config_validated_once():
        SageMakerConfig.validate_sagemaker_config(good)
        SageMakerConfig.validate_sagemaker_config(good)
        with pytest.raises(jsonschema.ValidationError, match="Bogus"):
            SageMakerConfig.validate_sagemaker_config({"SchemaVersion": "1.0", "SageMaker": {"Bogus": 1}})
    assert SageMakerConfig.__dict__["validate_sagemaker_config"] is original


def test_step_graph_names_types_and_data_dependencies() -> None:
    steps = _steps()
    assert [s["Name"] for s in _document()["Steps"]] == ["Prepare", "Train", "Evaluate", "QualityBar"]
    assert {name: s["Type"] for name, s in steps.items()} == {
        "Prepare": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "QualityBar": "Condition",
        "Register": "Processing",
        "QualityBarNotMet": "Fail",
    }
    assert _upstream(steps["Prepare"]) == set()
    assert _upstream(steps["Train"]) == {"Prepare"}
    assert _upstream(steps["Evaluate"]) == {"Prepare", "Train"}
    assert _upstream(steps["QualityBar"]) == {"Evaluate"}
    assert _upstream(steps["Register"]) == {"Prepare", "Train", "Evaluate"}
    entry = {
        n: steps[n]["Arguments"]["AppSpecification"]["ContainerEntrypoint"] for n in ("Prepare", "Evaluate", "Register")
    }
    assert entry == {
        "Prepare": ["python3", "-m", "pipelines.training.prepare"],
        "Evaluate": ["python3", "-m", "pipelines.training.evaluate"],
        "Register": ["python3", "-m", "pipelines.training.register_step"],
    }
    algorithm = steps["Train"]["Arguments"]["AlgorithmSpecification"]
    assert algorithm["ContainerEntrypoint"] == ["python3", "-m", "pipelines.training.entry_point"]
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


def test_the_rendered_definition_is_the_graph_and_nothing_else() -> None:
    """Every step of the graph is in the JSON with the graph's dependencies and entry module, and vice versa."""
    steps = _steps()
    assert set(steps) == {s.name for s in graph.all_steps()}
    for step in graph.all_steps():
        assert _upstream(steps[step.name]) == graph.upstream(step), step.name
        if isinstance(step, graph.Processing):
            rendered = steps[step.name]["Arguments"]
            assert rendered["AppSpecification"]["ContainerEntrypoint"][-1] == step.module
            assert [i["InputName"] for i in rendered["ProcessingInputs"]] == [i.name for i in step.inputs]
            assert [o["OutputName"] for o in rendered["ProcessingOutputConfig"]["Outputs"]] == [
                o.name for o in step.outputs
            ]
    assert [p["Name"] for p in _document()["Parameters"]] == [p.name for p in graph.PARAMETERS]
    assert graph.parameters_used() <= {p.name for p in graph.PARAMETERS}


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
    assert steps["QualityBarNotMet"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"][0] == "model skill"


def test_nothing_registers_a_model_except_the_step_behind_the_quality_bar() -> None:
    """No SDK registration step anywhere; the registry is reached only by Register, only in the gate's if branch."""
    text = json.dumps(_document())
    assert '"RegisterModel"' not in text and '"Model"' not in text
    registering = [
        name
        for name, step in _steps().items()
        if "register_step" in json.dumps(step["Arguments"].get("AppSpecification", {}))
    ]
    assert registering == ["Register"]
    assert "Register" not in [s["Name"] for s in _document()["Steps"]]  # not reachable without the gate


def test_registration_gets_the_stack_values_and_the_lineage_as_arguments() -> None:
    register = _steps()["Register"]["Arguments"]
    arguments = register["AppSpecification"]["ContainerArguments"]
    given = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert given == {
        "--training-job": {"Get": "Steps.Train.TrainingJobName"},
        "--training-job-arn": {"Get": "Steps.Train.TrainingJobArn"},
        "--model-artifact": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        "--holdout-uri": {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"},
        "--image": {"Get": "Parameters.InferenceImage"},
        "--code-version": {"Get": "Parameters.CodeVersion"},
        "--pipeline-execution": {"Get": "Execution.PipelineExecutionArn"},
        "--model-package-group": {"Get": "Parameters.ModelPackageGroup"},
        "--mlflow-tracking-uri": {"Get": "Parameters.MlflowTrackingUri"},
        "--models-bucket": {"Get": "Parameters.ModelsBucket"},
    }
    assert register["Environment"]["MLOPS_TARGET"] == "aws"
    assert register["Environment"]["MLOPS_REGION"] == {"Get": "Parameters.Region"}
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in register["ProcessingInputs"]}
    assert inputs == {
        "model": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        "split": {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['split'].S3Output.S3Uri"},
        "evaluation": {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
    }


def test_every_hyperparameter_is_a_parameter_whose_default_is_the_entry_points_own() -> None:
    defaults = {p["Name"]: p["DefaultValue"] for p in _document()["Parameters"]}
    hyperparameters = _steps()["Train"]["Arguments"]["HyperParameters"]
    raw = {key: defaults[hyperparameters[key]["Get"].removeprefix("Parameters.")] for key in hyperparameters}
    assert parse_hyperparameters(raw) == Hyperparameters()
    evaluate_arguments = _steps()["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert evaluate_arguments[-2:] == ["--target-precision", {"Get": "Parameters.TargetPrecision"}]


def test_a_dangling_reference_in_the_graph_is_refused() -> None:
    reads_later = graph.Processing("Early", "m", (graph.Input("x", graph.OutputUri("Late", "out")),), (), ())
    late = graph.Processing("Late", "m", (), (graph.Output("out", graph.Param("TrainUri")),), ())
    with pytest.raises(ValueError, match="reads step 'Late', which is not defined before it"):
        graph.check_graph((reads_later, late))
    unknown_output = graph.Processing("Next", "m", (graph.Input("x", graph.OutputUri("Late", "nope")),), (), ())
    with pytest.raises(ValueError, match="reads output 'nope' that step 'Late' does not write"):
        graph.check_graph((late, unknown_output))
    with pytest.raises(ValueError, match="reads undeclared parameter 'Nope'"):
        graph.check_graph((graph.Fail("F", graph.Param("Nope")),))
    graph.check_graph()


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


def test_every_job_is_encrypted_placed_in_the_vpc_and_isolated_unless_it_needs_the_network() -> None:
    """The stack's key on volumes and outputs, its subnets and the jobs' group, encrypted inter-node traffic; only
    Register (MLflow, the SageMaker API) may call out. The values are stack-bound parameters."""
    key, output_key = {"Get": "Parameters.VolumeKmsKeyId"}, {"Get": "Parameters.OutputKmsKeyId"}
    vpc = {
        "SecurityGroupIds": [{"Get": "Parameters.SecurityGroupId"}],
        "Subnets": [{"Get": "Parameters.SubnetIdA"}, {"Get": "Parameters.SubnetIdB"}],
    }
    steps = _steps()
    jobs = [name for name, step in steps.items() if step["Type"] in ("Processing", "Training")]
    assert sorted(jobs) == ["Evaluate", "Prepare", "Register", "Train"]
    isolated: dict[str, bool] = {}
    for name in jobs:
        arguments = steps[name]["Arguments"]
        if steps[name]["Type"] == "Processing":
            assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key, name
            assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == output_key, name
            network = arguments["NetworkConfig"]
            assert (network["VpcConfig"], network["EnableInterContainerTrafficEncryption"]) == (vpc, True), name
            isolated[name] = network["EnableNetworkIsolation"]
        else:
            assert arguments["ResourceConfig"]["VolumeKmsKeyId"] == key
            assert arguments["OutputDataConfig"]["KmsKeyId"] == output_key
            assert (arguments["VpcConfig"], arguments["EnableInterContainerTrafficEncryption"]) == (vpc, True)
            isolated[name] = arguments["EnableNetworkIsolation"]
    assert isolated == {"Prepare": True, "Train": True, "Evaluate": True, "Register": False}
    jobs_in_graph = [s for s in graph.all_steps() if isinstance(s, graph.Processing | graph.Training)]
    assert {step.name: not step.needs_network for step in jobs_in_graph} == isolated
    security = {"VolumeKmsKeyId", "OutputKmsKeyId", "SubnetIdA", "SubnetIdB", "SecurityGroupId"}
    assert security <= set(STACK_BOUND) and security <= graph.parameters_used()
