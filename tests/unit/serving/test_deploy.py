"""Deployment: the spec serving builds (per-version names, the container, blue/green with auto-rollback), the
SageMaker hosting adapter's calls (create vs update, status, stop, model packages) checked with botocore's
Stubber. A whole deploy through the wiring on the in-memory hosting is in tests/integration/serving (it trains and
registers a model in MLflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.sagemaker_hosting import SageMakerHosting
from mlops.errors import ConfigError
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.hosting import Deployment, HostingError, HostingNotFoundError
from mlops.settings import load_settings
from mlops.wiring import build_platform
from serving.deploy import blue_green_config, deploy_model, hosting_spec, names_for, serving_container
from serving.errors import DeploymentError

ACCOUNT = "arn:aws:sagemaker:us-east-1:123456789012"
_VALUES: dict[str, Any] = dict(
    sagemaker_model_name="kit-model",
    endpoint_config_name="kit-config",
    endpoint_name="kit-endpoint",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/kit-sagemaker",
    data_capture_prefix="s3://kit-monitoring/data-capture",
    alarm_names={"endpoint_errors": "kit-endpoint-errors", "endpoint_latency": "kit-endpoint-latency"},
    mlflow_tracking_uri="sqlite:////tmp/unused-mlflow.db",
    online_feature_table="kit-online",
    model_package_group="kit-models",
    metrics_namespace="Kit",
)
OUTPUTS = StackOutputs.model_construct(**_VALUES)
ROLLBACK = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            "WaitIntervalInSeconds": 300,
        },
        "TerminationWaitInSeconds": 600,
        "MaximumExecutionTimeoutInSeconds": 3600,
    },
    "AutoRollbackConfiguration": {
        "Alarms": [{"AlarmName": "kit-endpoint-errors"}, {"AlarmName": "kit-endpoint-latency"}]
    },
}


def _aws_platform() -> Platform:
    settings = load_settings(target="aws", region="us-east-1", services={"endpoint": {"type": "sagemaker"}})
    return build_platform(settings, OUTPUTS)


def _sagemaker() -> tuple[SageMakerHosting, Any]:
    """The adapter over a client factory whose (cached) sagemaker client the test stubs."""
    clients = ClientFactory(load_settings(target="aws", region="us-east-1"))
    return SageMakerHosting(clients), clients.client("sagemaker")


def _described_model(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ModelArn": f"{ACCOUNT}:model/{name}",
        "CreationTime": 0,
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/kit-sagemaker",
        "PrimaryContainer": {"Image": "img", "Environment": env or {}},
    }


def _described_endpoint(config: str, status: str = "InService") -> dict[str, Any]:
    return {
        "EndpointName": "kit-endpoint",
        "EndpointArn": f"{ACCOUNT}:endpoint/kit-endpoint",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": 0,
        "LastModifiedTime": 0,
    }


def test_names_and_rollback_alarms_come_from_the_outputs() -> None:
    names = names_for(OUTPUTS, "7")
    assert (names.model, names.endpoint_config, names.endpoint) == ("kit-model-v7", "kit-config-v7", "kit-endpoint")
    assert blue_green_config(OUTPUTS) == ROLLBACK


def test_the_spec_carries_the_requests_sagemaker_gets_and_the_container_a_runner_starts() -> None:
    spec = hosting_spec(_aws_platform(), "card_transactions", "7", "123.dkr.ecr/serving:1")
    environment = {
        "SERVING_MODEL_URI": "models:/card_transactions/7",
        "MLFLOW_TRACKING_URI": "sqlite:////tmp/unused-mlflow.db",
        "SERVING_DATASET": "card_transactions",
        "SERVING_ONLINE_TABLE": "kit-online",
        "SERVING_RESPONSE_FORMAT": "kit",
        "SERVING_MODEL_ENGINE": "auto",
        "SAGEMAKER_BIND_TO_PORT": "8080",
        "MLOPS_TARGET": "aws",
        "MLOPS_REGION": "us-east-1",
    }
    assert (spec.endpoint, spec.version, spec.model_uri) == ("kit-endpoint", "7", "models:/card_transactions/7")
    assert spec.model_request == {
        "ModelName": "kit-model-v7",
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/kit-sagemaker",
        "PrimaryContainer": {"Image": "123.dkr.ecr/serving:1", "Environment": environment},
    }
    assert spec.endpoint_config_request["EndpointConfigName"] == "kit-config-v7"
    assert spec.endpoint_config_request["ProductionVariants"][0]["ModelName"] == "kit-model-v7"
    assert spec.endpoint_config_request["DataCaptureConfig"]["DestinationS3Uri"] == "s3://kit-monitoring/data-capture"
    assert spec.deployment_config == ROLLBACK
    assert (spec.image, spec.instance_count) == ("123.dkr.ecr/serving:1", 1)  # what every cloud's hosting reads
    assert (spec.container.module, spec.container.environment) == ("serving", environment)
    # local-only: where the definitions are; never part of what SageMaker gets
    assert Path(spec.container.extra_environment["SERVING_DATASETS_DIR"]).is_absolute()


def test_the_stacks_endpoint_settings_choose_the_answer_and_the_engine_of_the_endpoint_not_of_batch() -> None:
    """An endpoint answering as `mlflow models serve` does, on the plain estimator: what the endpoint's container
    gets; the batch transform's container of the same stack still answers the kit's way (batch parses it)."""
    endpoint = {"type": "sagemaker", "response_format": "mlflow", "model_engine": "plain"}
    settings = load_settings(target="aws", region="us-east-1", services={"endpoint": endpoint})
    platform = build_platform(settings, OUTPUTS)
    spec = hosting_spec(platform, "card_transactions", "7", "img")
    chosen = {k: spec.container.environment[k] for k in ("SERVING_RESPONSE_FORMAT", "SERVING_MODEL_ENGINE")}
    assert chosen == {"SERVING_RESPONSE_FORMAT": "mlflow", "SERVING_MODEL_ENGINE": "plain"}
    assert spec.model_request["PrimaryContainer"]["Environment"] == spec.container.environment
    batch = serving_container(platform, "card_transactions", "models:/card_transactions/7")
    assert batch.environment["SERVING_RESPONSE_FORMAT"] == "kit"
    assert batch.environment["SERVING_MODEL_ENGINE"] == "plain"


def test_an_unknown_response_format_names_the_setting() -> None:
    with pytest.raises(
        ConfigError, match=r"services\.endpoint\.response_format.*MLOPS_SERVICES__ENDPOINT__RESPONSE_FORMAT"
    ):
        load_settings(target="aws", services={"endpoint": {"response_format": "csv"}})


def test_existing_endpoint_is_updated_blue_green_with_auto_rollback() -> None:
    hosting, client = _sagemaker()
    spec = hosting_spec(_aws_platform(), "card_transactions", "7", "img")
    with Stubber(client) as stub:
        stub.add_response("describe_model", _described_model("kit-model-v7"), {"ModelName": "kit-model-v7"})
        stub.add_client_error("describe_endpoint_config", "ValidationException", "Could not find endpoint config")
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": f"{ACCOUNT}:endpoint-config/kit-config-v7"},
            spec.endpoint_config_request,
        )
        stub.add_response("describe_endpoint", _described_endpoint("kit-config-v6"), {"EndpointName": "kit-endpoint"})
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": f"{ACCOUNT}:endpoint/kit-endpoint"},
            {"EndpointName": "kit-endpoint", "EndpointConfigName": "kit-config-v7", "DeploymentConfig": ROLLBACK},
        )
        deployment = hosting.deploy(spec)
        stub.assert_no_pending_responses()
    assert deployment == Deployment(
        endpoint="kit-endpoint",
        status="Updating",
        version="7",
        model_uri="models:/card_transactions/7",
        model="kit-model-v7",
        endpoint_config="kit-config-v7",
        action="updated",
    )


def test_the_first_deployment_creates_model_config_and_endpoint() -> None:
    hosting, client = _sagemaker()
    spec = hosting_spec(_aws_platform(), "card_transactions", "1", "img")
    with Stubber(client) as stub:
        stub.add_client_error("describe_model", "ValidationException", "Could not find model")
        stub.add_response("create_model", {"ModelArn": f"{ACCOUNT}:model/kit-model-v1"}, spec.model_request)
        stub.add_client_error("describe_endpoint_config", "ValidationException", "Could not find endpoint config")
        config_arn = {"EndpointConfigArn": f"{ACCOUNT}:endpoint-config/kit-config-v1"}
        stub.add_response("create_endpoint_config", config_arn, spec.endpoint_config_request)
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        stub.add_response(
            "create_endpoint",
            {"EndpointArn": f"{ACCOUNT}:endpoint/kit-endpoint"},
            {"EndpointName": "kit-endpoint", "EndpointConfigName": "kit-config-v1"},
        )
        deployment = hosting.deploy(spec)
        stub.assert_no_pending_responses()
    assert (deployment.action, deployment.status, deployment.version) == ("created", "Creating", "1")


def test_aws_errors_name_the_endpoint() -> None:
    hosting, client = _sagemaker()
    with Stubber(client) as stub:
        stub.add_client_error("describe_model", "AccessDeniedException", "not allowed to describe")
        with pytest.raises(
            DeploymentError,
            match=r"^deploying kit-model-v7 to endpoint 'kit-endpoint' failed: not allowed to describe$",
        ) as raised:
            hosting.deploy(hosting_spec(_aws_platform(), "card_transactions", "7", "img"))
    assert isinstance(raised.value, HostingError)


def test_status_reads_the_served_version_from_the_endpoints_model() -> None:
    hosting, client = _sagemaker()
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _described_endpoint("kit-config-v7", "Updating"))
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "kit-config-v7",
                "EndpointConfigArn": f"{ACCOUNT}:endpoint-config/kit-config-v7",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "kit-model-v7"}],
                "CreationTime": 0,
            },
            {"EndpointConfigName": "kit-config-v7"},
        )
        stub.add_response(
            "describe_model",
            _described_model("kit-model-v7", {"SERVING_MODEL_URI": "models:/card_transactions/7"}),
            {"ModelName": "kit-model-v7"},
        )
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        assert hosting.status("kit-endpoint") == Deployment(
            endpoint="kit-endpoint",
            status="Updating",
            version="7",
            model_uri="models:/card_transactions/7",
            model="kit-model-v7",
            endpoint_config="kit-config-v7",
        )
        assert hosting.status("kit-endpoint") is None


def test_status_reports_variants_weights_and_an_automatic_rollback() -> None:
    hosting, client = _sagemaker()
    described = {
        **_described_endpoint("kit-config-v6"),
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "CurrentWeight": 1.0, "DesiredWeight": 1.0, "CurrentInstanceCount": 1}
        ],
        "LastDeploymentConfig": ROLLBACK,
        "FailureReason": "Update was rolled back: alarm kit-endpoint-errors went into ALARM during the canary",
    }
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", described)
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "kit-config-v6",
                "EndpointConfigArn": f"{ACCOUNT}:endpoint-config/kit-config-v6",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "kit-model-v6"}],
                "CreationTime": 0,
            },
        )
        stub.add_response("describe_model", _described_model("kit-model-v6", {"SERVING_MODEL_URI": "models:/d/6"}))
        status = hosting.status("kit-endpoint")
    assert status is not None and status.version == "6"
    assert status.fleets == ({"variant": "AllTraffic", "weight": 1.0, "desired_weight": 1.0, "instances": 1},)
    assert status.rollout is not None and status.rollout["rolled_back"] is True
    assert status.rollout["traffic_routing"] == "CANARY" and "went into ALARM" in status.rollout["reason"]
    assert status.rollout["alarms"] == ["kit-endpoint-errors", "kit-endpoint-latency"]


def test_stop_deletes_the_endpoint_and_says_what_served() -> None:
    hosting, client = _sagemaker()
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _described_endpoint("kit-config-v7"))
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "kit-config-v7",
                "EndpointConfigArn": f"{ACCOUNT}:endpoint-config/kit-config-v7",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "kit-model-v7"}],
                "CreationTime": 0,
            },
        )
        stub.add_response("describe_model", _described_model("kit-model-v7", {"SERVING_MODEL_URI": "models:/m/7"}))
        stub.add_response("delete_endpoint", {}, {"EndpointName": "kit-endpoint"})
        stopped = hosting.stop("kit-endpoint")
        stub.assert_no_pending_responses()
    assert stopped is not None
    assert (stopped.status, stopped.version, stopped.endpoint_config) == ("Deleting", "7", "kit-config-v7")


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        (
            {"Image": "img", "Environment": {"MLFLOW_MODEL_URI": "models:/m/3"}, "ModelDataUrl": "s3://b/3"},
            "models:/m/3",
        ),
        ({"Image": "img", "ModelDataUrl": "s3://kit-models/m/3/model"}, "s3://kit-models/m/3/model"),
    ],
)
def test_a_model_package_names_the_model_it_deploys(container: dict[str, Any], expected: str) -> None:
    hosting, client = _sagemaker()
    arn = f"{ACCOUNT}:model-package/kit-models/3"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_model_package",
            {
                "ModelPackageName": "kit-models",
                "ModelPackageArn": arn,
                "CreationTime": 0,
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "InferenceSpecification": {
                    "Containers": [container],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            },
            {"ModelPackageName": arn},
        )
        assert hosting.model_uri_of_package(arn) == expected


def test_an_unknown_model_package_is_not_found() -> None:
    hosting, client = _sagemaker()
    arn = f"{ACCOUNT}:model-package/kit-models/99"
    with Stubber(client) as stub:
        stub.add_client_error("describe_model_package", "ValidationException", "Model package not found")
        with pytest.raises(HostingNotFoundError, match=r"model package '.*kit-models/99' does not exist"):
            hosting.model_uri_of_package(arn)


def test_deploying_where_the_hosting_has_no_image_needs_one() -> None:
    needs = r"needs the serving image: pass --image-uri \(the serving image in the cloud.s registry: ECR, Artifact"
    with pytest.raises(DeploymentError, match=needs + r" Registry\)$"):
        deploy_model(_aws_platform(), "card_transactions", "7")
