"""The local pipeline executor on a small hand-written definition, on the in-memory object store: processing steps
run their entry point in a subprocess under the ``/opt/ml/processing`` layout, the training step runs through the
local training runner, property files feed the condition, the branch not taken never starts, failures stop the
execution with the step's reason, and the record reads back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.local.pipeline_executor import DetachedControlPlane, LocalPipelineExecutor
from mlops.local.training_runner import LocalTrainingRunner
from mlops.ports.training import ExecutionNotFoundError, PipelineNotFoundError, PipelineParameterError

MAKE = """
import json, os, pathlib, sys
root = pathlib.Path(os.environ["MLOPS_PROCESSING_ROOT"])
if sys.argv[1] == "boom":
    print("make failed: boom", file=sys.stderr)
    sys.exit(1)
lines = sorted(p.read_text() for p in (root / "input" / "raw").rglob("*.txt"))
report = {"count": len(lines), "lines": lines, "greeting": sys.argv[1],
          "env": {k: os.environ.get(k) for k in ("STEP_ENV", "SHARED")}}
(root / "output" / "result" / "summary.json").write_text(json.dumps(report))
(root / "output" / "result" / "nested").mkdir()
(root / "output" / "result" / "nested" / "part.txt").write_text("x")
"""

FIT = """
import json, os, pathlib
root = pathlib.Path(os.environ["MLOPS_SM_ROOT"])
summary = json.loads((root / "input" / "data" / "train" / "summary.json").read_text())
hp = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
(root / "model" / "model.txt").write_text(hp["k"] + str(summary["count"]))
print("loss=0.25;")
"""

USE = """
import os, pathlib, tarfile
root = pathlib.Path(os.environ["MLOPS_PROCESSING_ROOT"])
with tarfile.open(root / "input" / "model" / "model.tar.gz") as tar:
    content = tar.extractfile("model.txt").read().decode()
