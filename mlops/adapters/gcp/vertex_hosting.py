"""``Hosting`` on Vertex AI endpoints (``target: gcp``): each version an uploaded model on the serving image, deployed
to the stack's endpoint with all the traffic once it is deployed; the previous deployed models undeployed after.

The endpoint is the infra program's (output ``vertex_endpoint_id`` for the stack's ``endpoint_name``, its display
name); another endpoint name is found by display name and created on its first deployment, as SageMaker's is. A
version is uploaded once as a model named ``spec.model_name`` whose container is the serving image with the spec's
environment plus the kit's Google Cloud settings (the container wires its own services from them) and port 8080;
Vertex gives the container ``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE``, which the serving
app reads (:mod:`serving.server`). ``DeployModel`` with the traffic split ``{"0": 100}`` (``"0"``: the model being
deployed) moves the traffic only when the new deployed model is up, so the previous version serves until then and
keeps serving if the deployment fails. ``stop`` undeploys every model; the endpoint itself stays (the program's).

Google's client library is imported on first use (slow to import).
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.outputs import StackOutputs
from mlops.ports.hosting import MODEL_URI_ENV, Deployment, HostingError, HostingNotFoundError, HostingSpec, version_of

log = logging.getLogger(__name__)
DEFAULT_MACHINE = "n1-standard-2"
CONTAINER_PORT = 8080
# the model's own URI in a registered version's container, as the SageMaker adapter reads a package's
_PACKAGE_MODEL_ENV = ("MLFLOW_MODEL_URI", MODEL_URI_ENV)


def api_endpoint(clients: GcpClients) -> dict[str, str]:
    """Vertex's regional endpoint for the settings' location (its services answer only there)."""
    return {"api_endpoint": f"{clients.settings.gcp.location}-aiplatform.googleapis.com"}


def parent_of(clients: GcpClients) -> str:
    gcp = clients.settings.gcp
    return f"projects/{gcp.project}/locations/{gcp.location}"


def find_endpoint(endpoints: Any, clients: GcpClients, outputs: StackOutputs, display_name: str) -> str | None:
    """The resource name of the endpoint ``display_name``: the stack's by its id output, any other by display name
    (``None`` when there is none)."""
    declared = (outputs.model_extra or {}).get("vertex_endpoint_id")
    if declared and display_name == getattr(outputs, "endpoint_name", None):
        return f"{parent_of(clients)}/endpoints/{declared}"
    found = endpoints.list_endpoints(request={"parent": parent_of(clients), "filter": f'display_name="{display_name}"'})
    return next((str(endpoint.name) for endpoint in found), None)


def container_environment(spec: HostingSpec, clients: GcpClients) -> dict[str, str]:
    """The spec's container environment on Vertex: its port is Vertex's (``AIP_HTTP_PORT``), and the kit's Google
    Cloud settings let the container wire its services (online store) on the stack's project."""
    env = {k: v for k, v in spec.container.environment.items() if k != "SAGEMAKER_BIND_TO_PORT"}
    gcp = clients.settings.gcp
    env.update({"MLOPS_CLOUD": "gcp", "MLOPS_GCP__PROJECT": gcp.project, "MLOPS_GCP__LOCATION": gcp.location})
    return env


