"""Deploying a registered model version behind the stack's endpoint, through the hosting port.

This module describes what to host; ``platform.services.hosting`` hosts it (SageMaker on AWS, the local
endpoint runner on the emulator, memory in tests). The description is SageMaker's: models and endpoint
configurations are immutable, so each version gets its own, named from the stack outputs
(``<sagemaker_model_name>-v<version>``, ``<endpoint_config_name>-v<version>``), with data capture to
``outputs.data_capture_prefix``. An existing endpoint is updated with a blue/green ``DeploymentConfig``: traffic
shifts to the new fleet in a canary step, and the infra's alarms (``outputs.alarm_names``) roll it back
automatically. Every hosting keeps the previous version serving until the new one is healthy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.hosting import MODEL_URI_ENV, Container, Deployment, HostingSpec
from serving.compiled import ENGINE_ENV
from serving.errors import DeploymentError
from serving.payload import KIT_FORMAT, RESPONSE_FORMAT_ENV

CONTAINER_PORT = 8080
SERVE_MODULE = "serving"
"""The container's serve entry: ``python -m serving serve`` (see :mod:`serving.server`)."""
ROLLBACK_ALARMS = ("endpoint_errors", "endpoint_latency")
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


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


def container_environment(
    platform: Platform, dataset: str, model_uri: str, response_format: str = KIT_FORMAT
) -> dict[str, str]:
    """What the serving container reads at start (see :mod:`serving.server`): the model, the tracking server,
    the dataset (for its entity key), the online table, the answer's format and the model's engine (the stack's
    endpoint settings), and the kit's target and region, from which the container's own services (online store,
    model packages) are wired."""
    return {
        MODEL_URI_ENV: model_uri,
        "MLFLOW_TRACKING_URI": platform.outputs.mlflow_tracking_uri,
        "SERVING_DATASET": dataset,
        "SERVING_ONLINE_TABLE": platform.outputs.online_feature_table,
        RESPONSE_FORMAT_ENV: response_format,
        ENGINE_ENV: platform.settings.services.endpoint.model_engine,
        "SAGEMAKER_BIND_TO_PORT": str(CONTAINER_PORT),
        "MLOPS_TARGET": platform.settings.target,
        "MLOPS_REGION": platform.settings.region,
    }


def serving_container(platform: Platform, dataset: str, model_uri: str, response_format: str = KIT_FORMAT) -> Container:
    """The serving container of one model version, as a local runner starts it.

    ``response_format`` is the kit's by default: batch inference reads the kit's answers whatever the endpoint's.
    """
    return Container(
        module=SERVE_MODULE,
        environment=container_environment(platform, dataset, model_uri, response_format),
        # the image carries the dataset definitions; a process on this machine reads them from the checkout
        extra_environment={"SERVING_DATASETS_DIR": str(platform.settings.datasets_dir.resolve())},
    )


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


def hosting_spec(
    platform: Platform,
    dataset: str,
    version: str,
    image: str,
    *,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
) -> HostingSpec:
    """The spec of ``dataset``'s registered model ``version`` (a resolved number) at the stack's endpoint."""
    from serving.model import registry_uri

    model_uri = registry_uri(dataset, version)
    names = names_for(platform.outputs, version)
    container = serving_container(platform, dataset, model_uri, platform.settings.services.endpoint.response_format)
    return HostingSpec(
        endpoint=names.endpoint,
        model_uri=model_uri,
        version=version,
        container=container,
        model_request=model_request(names, platform.outputs, image, container.environment),
        endpoint_config_request=endpoint_config_request(names, platform.outputs, instance_type, instance_count),
        deployment_config=blue_green_config(platform.outputs),
        image=image,
        instance_count=instance_count,
    )


def resolve(platform: Platform, dataset: str, version: str | None) -> str:
    """The registered version ``version`` names, or the champion's (an unknown one names what exists)."""
    from serving.model import registry_uri, resolve_version

    _, resolved = resolve_version(platform.outputs.mlflow_tracking_uri, registry_uri(dataset, version))
    return resolved


def deploy_model(platform: Platform, dataset: str, version: str | None = None, image: str | None = None) -> Deployment:
    """Deploy ``dataset``'s model (``version`` or the champion) behind the stack's endpoint.

    ``image`` defaults to the hosting's own (the local runner's); SageMaker needs the serving image in ECR.
    """
    hosting = platform.services.hosting
    image = image or hosting.default_image
    if not image:
        raise DeploymentError(
            f"deploying {dataset} to endpoint {platform.outputs.endpoint_name!r} needs the serving image: "
            "pass --image-uri (the serving image in the cloud's registry: ECR, Artifact Registry)"
        )
    return hosting.deploy(hosting_spec(platform, dataset, resolve(platform, dataset, version), image))
