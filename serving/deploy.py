"""Deploying a registered model version to a SageMaker endpoint (AWS), with blue/green and auto-rollback.

SageMaker models and endpoint configurations are immutable, so each version gets its own, named from the
stack outputs (``<sagemaker_model_name>-v<version>``, ``<endpoint_config_name>-v<version>``). The endpoint
(``outputs.endpoint_name``) is created on the first deployment and updated afterwards with a blue/green
``DeploymentConfig``: traffic shifts to the new fleet in a canary step, and the infra's alarms
(``outputs.alarm_names``) roll it back automatically. The previous fleet serves until the new one is healthy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.outputs import StackOutputs
from serving.errors import DeploymentError

CONTAINER_PORT = 8080
ROLLBACK_ALARMS = ("endpoint_errors", "endpoint_latency")


@dataclass(frozen=True)
class DeploymentNames:
    """The SageMaker names one model version is deployed under."""

    model: str
    endpoint_config: str
    endpoint: str


def names_for(outputs: StackOutputs, version: str) -> DeploymentNames:
    """Per-version model and endpoint-config names, the endpoint's own name (all from the stack outputs)."""
    return DeploymentNames(
        model=f"{outputs.sagemaker_model_name}-v{version}",
        endpoint_config=f"{outputs.endpoint_config_name}-v{version}",
        endpoint=outputs.endpoint_name,
    )


def container_environment(dataset: str, model_uri: str, tracking_uri: str, outputs: StackOutputs) -> dict[str, str]:
    """What the serving container reads at start (see :mod:`serving.server`)."""
    return {
        "SERVING_MODEL_URI": model_uri,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "SERVING_DATASET": dataset,
        "SERVING_ONLINE_TABLE": outputs.online_feature_table,
        "SAGEMAKER_BIND_TO_PORT": str(CONTAINER_PORT),
    }


def model_request(names: DeploymentNames, outputs: StackOutputs, image: str, env: dict[str, str]) -> dict[str, Any]:
    return {
        "ModelName": names.model,
        "ExecutionRoleArn": outputs.sagemaker_role_arn,
        "PrimaryContainer": {"Image": image, "Environment": env},
    }


def endpoint_config_request(
    names: DeploymentNames, outputs: StackOutputs, instance_type: str, instance_count: int
) -> dict[str, Any]:
    return {
        "EndpointConfigName": names.endpoint_config,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": names.model,
                "InstanceType": instance_type,
                "InitialInstanceCount": instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": outputs.data_capture_prefix,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    }


def blue_green_config(outputs: StackOutputs) -> dict[str, Any]:
    """Canary 10% for 5 minutes, then all traffic; the infra's endpoint alarms roll the update back."""
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": outputs.alarm(key)} for key in ROLLBACK_ALARMS]},
    }


def _exists(call: Any, **kwargs: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def deploy_to_sagemaker(
    sagemaker: Any,
    outputs: StackOutputs,
    names: DeploymentNames,
    image: str,
    env: dict[str, str],
    *,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
) -> str:
    """Create the version's model and config (when new) and create or blue/green-update the endpoint.

    Returns ``"created"`` or ``"updated"``. AWS errors become a :class:`DeploymentError` naming the endpoint.
    """
    from botocore.exceptions import ClientError

    try:
        if not _exists(sagemaker.describe_model, ModelName=names.model):
            sagemaker.create_model(**model_request(names, outputs, image, env))
        if not _exists(sagemaker.describe_endpoint_config, EndpointConfigName=names.endpoint_config):
            sagemaker.create_endpoint_config(**endpoint_config_request(names, outputs, instance_type, instance_count))
        if _exists(sagemaker.describe_endpoint, EndpointName=names.endpoint):
            sagemaker.update_endpoint(
                EndpointName=names.endpoint,
                EndpointConfigName=names.endpoint_config,
                DeploymentConfig=blue_green_config(outputs),
            )
            return "updated"
        sagemaker.create_endpoint(EndpointName=names.endpoint, EndpointConfigName=names.endpoint_config)
        return "created"
    except ClientError as exc:
        raise DeploymentError(
            f"deploying {names.model} to endpoint {names.endpoint!r} failed: {exc.response['Error']['Message']}"
        ) from exc


def deploy_version(platform: Any, dataset: str, version: str | None, image: str | None) -> dict[str, str]:
    """Deploy ``dataset``'s model (``version`` or the champion) to the stack's SageMaker endpoint on AWS."""
    from serving.model import registry_uri, resolve_version

    if not image:
        raise DeploymentError("deploying to AWS needs the serving image: pass --image-uri (an ECR image URI)")
    tracking_uri = platform.outputs.mlflow_tracking_uri
    name, resolved = resolve_version(tracking_uri, registry_uri(dataset, version))
    names = names_for(platform.outputs, resolved)
    env = container_environment(dataset, registry_uri(name, resolved), tracking_uri, platform.outputs)
    action = deploy_to_sagemaker(platform.clients.client("sagemaker"), platform.outputs, names, image, env)
    return {
        "endpoint": names.endpoint,
        "model": names.model,
        "endpoint_config": names.endpoint_config,
        "version": resolved,
        "action": action,
    }
