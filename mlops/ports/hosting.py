"""Hosting port: put a registered model version behind the stack's endpoint, read what it serves, stop it
(SageMaker hosting, Vertex AI endpoints, the local endpoint runners, memory).

The caller (``serving.deploy``) describes one version as a :class:`HostingSpec`: what any cloud needs (endpoint,
model, version, the serving image and container, the replica count), the requests SageMaker gets (CreateModel,
CreateEndpointConfig, the blue/green ``DeploymentConfig`` of UpdateEndpoint), and the serving container as a
local runner starts it. Every implementation keeps the previous version serving until the new one is healthy:
SageMaker through its blue/green update with auto-rollback, Vertex AI by moving all traffic to the new deployed
model only once it is deployed, the local runners by health-checking the new process before switching the route.

The container contract: the container runs ``python -m <module> serve`` (port from ``AIP_HTTP_PORT`` on Vertex AI,
``SAGEMAKER_BIND_TO_PORT`` on SageMaker), answers ``GET /ping`` and ``POST /invocations`` (and on Vertex AI the
``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` Vertex names), and its environment names the model it serves under
:data:`MODEL_URI_ENV`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from mlops.errors import DeploymentError
from mlops.ports.errors import NotFoundError, PortError

MODEL_URI_ENV = "SERVING_MODEL_URI"
"""The container environment variable naming the model the container serves (``models:/<name>/<version>``)."""


class HostingError(PortError, DeploymentError):
    """A deployment did not take traffic, or the hosting service refused a call; names endpoint and version."""


class HostingNotFoundError(HostingError, NotFoundError):
    """The endpoint or model package named does not exist."""


@dataclass(frozen=True)
class Container:
    """The serving container as a local runner starts it: ``python -m <module> serve`` with ``environment``
    (the same variables the SageMaker model declares) plus ``extra_environment`` (local-only settings, e.g.
    where the dataset definitions are: the image carries them, a local process reads them from the checkout)."""

    module: str
    environment: dict[str, str]
    extra_environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostingSpec:
    """One model version at one endpoint: what SageMaker gets and what a local runner starts."""

    endpoint: str
    model_uri: str
    version: str
    container: Container
    model_request: dict[str, Any]
    """CreateModel's arguments (``ModelName``, ``ExecutionRoleArn``, ``PrimaryContainer``)."""
    endpoint_config_request: dict[str, Any]
    """CreateEndpointConfig's arguments (``EndpointConfigName``, ``ProductionVariants``, data capture)."""
    deployment_config: dict[str, Any] = field(default_factory=dict)
    """UpdateEndpoint's ``DeploymentConfig`` (blue/green traffic shifting, auto-rollback alarms)."""
    image: str = ""
    """The serving image (ECR, Artifact Registry; a local runner's name for this checkout's Python)."""
    instance_count: int = 1
    """Serving replicas (SageMaker's ``InitialInstanceCount``, Vertex AI's minimum and maximum replica count)."""

    @property
    def model_name(self) -> str:
        """The version's model name (SageMaker's model; Vertex AI's uploaded model's display name)."""
        return str(self.model_request["ModelName"])

    @property
    def endpoint_config_name(self) -> str:
        return str(self.endpoint_config_request["EndpointConfigName"])


@dataclass(frozen=True)
class Deployment:
    """What an endpoint serves: the version, its status and, per implementation, where it runs.

    ``action`` says what :meth:`Hosting.deploy` did (``created``, ``updated`` or ``rolled back``; empty for a
    status read);
    ``model`` and ``endpoint_config`` are the SageMaker names; ``url`` and ``pid`` locate a local process.
    """

    endpoint: str
    status: str
    version: str | None = None
    model_uri: str | None = None
    model: str | None = None
    endpoint_config: str | None = None
    action: str = ""
    url: str | None = None
    pid: int | None = None
    fleets: tuple[dict[str, Any], ...] = ()
    """Every process serving the endpoint (local: during a blue/green shift, old and new with their weights)."""
    rollout: dict[str, Any] | None = None
    """The last blue/green deployment: status, stage, versions, alarms, whether and why it rolled back."""

    def as_dict(self) -> dict[str, Any]:
        """The set fields, for JSON output."""
        return {name: value for name, value in asdict(self).items() if value not in (None, "", ())}


class Hosting(Protocol):
    """Deploys model versions behind endpoints and reports what they serve."""

    default_image: str | None
    """The serving image used when the caller names none; ``None`` when the caller must name one (an ECR image
    on AWS, which this kit cannot build)."""

    def deploy(self, spec: HostingSpec) -> Deployment:
        """Serve ``spec.version`` at ``spec.endpoint``; the previous version keeps serving unless the new one is
        healthy (:class:`HostingError` naming endpoint and version otherwise)."""
        ...

    def status(self, endpoint: str) -> Deployment | None:
        """What ``endpoint`` serves now, ``None`` when nothing is deployed there."""
        ...

    def stop(self, endpoint: str) -> Deployment | None:
        """Stop serving at ``endpoint`` (the process, or the endpoint's instances); returns what was stopped,
        ``None`` when nothing was deployed."""
        ...

    def model_uri_of_package(self, package_arn: str) -> str:
        """The model a registered model package deploys (its container's ``MLFLOW_MODEL_URI``, else its
        ``ModelDataUrl``): a container given a package instead of a model URI serves this one.
        :class:`HostingNotFoundError` when the package does not exist."""
        ...


_PACKAGE_FORMS = (
    re.compile(r"^arn:aws[a-z-]*:sagemaker:[^:]*:[0-9]*:model-package/.+$"),  # a SageMaker model package
    re.compile(r"^projects/[^/]+/locations/[^/]+/models/[^/@]+@[^/@]+$"),  # a Vertex AI Model Registry version
)


def is_package(model_uri: str) -> bool:
    """``model_uri`` names a registered model package (a SageMaker model package ARN, a Vertex AI Model Registry
    version ``projects/<p>/locations/<l>/models/<id>@<version>``), which :meth:`Hosting.model_uri_of_package`
    resolves, rather than a model MLflow loads."""
    return any(form.match(model_uri) for form in _PACKAGE_FORMS)


def version_of(model_uri: str | None) -> str | None:
    """The version of a ``models:/<name>/<version>`` URI, ``None`` for any other form."""
    if not model_uri or not model_uri.startswith("models:/"):
        return None
    name, sep, version = model_uri.removeprefix("models:/").partition("/")
    return version if sep and name and version.isdigit() else None
