"""``Hosting`` on SageMaker: per-version models and endpoint configs, the endpoint created or updated blue/green.

SageMaker models and endpoint configurations are immutable, so each version has its own (the spec names them).
The endpoint is created on the first deployment and updated afterwards with the spec's ``DeploymentConfig``
(canary traffic shifting, auto-rollback on the stack's endpoint alarms): the previous fleet serves until the new
one is healthy. ``stop`` deletes the endpoint (its instances); the models and configs stay, so a later deploy
or ``pulumi up`` brings it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.hosting import MODEL_URI_ENV, Deployment, HostingError, HostingNotFoundError, HostingSpec, version_of

_NOT_FOUND = ("ValidationException", "ResourceNotFound")


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response["Error"]["Code"]) in _NOT_FOUND


def _describe(call: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any] | None:
    """The description, ``None`` when SageMaker says the resource does not exist."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        if _is_not_found(exc):
            return None
        raise


def _variants(described: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The endpoint's production variants with their current and desired traffic weights."""
    return tuple(
        {
            "variant": str(v["VariantName"]),
            "weight": float(v.get("CurrentWeight", 0.0)),
            "desired_weight": float(v.get("DesiredWeight", v.get("CurrentWeight", 0.0))),
            "instances": int(v.get("CurrentInstanceCount", 0)),
        }
        for v in described.get("ProductionVariants", [])
    )


def _rollout(described: dict[str, Any]) -> dict[str, Any] | None:
    """The last update as SageMaker reports it: its traffic routing and, after a failure or an automatic rollback,
    SageMaker's ``FailureReason``."""
    last = described.get("LastDeploymentConfig") or {}
    reason = str(described.get("FailureReason") or "")
    if not last and not reason:
        return None
    routing = last.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {}).get("Type", "")
    rollout: dict[str, Any] = {"status": str(described["EndpointStatus"]), "traffic_routing": routing}
    if reason:
        rollout["reason"] = reason
        rollout["rolled_back"] = "roll" in reason.lower()
    alarms = [a["AlarmName"] for a in last.get("AutoRollbackConfiguration", {}).get("Alarms", [])]
    if alarms:
        rollout["alarms"] = alarms
    return rollout


class SageMakerHosting:
    """``Hosting`` on SageMaker real-time endpoints."""

    default_image: str | None = None  # the serving image lives in ECR: the caller names it

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    @property
    def _sagemaker(self) -> Any:
        return self._clients.client("sagemaker")

    def deploy(self, spec: HostingSpec) -> Deployment:
        sagemaker = self._sagemaker
        try:
            if _describe(sagemaker.describe_model, ModelName=spec.model_name) is None:
                sagemaker.create_model(**spec.model_request)
            if _describe(sagemaker.describe_endpoint_config, EndpointConfigName=spec.endpoint_config_name) is None:
                sagemaker.create_endpoint_config(**spec.endpoint_config_request)
            if _describe(sagemaker.describe_endpoint, EndpointName=spec.endpoint) is not None:
                update: dict[str, Any] = {
                    "EndpointName": spec.endpoint,
                    "EndpointConfigName": spec.endpoint_config_name,
                }
                if spec.deployment_config:
                    update["DeploymentConfig"] = spec.deployment_config
                sagemaker.update_endpoint(**update)
                action, status = "updated", "Updating"
            else:
                sagemaker.create_endpoint(EndpointName=spec.endpoint, EndpointConfigName=spec.endpoint_config_name)
                action, status = "created", "Creating"
        except ClientError as exc:
            raise HostingError(
                f"deploying {spec.model_name} to endpoint {spec.endpoint!r} failed: {exc.response['Error']['Message']}"
            ) from exc
        return Deployment(
            endpoint=spec.endpoint,
            status=status,
            version=spec.version,
            model_uri=spec.model_uri,
            model=spec.model_name,
            endpoint_config=spec.endpoint_config_name,
            action=action,
        )

    def status(self, endpoint: str) -> Deployment | None:
        sagemaker = self._sagemaker
        try:
            described = _describe(sagemaker.describe_endpoint, EndpointName=endpoint)
            if described is None:
                return None
            config_name = str(described["EndpointConfigName"])
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            model_name = str(config["ProductionVariants"][0]["ModelName"])
            model = sagemaker.describe_model(ModelName=model_name)
        except ClientError as exc:
            raise HostingError(f"reading endpoint {endpoint!r} failed: {exc.response['Error']['Message']}") from exc
        model_uri = model.get("PrimaryContainer", {}).get("Environment", {}).get(MODEL_URI_ENV)
        return Deployment(
            endpoint=endpoint,
            status=str(described["EndpointStatus"]),
            version=version_of(model_uri),
            model_uri=model_uri,
            model=model_name,
            endpoint_config=config_name,
            fleets=_variants(described),
            rollout=_rollout(described),
        )

    def stop(self, endpoint: str) -> Deployment | None:
        current = self.status(endpoint)
        if current is None:
            return None
        try:
            self._sagemaker.delete_endpoint(EndpointName=endpoint)
        except ClientError as exc:
            raise HostingError(f"deleting endpoint {endpoint!r} failed: {exc.response['Error']['Message']}") from exc
        return Deployment(
            endpoint=endpoint,
            status="Deleting",
            version=current.version,
            model_uri=current.model_uri,
            model=current.model,
            endpoint_config=current.endpoint_config,
        )

    def model_uri_of_package(self, package_arn: str) -> str:
        try:
            package = self._sagemaker.describe_model_package(ModelPackageName=package_arn)
        except ClientError as exc:
            message = exc.response["Error"]["Message"]
            if _is_not_found(exc):
                raise HostingNotFoundError(f"model package {package_arn!r} does not exist: {message}") from exc
            raise HostingError(f"model package {package_arn!r} cannot be read: {message}") from exc
        for container in package.get("InferenceSpecification", {}).get("Containers", []):
            uri = container.get("Environment", {}).get("MLFLOW_MODEL_URI") or container.get("ModelDataUrl")
            if uri:
                return str(uri)
        raise HostingNotFoundError(
            f"model package {package_arn!r} names no model: set MLFLOW_MODEL_URI in its container environment "
            "or a ModelDataUrl"
        )