class VertexHosting:
    """``Hosting`` on Vertex AI endpoints of the stack's project and location."""

    default_image: str | None = None  # the serving image lives in Artifact Registry: the caller names it

    def __init__(
        self,
        clients: GcpClients,
        outputs: StackOutputs,
        *,
        machine_type: str = DEFAULT_MACHINE,
        models: Any = None,
        endpoints: Any = None,
    ) -> None:
        """``models`` and ``endpoints``: Vertex's model and endpoint service clients (default: created on first
        use on the location's endpoint)."""
        self._clients = clients
        self._outputs = outputs
        self.machine_type = machine_type
        self._given = {"models": models, "endpoints": endpoints}

    @cached_property
    def _models(self) -> Any:
        from google.cloud import aiplatform_v1

        return self._given["models"] or aiplatform_v1.ModelServiceClient(client_options=api_endpoint(self._clients))

    @cached_property
    def _endpoints(self) -> Any:
        from google.cloud import aiplatform_v1

        given = self._given["endpoints"]
        return given or aiplatform_v1.EndpointServiceClient(client_options=api_endpoint(self._clients))

    def _endpoint(self, display_name: str) -> str | None:
        return find_endpoint(self._endpoints, self._clients, self._outputs, display_name)

    def deploy(self, spec: HostingSpec) -> Deployment:
        if not spec.image:
            raise HostingError(
                f"deploying version {spec.version} to endpoint {spec.endpoint!r} needs the serving image"
            )
        try:
            endpoint = self._endpoint(spec.endpoint) or self._create_endpoint(spec.endpoint)
            model = self._model(spec)
            before = list(self._endpoints.get_endpoint(name=endpoint).deployed_models)
            deployed = self._endpoints.deploy_model(
                endpoint=endpoint, deployed_model=self._deployed_model(spec, model), traffic_split={"0": 100}
            ).result()
        except google_errors.GoogleAPIError as exc:
            raise HostingError(
                f"deploying version {spec.version} ({spec.model_name}) to endpoint {spec.endpoint!r} failed; the "
                f"previous version keeps the traffic: {exc}"
            ) from exc
        for old in before:  # they take no traffic any more; undeploying frees their machines
            self._undeploy(endpoint, str(old.id))
        return Deployment(
            endpoint=spec.endpoint,
            status="InService",
            version=spec.version,
            model_uri=spec.model_uri,
            model=model,
            action="updated" if before else "created",
            fleets=({"variant": spec.model_name, "fleet": str(deployed.deployed_model.id), "weight": 1.0},),
        )

    def _create_endpoint(self, display_name: str) -> str:
        from google.cloud import aiplatform_v1

        created = self._endpoints.create_endpoint(
            parent=parent_of(self._clients), endpoint=aiplatform_v1.Endpoint(display_name=display_name)
        ).result()
        return str(created.name)

    def _model(self, spec: HostingSpec) -> str:
        """The version's uploaded model (uploaded now unless an earlier deployment did)."""
        from google.cloud import aiplatform_v1

        parent = parent_of(self._clients)
        found = self._models.list_models(request={"parent": parent, "filter": f'display_name="{spec.model_name}"'})
        existing = next((str(model.name) for model in found), None)
        if existing:
            return existing
        env = container_environment(spec, self._clients)
        container = aiplatform_v1.ModelContainerSpec(
            image_uri=spec.image,
            env=[aiplatform_v1.EnvVar(name=key, value=value) for key, value in sorted(env.items())],
            ports=[aiplatform_v1.Port(container_port=CONTAINER_PORT)],
        )
        model = aiplatform_v1.Model(
            display_name=spec.model_name, container_spec=container, labels={"model-version": spec.version}
        )
        return str(self._models.upload_model(parent=parent, model=model).result().model)

    def _deployed_model(self, spec: HostingSpec, model: str) -> Any:
        from google.cloud import aiplatform_v1

        resources = aiplatform_v1.DedicatedResources(
            machine_spec=aiplatform_v1.MachineSpec(machine_type=self.machine_type),
            min_replica_count=spec.instance_count,
            max_replica_count=spec.instance_count,
        )
        account = (self._outputs.model_extra or {}).get("vertex_service_account") or ""
        return aiplatform_v1.DeployedModel(
            model=model, display_name=spec.model_name, dedicated_resources=resources, service_account=account
        )

    def _undeploy(self, endpoint: str, deployed_model_id: str, traffic_split: dict[str, int] | None = None) -> None:
        try:
            self._endpoints.undeploy_model(
                endpoint=endpoint, deployed_model_id=deployed_model_id, traffic_split=traffic_split
            ).result()
        except google_errors.GoogleAPIError as exc:  # the new version serves; the old one only costs machines
            log.warning(
                "undeploying a previous model failed",
                extra={"endpoint": endpoint, "deployed_model_id": deployed_model_id, "error": str(exc)},
            )

    def status(self, endpoint: str) -> Deployment | None:
        try:
            name = self._endpoint(endpoint)
            described = self._endpoints.get_endpoint(name=name) if name else None
            if described is None or not described.deployed_models:
                return None
            split = {str(k): int(v) for k, v in dict(described.traffic_split).items()}
            models = list(described.deployed_models)
            serving = max(models, key=lambda m: split.get(str(m.id), 0))
            model_uri = self._model_uri(self._models.get_model(name=serving.model))
        except google_errors.GoogleAPIError as exc:
            raise HostingError(f"reading endpoint {endpoint!r} failed: {exc}") from exc
        return Deployment(
            endpoint=endpoint,
            status="InService",
            version=version_of(model_uri),
            model_uri=model_uri,
            model=str(serving.model),
            fleets=tuple(
                {"variant": str(m.display_name), "fleet": str(m.id), "weight": split.get(str(m.id), 0) / 100}
                for m in models
            ),
        )

    def stop(self, endpoint: str) -> Deployment | None:
        current = self.status(endpoint)
        name = self._endpoint(endpoint) if current else None
        if current is None or name is None:
            return None
        # a deployed model with traffic can only go when the split no longer gives it any: the last one goes last
        ordered = sorted(current.fleets, key=lambda fleet: float(fleet["weight"]))
        last = str(ordered[-1]["fleet"])
        for fleet in ordered[:-1]:
            self._undeploy(name, str(fleet["fleet"]), {last: 100})
        try:
            self._endpoints.undeploy_model(endpoint=name, deployed_model_id=last).result()
        except google_errors.GoogleAPIError as exc:
            raise HostingError(
                f"undeploying version {current.version} from endpoint {endpoint!r} failed: {exc}"
            ) from exc
        return Deployment(
            endpoint=endpoint,
            status="Stopped",
            version=current.version,
            model_uri=current.model_uri,
            model=current.model,
        )

    def model_uri_of_package(self, package_arn: str) -> str:
        """The model a Model Registry version (``projects/.../models/<id>@<version>``) deploys: its container's
        ``MLFLOW_MODEL_URI``, else the model archive the registration recorded, else its artifact directory."""
        try:
            model = self._models.get_model(name=package_arn)
        except google_errors.NotFound as exc:
            raise HostingNotFoundError(f"model package {package_arn!r} does not exist: {exc}") from exc
        except google_errors.GoogleAPIError as exc:
            raise HostingError(f"model package {package_arn!r} cannot be read: {exc}") from exc
        uri = self._model_uri(model) or _recorded_archive(model) or str(model.artifact_uri or "")
        if not uri:
            raise HostingNotFoundError(f"model package {package_arn!r} names no model: set MLFLOW_MODEL_URI")
        return uri

    @staticmethod
    def _model_uri(model: Any) -> str | None:
        env = {str(var.name): str(var.value) for var in model.container_spec.env}
        return next((env[name] for name in _PACKAGE_MODEL_ENV if env.get(name)), None)


def _recorded_archive(model: Any) -> str | None:
    """The ``model_data_url`` the kit's registration keeps in a version's metadata."""
    from google.protobuf import json_format

    try:
        recorded = json_format.MessageToDict(type(model).pb(model).metadata)
    except (AttributeError, TypeError):
        return None
    if not isinstance(recorded, dict) or not recorded.get("model_data_url"):
        return None
    return str(recorded["model_data_url"])
