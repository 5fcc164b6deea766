"""The training port's contract (``platform.services.training``, a pipeline runner), over every implementation: the
in-memory fake, the kit's local pipeline executor on the session's moto server, the SageMaker Pipelines adapter
on the same server (moto stores the pipeline and the execution; it runs nothing), and the executor of ``cloud: gcp``
on Google's emulators (the definition in the GCS emulator, executions named as Vertex pipeline jobs). LocalStack's
free edition does not run SageMaker, so there is no LocalStack parameter.

The AWS-only shapes (a failed execution's steps and metadata, the start request) are checked against the botocore
Stubber with responses as SageMaker sends them.

Each test deploys a pipeline of its own: one processing step that runs ``python3 -c`` with a parameter.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from botocore.stub import Stubber

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.sagemaker_pipeline import SageMakerPipelines
from mlops.adapters.memory.training import MemoryPipelines
from mlops.platform import Platform
from mlops.ports.errors import NotFoundError
from mlops.ports.training import (
    ExecutionNotFoundError,
    PipelineExecution,
    PipelineNotFoundError,
    PipelineParameterError,
    PipelineRunner,
)

STATUSES = ("Executing", "Stopping", "Stopped", "Failed", "Succeeded")
ROLE = "arn:aws:iam::123456789012:role/contract-pipeline"
SCRIPT = "import sys; sys.exit(0 if sys.argv[1] else 3)"
DEFINITION = json.dumps(
    {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "Greeting", "Type": "String", "DefaultValue": "hello"},
            {"Name": "Skill", "Type": "Float", "DefaultValue": 0.5},
        ],
        "Steps": [
            {
                "Name": "Noop",
                "Type": "Processing",
                "Arguments": {
                    "AppSpecification": {
                        "ImageUri": "mlops-kit/training:local",
                        "ContainerEntrypoint": ["python3", "-c", SCRIPT],
                        "ContainerArguments": [{"Get": "Parameters.Greeting"}],
                    },
                    "ProcessingResources": {
                        "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
                    },
                    "RoleArn": ROLE,
                },
            }
        ],
    }
)


@dataclass
class Harness:
    runner: PipelineRunner
    deploy: Callable[[], str]  # deploys DEFINITION under a new name; returns the name
    execution_arn: Callable[[str, str], str]  # (pipeline, id) -> an execution ARN of this backend's shape


def _moto_deploy(clients: ClientFactory) -> Callable[[], str]:
    def deploy() -> str:
        name = f"contract-{secrets.token_hex(4)}"
        clients.client("sagemaker").create_pipeline(PipelineName=name, PipelineDefinition=DEFINITION, RoleArn=ROLE)
        return name

    return deploy


def _moto_arn(clients: ClientFactory) -> Callable[[str, str], str]:
    region = clients.settings.region
    return lambda pipeline, execution: (
        f"arn:aws:sagemaker:{region}:123456789012:pipeline/{pipeline}/execution/{execution}"
    )


@pytest.fixture(
    params=[
        "memory",
        pytest.param("local-moto", marks=pytest.mark.emulator),
        pytest.param("sagemaker-moto", marks=pytest.mark.emulator),
        pytest.param("local-gcp-emulator", marks=pytest.mark.server),
    ]
)
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        memory = MemoryPipelines()

        def deploy() -> str:
            name = f"contract-{secrets.token_hex(4)}"
            memory.deploy(name, DEFINITION)
            return name

        return Harness(memory, deploy, lambda p, e: f"arn:aws:sagemaker:memory:000000000000:pipeline/{p}/execution/{e}")
    if request.param == "local-gcp-emulator":
        return _gcp_harness(request)
    platform: Platform = request.getfixturevalue("platform")
    clients: ClientFactory = request.getfixturevalue("emulated_clients")
    if request.param == "local-moto":
        from mlops.local.pipeline_executor import local_pipeline_executor

        return Harness(local_pipeline_executor(platform), _moto_deploy(clients), _moto_arn(clients))
    # moto stores executions without running them and has no step listing (as the wiring knows)
    return Harness(SageMakerPipelines(clients, lists_steps=False), _moto_deploy(clients), _moto_arn(clients))


def _gcp_harness(request: pytest.FixtureRequest) -> Harness:
    """The executor ``auto`` gives ``cloud: gcp`` on the emulators, over a stack of three buckets of its own."""
    from mlops.local.vertex_training import deploy_definition, vertex_pipeline_executor
    from mlops.settings import Settings
    from mlops.wiring import container_platform

    settings: Settings = request.getfixturevalue("gcp_settings")
    suffix = secrets.token_hex(4)
    buckets = {f"{zone}_bucket": f"{zone}-{suffix}" for zone in ("models", "monitoring", "artifacts")}
    state = request.getfixturevalue("tmp_path")
    platform = container_platform(settings.model_copy(update={"state_dir": state}), **buckets, mlflow_tracking_uri="")
    for bucket in buckets.values():
        request.getfixturevalue("gcp_clients").storage().create_bucket(bucket)

    def deploy() -> str:
        name = f"contract-{secrets.token_hex(4)}"
        deploy_definition(platform.services.object_store, buckets["artifacts_bucket"], name, DEFINITION)
        return name

    gcp = settings.gcp
    return Harness(
        vertex_pipeline_executor(platform),
        deploy,
        lambda p, e: f"projects/{gcp.project}/locations/{gcp.location}/pipelineJobs/{p}-{e}",
    )


def test_start_runs_the_deployed_pipeline_with_the_given_parameters(harness: Harness) -> None:
    pipeline = harness.deploy()
    execution = harness.runner.start(pipeline, {"Greeting": "hi"}, display_name="contract-run")
    assert execution.pipeline == pipeline
    assert pipeline in execution.arn  # SageMaker's ARN .../pipeline/<name>/execution/<id>, Vertex's .../<name>-<id>
    assert execution.status in STATUSES
    assert execution.parameters["Greeting"] == "hi"
    assert execution.display_name == "contract-run"
    assert bool(execution.ended_at) == execution.finished


def test_describe_reads_back_the_same_execution(harness: Harness) -> None:
    pipeline = harness.deploy()
    started = harness.runner.start(pipeline, {"Greeting": "again", "Skill": "0.7"})
    described = harness.runner.describe(started.arn)
    assert (described.arn, described.pipeline, described.status) == (started.arn, pipeline, started.status)
    assert {k: described.parameters[k] for k in ("Greeting", "Skill")} == {"Greeting": "again", "Skill": "0.7"}
    other = harness.runner.start(pipeline, {})
    assert other.arn != started.arn


def test_an_unknown_pipeline_is_not_found(harness: Harness) -> None:
    with pytest.raises(PipelineNotFoundError) as caught:
        harness.runner.start(f"absent-{secrets.token_hex(4)}", {})
    assert isinstance(caught.value, NotFoundError)
    assert "absent-" in str(caught.value)


def test_a_parameter_the_definition_does_not_declare_is_refused(harness: Harness) -> None:
    pipeline = harness.deploy()
    with pytest.raises(PipelineParameterError, match="Unknown are not declared by"):
        harness.runner.start(pipeline, {"Greeting": "hi", "Unknown": "1"})


def test_an_unknown_execution_is_not_found(harness: Harness) -> None:
    pipeline = harness.deploy()
    arn = harness.execution_arn(pipeline, "000000000000")  # well-formed on every backend, never started
    with pytest.raises(ExecutionNotFoundError) as caught:
        harness.runner.describe(arn)
    assert isinstance(caught.value, NotFoundError)
    assert arn in str(caught.value)


# -- SageMaker's own answers (botocore Stubber) -------------------------------------------------------------------


class _StubbedClients:
    """A client factory holding one stubbed SageMaker client."""

    def __init__(self) -> None:
        import boto3

        self.sagemaker = boto3.session.Session(
            region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
        ).client("sagemaker")
        self.stubber = Stubber(self.sagemaker)

    def client(self, service: str) -> Any:
        assert service == "sagemaker"
        return self.sagemaker


EXECUTION_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/mlops-kit-prod-training/execution/k3j4h5g6f7d8"
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _describe_responses(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "describe_pipeline_execution",
        {
            "PipelineArn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/mlops-kit-prod-training",
            "PipelineExecutionArn": EXECUTION_ARN,
            "PipelineExecutionDisplayName": "card-transactions-mlops-train",
            "PipelineExecutionStatus": status,
            "FailureReason": "Step failure: One or multiple steps failed." if status == "Failed" else "",
            "CreationTime": WHEN,
            "LastModifiedTime": WHEN,
        },
        {"PipelineExecutionArn": EXECUTION_ARN},
    )
    stubber.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "MinQualitySkill", "Value": "0.1"}, {"Name": "DatasetVersion", "Value": "3"}]},
        {"PipelineExecutionArn": EXECUTION_ARN},
    )


def test_sagemaker_execution_steps_failure_and_metadata_are_read_as_sagemaker_reports_them() -> None:
    clients = _StubbedClients()
    _describe_responses(clients.stubber, "Failed")
    clients.stubber.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {
                    "StepName": "Train",
                    "StartTime": WHEN,
                    "EndTime": WHEN,
                    "StepStatus": "Succeeded",
                    "Metadata": {"TrainingJob": {"Arn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/t"}},
                },
                {
                    "StepName": "QualityBar",
                    "StepStatus": "Succeeded",
                    "Metadata": {"Condition": {"Outcome": "False"}},
                },
                {
                    "StepName": "QualityBarNotMet",
                    "StepStatus": "Failed",
                    "FailureReason": "model skill 0.02 is below MinQualitySkill 0.1",
                    "Metadata": {"Fail": {"ErrorMessage": "model skill 0.02 is below MinQualitySkill 0.1"}},
                },
            ]
        },
        {"PipelineExecutionArn": EXECUTION_ARN, "SortOrder": "Ascending"},
    )
    with clients.stubber:
        execution = SageMakerPipelines(cast(ClientFactory, clients)).describe(EXECUTION_ARN)
    assert execution == PipelineExecution(
        arn=EXECUTION_ARN,
        pipeline="mlops-kit-prod-training",
        status="Failed",
        parameters={"MinQualitySkill": "0.1", "DatasetVersion": "3"},
        display_name="card-transactions-mlops-train",
        failure_reason="Step failure: One or multiple steps failed.",
        started_at=WHEN.isoformat(),
        ended_at=WHEN.isoformat(),
        steps=execution.steps,
    )
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Train", "Succeeded"),
        ("QualityBar", "Succeeded"),
        ("QualityBarNotMet", "Failed"),
    ]
    assert execution.step("QualityBar").metadata == {"Condition": {"Outcome": "False"}}  # type: ignore[union-attr]
    failed = execution.step("QualityBarNotMet")
    assert failed.failure_reason == "model skill 0.02 is below MinQualitySkill 0.1"  # type: ignore[union-attr]
    assert failed.metadata == {"Fail": {"ErrorMessage": "model skill 0.02 is below MinQualitySkill 0.1"}}  # type: ignore[union-attr]
    clients.stubber.assert_no_pending_responses()


def test_sagemaker_start_checks_the_parameters_then_sends_them_sorted_with_a_valid_display_name() -> None:
    clients = _StubbedClients()
    definition = {"Parameters": [{"Name": "DatasetVersion"}, {"Name": "MinQualitySkill"}], "Steps": []}
    clients.stubber.add_response(
        "describe_pipeline",
        {"PipelineDefinition": json.dumps(definition)},
        {"PipelineName": "mlops-kit-prod-training"},
    )
    clients.stubber.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXECUTION_ARN},
        {
            "PipelineName": "mlops-kit-prod-training",
            "PipelineExecutionDisplayName": "card-transactions-mlops-train",
            "PipelineParameters": [
                {"Name": "DatasetVersion", "Value": "3"},
                {"Name": "MinQualitySkill", "Value": "0.1"},
            ],
        },
    )
    _describe_responses(clients.stubber, "Executing")
    clients.stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": []},
        {"PipelineExecutionArn": EXECUTION_ARN, "SortOrder": "Ascending"},
    )
    with clients.stubber:
        execution = SageMakerPipelines(cast(ClientFactory, clients)).start(
            "mlops-kit-prod-training",
            {"MinQualitySkill": "0.1", "DatasetVersion": "3"},
            display_name="card_transactions  mlops train",
        )
    assert (execution.status, execution.finished, execution.ended_at, execution.steps) == ("Executing", False, "", ())
    clients.stubber.assert_no_pending_responses()


def test_sagemaker_errors_are_named_by_condition() -> None:
    clients = _StubbedClients()
    clients.stubber.add_client_error(
        "describe_pipeline",
        "ResourceNotFound",
        "Pipeline 'gone' does not exist.",
        expected_params={"PipelineName": "gone"},
    )
    clients.stubber.add_client_error(
        "describe_pipeline_execution",
        "ResourceNotFound",
        "Pipeline execution does not exist.",
        expected_params={"PipelineExecutionArn": EXECUTION_ARN},
    )
    runner = SageMakerPipelines(cast(ClientFactory, clients))
    with clients.stubber:
        with pytest.raises(PipelineNotFoundError, match="SageMaker pipeline 'gone' does not exist"):
            runner.start("gone", {})
        with pytest.raises(ExecutionNotFoundError, match=f"pipeline execution {EXECUTION_ARN} does not exist"):
            runner.describe(EXECUTION_ARN)