(root / "output" / "used" / "model.txt").write_text(content)
"""


def _processing(name: str, script: str, arguments: list[Any], inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {"ContainerEntrypoint": ["python3", "-c", script], "ContainerArguments": arguments},
            "Environment": {"STEP_ENV": "step", "SHARED": "step"},
            "ProcessingInputs": [
                {
                    "InputName": n,
                    "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{n}", "S3DataType": "S3Prefix"},
                }
                for n, uri in inputs
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": n, "S3Output": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/output/{n}"}}
                    for n, uri in outputs
                ]
            },
            "RoleArn": {"Get": "Parameters.Role"},
        },
    }


def _under(prefix: str, *suffix: str) -> dict[str, Any]:
    return {
        "Std:Join": {
            "On": "",
            "Values": [{"Get": f"Parameters.{prefix}"}, {"Get": "Execution.PipelineExecutionId"}, "/", *suffix],
        }
    }


COUNT = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Make.PropertyFiles.Summary"}, "Path": "count"}}
MAKE_STEP = {
    **_processing(
        "Make",
        MAKE,
        [{"Get": "Parameters.Greeting"}],
        [("raw", {"Get": "Parameters.InputUri"})],
        [("result", _under("OutPrefix", "result/"))],
    ),
    "PropertyFiles": [{"PropertyFileName": "Summary", "OutputName": "result", "FilePath": "summary.json"}],
}
FIT_STEP = {
    "Name": "Fit",
    "Type": "Training",
    "Arguments": {
        "AlgorithmSpecification": {
            "TrainingImage": "kit:local",
            "ContainerEntrypoint": ["python3", "-c", FIT],
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+);"}],
        },
        "HyperParameters": {"k": {"Get": "Parameters.Greeting"}},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3Uri": {"Get": "Steps.Make.ProcessingOutputConfig.Outputs['result'].S3Output.S3Uri"}
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "memory://models/out/"},
        "RoleArn": {"Get": "Parameters.Role"},
    },
}
USE_STEP = _processing(
    "Use",
    USE,
    [],
    [("model", {"Get": "Steps.Fit.ModelArtifacts.S3ModelArtifacts"})],
    [("used", _under("OutPrefix", "used/"))],
)
STOP_STEP = {
    "Name": "Stop",
    "Type": "Fail",
    "Arguments": {
        "ErrorMessage": {
            "Std:Join": {"On": " ", "Values": ["count", COUNT, "is below", {"Get": "Parameters.Threshold"}]}
        }
    },
}
CHECK_STEP = {
    "Name": "Check",
    "Type": "Condition",
    "DependsOn": ["Fit"],  # it reads only Make's file; without this it could run before Fit
    "Arguments": {
        "Conditions": [
            {"Type": "GreaterThanOrEqualTo", "LeftValue": COUNT, "RightValue": {"Get": "Parameters.Threshold"}}
        ],
        "IfSteps": [USE_STEP],
        "ElseSteps": [STOP_STEP],
    },
}
DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [
        {"Name": "Role", "Type": "String", "DefaultValue": "arn:aws:iam::000000000000:role/unit"},
        {"Name": "InputUri", "Type": "String", "DefaultValue": "memory://data/in/"},
        {"Name": "OutPrefix", "Type": "String", "DefaultValue": "memory://data/out/"},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 1.5},
        {"Name": "Greeting", "Type": "String", "DefaultValue": "hello"},
    ],
    # out of order on purpose: the executor orders by the references
    "Steps": [CHECK_STEP, FIT_STEP, MAKE_STEP],
}


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore(("data", "models", "records"))
    store.put("data", "in/a.txt", b"alpha")
    store.put("data", "in/sub/b.txt", b"beta")
    store.put("data", "in-other/c.txt", b"not under the prefix in/")
    return store


def _executor(store: MemoryObjectStore, definition: dict[str, Any] = DEFINITION) -> LocalPipelineExecutor:
    return LocalPipelineExecutor(
        store=store,
        records_bucket="records",
        control=DetachedControlPlane({"unit": json.dumps(definition)}),
        jobs=LocalTrainingRunner(store, "models"),
        environment={"SHARED": "runtime"},
    )


def test_an_execution_runs_every_step_in_dependency_order_and_the_branch_its_condition_takes(
    store: MemoryObjectStore,
) -> None:
    executor = _executor(store)
    execution = executor.start("unit", {"Greeting": "hi"}, display_name="unit test")
    execution_id = execution.arn.rsplit("/", 1)[1]

    assert execution.status == "Succeeded", execution.failure_reason
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Make", "Succeeded"),
        ("Fit", "Succeeded"),
        ("Check", "Succeeded"),
        ("Use", "Succeeded"),
    ]
    assert execution.parameters == {
        "Role": "arn:aws:iam::000000000000:role/unit",
        "InputUri": "memory://data/in/",
        "OutPrefix": "memory://data/out/",
        "Threshold": "1.5",
        "Greeting": "hi",
    }
    summary = json.loads(store.get("data", f"out/{execution_id}/result/summary.json"))
    # inputs staged with their relative paths, nothing outside the prefix; arguments and parameters resolved;
    # the executor's environment overrides the step's own
    assert summary == {
        "count": 2,
        "lines": ["alpha", "beta"],
        "greeting": "hi",
        "env": {"STEP_ENV": "step", "SHARED": "runtime"},
    }
    assert store.get("data", f"out/{execution_id}/result/nested/part.txt") == b"x"
    assert execution.step("Check").metadata == {"Condition": {"Outcome": "True"}}  # type: ignore[union-attr]

    fit = execution.step("Fit")
    job_name = fit.metadata["TrainingJob"]["Arn"].rsplit("/", 1)[1]  # type: ignore[union-attr]
    record = LocalTrainingRunner(store, "models").describe(job_name)
    assert (record.status, record.metrics, record.hyperparameters) == ("Completed", {"loss": 0.25}, {"k": "hi"})
    assert record.model_artifact == f"memory://models/out/{job_name}/output/model.tar.gz"
    # the model the training step wrote reached the next step through ModelArtifacts.S3ModelArtifacts
    assert store.get("data", f"out/{execution_id}/used/model.txt") == b"hi2"

    assert executor.describe(execution.arn) == execution
    assert store.list_keys("records") == [f"pipeline-executions/unit/{execution_id}.json"]


def test_the_branch_not_taken_never_starts_and_a_fail_step_fails_the_execution(store: MemoryObjectStore) -> None:
    execution = _executor(store).start("unit", {"Threshold": "5"})
    assert execution.status == "Failed"
    assert [s.name for s in execution.steps] == ["Make", "Fit", "Check", "Stop"]
    assert execution.step("Check").metadata == {"Condition": {"Outcome": "False"}}  # type: ignore[union-attr]
    stop = execution.step("Stop")
    assert (stop.status, stop.failure_reason) == ("Failed", "count 2 is below 5.0")  # type: ignore[union-attr]
    assert stop.metadata == {"Fail": {"ErrorMessage": "count 2 is below 5.0"}}  # type: ignore[union-attr]
    assert execution.failure_reason == "step 'Stop' failed: count 2 is below 5.0"
    assert not [k for k in store.list_keys("data", "out/") if "/used/" in k]


def test_a_failing_step_stops_the_execution_with_the_entry_points_reason(store: MemoryObjectStore) -> None:
    executor = _executor(store)
    execution = executor.start("unit", {"Greeting": "boom"})
    assert (execution.status, [s.name for s in execution.steps]) == ("Failed", ["Make"])
    assert execution.failure_reason == "step 'Make' failed: make failed: boom (exit status 1)"
    execution_id = execution.arn.rsplit("/", 1)[1]
    assert execution.steps[0].metadata["ProcessingJob"]["Arn"].endswith(f"processing-job/pipelines-{execution_id}-make")
    assert store.list_keys("data", "out/") == []  # a failed job uploads nothing
    assert executor.describe(execution.arn).status == "Failed"


def test_an_input_with_no_objects_fails_the_step_that_reads_it(store: MemoryObjectStore) -> None:
    execution = _executor(store).start("unit", {"InputUri": "memory://data/absent/"})
    assert execution.failure_reason == "step 'Make' failed: input memory://data/absent/ holds no objects"


def test_an_object_key_escaping_the_input_directory_is_refused(store: MemoryObjectStore) -> None:
    store.put("data", "in/../../escaped.txt", b"x")
    execution = _executor(store).start("unit", {})
    assert execution.status == "Failed"
    assert (
        "object 'in/../../escaped.txt' of input memory://data/in/ would be staged outside" in execution.failure_reason
    )


def test_a_step_past_its_max_runtime_fails(store: MemoryObjectStore) -> None:
    slow = _processing("Slow", "import time; time.sleep(10)", [], [], [])
    slow["Arguments"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    definition = {**DEFINITION, "Steps": [slow]}
    execution = _executor(store, definition).start("unit", {})
    assert execution.failure_reason == "step 'Slow' failed: the job exceeded MaxRuntimeInSeconds (1) (exit status -1)"


def test_an_unsupported_step_type_fails_the_execution_naming_it(store: MemoryObjectStore) -> None:
    definition = {**DEFINITION, "Steps": [{"Name": "Pkg", "Type": "RegisterModel", "Arguments": {}}]}
    execution = _executor(store, definition).start("unit", {})
    assert execution.status == "Failed"
    assert "step type 'RegisterModel' is not supported by the local executor" in execution.failure_reason


def test_bad_parameters_an_unknown_pipeline_or_execution_are_refused_before_anything_runs(
    store: MemoryObjectStore,
) -> None:
    executor = _executor(store)
    with pytest.raises(PipelineParameterError, match="Nope are not declared by the pipeline"):
        executor.start("unit", {"Nope": "x"})
    with pytest.raises(PipelineParameterError, match="parameter 'Threshold' is a Float; 'high' is not"):
        executor.start("unit", {"Threshold": "high"})
    with pytest.raises(PipelineNotFoundError, match="pipeline 'other' is not defined"):
        executor.start("other", {})
    assert store.list_keys("records") == []
    with pytest.raises(ExecutionNotFoundError, match="no record of pipeline execution"):
        executor.describe("arn:aws:sagemaker:local:000000000000:pipeline/unit/execution/nothere")
    with pytest.raises(ExecutionNotFoundError, match="is not a pipeline execution ARN"):
        executor.describe("arn:aws:sagemaker:local:000000000000:training-job/x")
