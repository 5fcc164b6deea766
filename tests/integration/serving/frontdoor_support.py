"""Helpers of the front door and deployment tests: a stand-in model (``tests.support.toy_model``) deployed through
the local hosting, boto3 clients on the kit's one endpoint URL, rollback alarms in the emulator."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from mlops.local.clients import clients_of
from mlops.platform import Platform
from mlops.ports.hosting import Container, HostingSpec

TOY_MODULE = "tests.support.toy_model"
VARIANT = "AllTraffic"


def toy_spec(
    platform: Platform,
    endpoint: str,
    version: str,
    *,
    env: dict[str, str] | None = None,
    deployment_config: dict[str, Any] | None = None,
    capture: dict[str, Any] | None = None,
) -> HostingSpec:
    """The spec of stand-in model ``version`` at ``endpoint``, with SageMaker's requests as serving.deploy makes."""
    environment = {"TOY_VERSION": version, **(env or {})}
    model = f"{endpoint}-model-v{version}"
    config: dict[str, Any] = {
        "EndpointConfigName": f"{endpoint}-config-v{version}",
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if capture is not None:
        config["DataCaptureConfig"] = capture
    return HostingSpec(
        endpoint=endpoint,
        model_uri=f"models:/toy/{version}",
        version=version,
        container=Container(module=TOY_MODULE, environment=environment),
        model_request={
            "ModelName": model,
            "ExecutionRoleArn": platform.outputs.sagemaker_role_arn,
            "PrimaryContainer": {"Image": "toy:local", "Environment": environment},
        },
        endpoint_config_request=config,
        deployment_config=deployment_config or {},
    )


def runtime_client(platform: Platform) -> Any:
    """A plain boto3 SageMaker runtime client on the kit's one endpoint URL, as an application makes it."""
    return plain_client(platform, "sagemaker-runtime")


def plain_client(platform: Platform, service: str) -> Any:
    """A plain boto3 client of ``service`` on the kit's one endpoint URL, as a user's own script makes it."""
    return boto3.client(
        service,
        endpoint_url=clients_of(platform).endpoint_url,
        region_name=platform.settings.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def put_alarm(platform: Platform, name: str, endpoint: str, metric: str, threshold: float, **statistic: str) -> None:
    """A one-minute, one-period rollback alarm on the endpoint's ``AWS/SageMaker`` metric."""
    clients_of(platform).client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}],
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        **(statistic or {"Statistic": "Sum"}),
    )
