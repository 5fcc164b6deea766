"""SageMaker deployment requests: per-version names, blue/green with auto-rollback, create vs update."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops.outputs import StackOutputs
from serving.deploy import blue_green_config, deploy_to_sagemaker, names_for
from serving.errors import DeploymentError

_VALUES: dict[str, Any] = dict(
    sagemaker_model_name="kit-model",
    endpoint_config_name="kit-config",
    endpoint_name="kit-endpoint",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/kit-sagemaker",
    data_capture_prefix="s3://kit-monitoring/data-capture",
    alarm_names={"endpoint_errors": "kit-endpoint-errors", "endpoint_latency": "kit-endpoint-latency"},
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


def _client() -> object:
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(
        "sagemaker"
    )


def test_names_and_rollback_alarms_come_from_the_outputs() -> None:
    names = names_for(OUTPUTS, "7")
    assert (names.model, names.endpoint_config, names.endpoint) == ("kit-model-v7", "kit-config-v7", "kit-endpoint")
    assert blue_green_config(OUTPUTS) == ROLLBACK


def test_existing_endpoint_is_updated_blue_green_with_auto_rollback() -> None:
    client = _client()
    names = names_for(OUTPUTS, "7")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_model",
            {
                "ModelName": "kit-model-v7",
                "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/kit-model-v7",
                "CreationTime": 0,
                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/kit-sagemaker",
            },
            {"ModelName": "kit-model-v7"},
        )
        stub.add_client_error("describe_endpoint_config", "ValidationException", "Could not find endpoint config")
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/kit-config-v7"},
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "kit-endpoint",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/kit-endpoint",
                "EndpointStatus": "InService",
                "CreationTime": 0,
                "LastModifiedTime": 0,
            },
            {"EndpointName": "kit-endpoint"},
        )
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/kit-endpoint"},
            {"EndpointName": "kit-endpoint", "EndpointConfigName": "kit-config-v7", "DeploymentConfig": ROLLBACK},
        )
        assert deploy_to_sagemaker(client, OUTPUTS, names, "img", {}) == "updated"
        stub.assert_no_pending_responses()


def test_aws_errors_name_the_endpoint() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("describe_model", "AccessDeniedException", "not allowed to describe")
        with pytest.raises(
            DeploymentError,
            match=r"^deploying kit-model-v7 to endpoint 'kit-endpoint' failed: not allowed to describe$",
        ):
            deploy_to_sagemaker(client, OUTPUTS, names_for(OUTPUTS, "7"), "img", {})
