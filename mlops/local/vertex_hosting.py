"""Vertex AI endpoints on this machine (``target: gcp-emulators``; Vertex AI has no emulator): ``Hosting`` and
``Endpoint`` played by the serving container's processes on loopback, on Vertex's custom-container contract.

:class:`LocalVertexHosting` deploys a version as Vertex deploys a model to an endpoint: a new *deployed model*, the
container started (:func:`mlops.local.endpoint_runner.launch`) with its port in ``AIP_HTTP_PORT`` and the routes
Vertex names by default, ``AIP_HEALTH_ROUTE`` ``/v1/endpoints/<endpoint id>/deployedModels/<id>`` and
``AIP_PREDICT_ROUTE`` the same with ``:predict``, plus the kit's Google Cloud settings (its own services are wired
from them). Only once the new process answers its health route does the traffic split move to it (100) and the
previous deployed models get undeployed (stopped); a new one that fails its check is stopped and the previous one
keeps all the traffic. The endpoint, as Vertex describes one (deployed models with PID, port and routes; the
traffic split), is recorded in ``<state_dir>/vertex-endpoints/<endpoint>.json``; a process is stopped by PID, and
only while that PID still runs the server started on that port. One deployment at a time per endpoint (a lock
file beside the record).

:class:`LocalVertexEndpoint` posts to the deployed model taking the traffic, on its predict route, as Vertex's
``rawPredict`` forwards a body: any content type the container reads, Vertex's ``{"instances": [...]}`` included.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from mlops.local import endpoint_runner, loopback
from mlops.local.emulator import HOST
from mlops.local.processes import terminate
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointNotFoundError, EndpointUnavailableError, Invocation, invocation_error
from mlops.ports.hosting import Deployment, HostingError, HostingNotFoundError, HostingSpec
from mlops.private_files import private_dir, write_private

STATE_SUBDIR = "vertex-endpoints"
PORT_VARIABLE = "AIP_HTTP_PORT"
LOCAL_IMAGE = "mlops-kit/serving:local"
"""The image name the recorded deployed models carry: locally the container is this checkout's Python."""


@dataclass(frozen=True)
class DeployedModel:
    """One model version deployed to a local endpoint: Vertex's ``DeployedModel`` plus the process serving it."""

    id: str
    model: str
    """The version's model name (the display name Vertex would show)."""
    model_uri: str
    version: str
    pid: int
    port: int
    health_route: str
    predict_route: str
    started_at: float
    log_file: str
    module: str
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        """Its process still runs the server started for it (not a process that reused the PID)."""
        return endpoint_runner.is_our_server(self.pid, self.port, self.module, PORT_VARIABLE)


@dataclass(frozen=True)
class LocalEndpointRecord:
    """A local Vertex endpoint: its deployed models and its traffic split (deployed model id -> percent)."""

    endpoint: str
    endpoint_id: str
    deployed_models: tuple[DeployedModel, ...] = ()
    traffic_split: dict[str, int] = field(default_factory=dict)

    @property
    def serving(self) -> DeployedModel | None:
        """The deployed model taking the traffic (the most of it; the newest among equals)."""
        if not self.deployed_models:
            return None
        return max(self.deployed_models, key=lambda m: (self.traffic_split.get(m.id, 0), m.started_at))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LocalEndpointRecord:
        return cls(
            endpoint=str(raw["endpoint"]),
            endpoint_id=str(raw["endpoint_id"]),
            deployed_models=tuple(DeployedModel(**m) for m in raw["deployed_models"]),
            traffic_split={str(k): int(v) for k, v in raw["traffic_split"].items()},
        )


def endpoints_dir(platform: Platform) -> Path:
    return platform.settings.state_dir / STATE_SUBDIR


def _record_path(platform: Platform, endpoint: str) -> Path:
    if not endpoint or "/" in endpoint or endpoint.startswith("."):
        raise HostingError(f"endpoint name {endpoint!r} cannot name a local endpoint record")
    return endpoints_dir(platform) / f"{endpoint}.json"


def read_endpoint(platform: Platform, endpoint: str) -> LocalEndpointRecord | None:
    """The record of ``endpoint``, ``None`` when nothing was ever deployed there (or it was stopped)."""
    path = _record_path(platform, endpoint)
    try:
        return LocalEndpointRecord.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise HostingError(
            f"local Vertex endpoint record {path} is corrupt ({exc}); run `mlops endpoint stop`"
        ) from exc


def write_record(platform: Platform, record: LocalEndpointRecord) -> None:
    """Replace the record of ``record.endpoint`` (atomically, owner-only)."""
    write_private(_record_path(platform, record.endpoint), json.dumps(asdict(record), indent=2))


@contextlib.contextmanager
def _locked(platform: Platform, endpoint: str) -> Iterator[None]:
    """One deployment or stop of ``endpoint`` at a time (Vertex refuses a second operation on a deployed model)."""
    lock = _record_path(platform, endpoint).with_suffix(".lock")
    private_dir(lock.parent)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def endpoint_id(platform: Platform, endpoint: str) -> str:
    """The endpoint's numeric id: the stack's ``vertex_endpoint_id`` output for the stack's endpoint, else one
    derived from the name (10 digits, no leading zero, as Vertex's)."""
    outputs = platform.outputs
    declared = (outputs.model_extra or {}).get("vertex_endpoint_id")
    if declared and endpoint == getattr(outputs, "endpoint_name", None):
        return str(declared)
    return str(10**9 + int(hashlib.sha256(endpoint.encode()).hexdigest(), 16) % (9 * 10**9))


def routes(endpoint_number: str, deployed_model_id: str) -> tuple[str, str]:
    """Vertex's default ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` for a deployed model."""
    health = f"/v1/endpoints/{endpoint_number}/deployedModels/{deployed_model_id}"
    return health, f"{health}:predict"


def _environment(platform: Platform, spec: HostingSpec, endpoint_number: str, deployed_id: str) -> dict[str, str]:
    """What Vertex gives the container (``AIP_*``; the port is added at launch) over the spec's environment, with
    the kit's Google Cloud settings so the container wires its own services on the same project or emulators."""
    from mlops.local.vertex_training import gcp_runtime_environment

    health, predict = routes(endpoint_number, deployed_id)
    container = spec.container
    env = {**os.environ, **container.environment, **container.extra_environment, **gcp_runtime_environment(platform)}
    env.pop("SAGEMAKER_BIND_TO_PORT", None)  # Vertex's contract: the port is AIP_HTTP_PORT's
    env.update(
        {
            "AIP_MODE": "PREDICTION",
            "AIP_ENDPOINT_ID": endpoint_number,
            "AIP_DEPLOYED_MODEL_ID": deployed_id,
            "AIP_MODEL_NAME": spec.model_name,
            "AIP_HEALTH_ROUTE": health,
            "AIP_PREDICT_ROUTE": predict,
        }
    )
    return env


def _start(platform: Platform, spec: HostingSpec, endpoint_number: str, health_timeout: float) -> DeployedModel:
    """A healthy new deployed model for ``spec`` (stopped again if it fails its health check)."""
    deployed_id = str(time.time_ns() // 1000 % 10**16)
    env = _environment(platform, spec, endpoint_number, deployed_id)
    server = endpoint_runner.launch(spec.container.module, env, endpoints_dir(platform), spec.endpoint, PORT_VARIABLE)
    health, predict = routes(endpoint_number, deployed_id)
    try:
        endpoint_runner.wait_healthy(server, health_timeout, route=health)
    except BaseException as exc:
        terminate(server.process.pid)  # never took traffic; the recorded endpoint is untouched
        if isinstance(exc, HostingError):
            raise HostingError(f"version {spec.version} of endpoint {spec.endpoint!r} did not deploy: {exc}") from exc
        raise
    return DeployedModel(
        id=deployed_id,
        model=spec.model_name,
        model_uri=spec.model_uri,
        version=spec.version,
        pid=server.process.pid,
        port=server.port,
        health_route=health,
        predict_route=predict,
        started_at=time.time(),
        log_file=str(server.log_file),
        module=spec.container.module,
    )


def _undeploy(model: DeployedModel) -> None:
    if model.running():
        terminate(model.pid)


def deploy(
    platform: Platform, spec: HostingSpec, health_timeout: float = endpoint_runner.HEALTH_TIMEOUT_S
) -> tuple[LocalEndpointRecord, LocalEndpointRecord | None]:
    """Deploy ``spec`` to its endpoint: the new deployed model takes all the traffic once healthy, then the previous
    ones are undeployed. Returns the endpoint's record after, and before (``None``: first deployment)."""
    with _locked(platform, spec.endpoint):
        before = read_endpoint(platform, spec.endpoint)
        number = before.endpoint_id if before else endpoint_id(platform, spec.endpoint)
        new = _start(platform, spec, number, health_timeout)
        previous = before.deployed_models if before else ()
        # the switch: every request goes to the new model from here; the old ones are recorded until stopped
        switched = LocalEndpointRecord(spec.endpoint, number, (*previous, new), {new.id: 100})
        write_record(platform, switched)
        for old in previous:
            _undeploy(old)
        after = replace(switched, deployed_models=(new,))
        write_record(platform, after)
        return after, before


def stop(platform: Platform, endpoint: str) -> LocalEndpointRecord | None:
    """Undeploy every deployed model of ``endpoint`` (their processes, if still ours) and forget the record;
    returns the record as it was, ``None`` when nothing was deployed."""
    with _locked(platform, endpoint):
        record = read_endpoint(platform, endpoint)
        if record is None:
            return None
        for model in record.deployed_models:
            _undeploy(model)
        _record_path(platform, endpoint).unlink(missing_ok=True)
        return record


def deployment_of(record: LocalEndpointRecord, action: str = "") -> Deployment:
    """What the endpoint serves: the deployed model taking the traffic, and every deployed model."""
    serving = record.serving
    if serving is None:
        return Deployment(endpoint=record.endpoint, status="OutOfService", action=action)
    fleets = tuple(
        {
            "variant": m.model,
            "fleet": m.id,  # the deployed model's id
            "version": m.version,
            "weight": record.traffic_split.get(m.id, 0) / 100,
            "pid": m.pid,
            "url": m.url + m.predict_route,
            "running": m.running(),
        }
        for m in record.deployed_models
    )
    return Deployment(
        endpoint=record.endpoint,
        status="InService" if serving.running() else "OutOfService",
        version=serving.version,
        model_uri=serving.model_uri,
        model=serving.model,
        action=action,
        url=serving.url,
        pid=serving.pid,
        fleets=fleets,
    )


class LocalVertexHosting:
    """``Hosting`` on local Vertex endpoints (:mod:`mlops.local.vertex_hosting`)."""

    default_image: str | None = LOCAL_IMAGE

    def __init__(self, platform: Platform, health_timeout: float = endpoint_runner.HEALTH_TIMEOUT_S) -> None:
        self._platform = platform
        self.health_timeout = health_timeout

    def deploy(self, spec: HostingSpec) -> Deployment:
        after, before = deploy(self._platform, spec, self.health_timeout)
        return deployment_of(after, "updated" if before and before.deployed_models else "created")

    def status(self, endpoint: str) -> Deployment | None:
        record = read_endpoint(self._platform, endpoint)
        return None if record is None or not record.deployed_models else deployment_of(record)

    def stop(self, endpoint: str) -> Deployment | None:
        record = stop(self._platform, endpoint)
        if record is None or not record.deployed_models:
            return None
        return replace(deployment_of(record), status="Stopped", fleets=())

    def model_uri_of_package(self, package_arn: str) -> str:
        """The model archive of a package of the stack's group, which locally lives in the Firestore emulator."""
        from mlops.local.gcp_model_packages import FirestoreModelPackages
        from mlops.ports.model_packages import ModelPackageError, ModelPackageNotFoundError
        from mlops.wiring import gcp_client_factory

        packages = FirestoreModelPackages(
            gcp_client_factory(self._platform.settings), self._platform.outputs.model_package_group
        )
        try:
            url = packages.describe(package_arn).model_data_url
        except ModelPackageNotFoundError as exc:
            raise HostingNotFoundError(f"model package {package_arn!r} does not exist: {exc}") from exc
        except ModelPackageError as exc:
            raise HostingError(f"model package {package_arn!r} cannot be read: {exc}") from exc
        if not url:
            raise HostingNotFoundError(f"model package {package_arn!r} names no model archive")
        return url


class LocalVertexEndpoint:
    """``Endpoint`` ``name`` (default: the stack's endpoint) on its local deployed model taking the traffic."""

    def __init__(self, platform: Platform, name: str | None = None, timeout: float = 60.0) -> None:
        self._platform = platform
        self.name = name or platform.outputs.endpoint_name
        self.timeout = timeout
        self._metrics: tuple[Any, ...] | None = None  # the metrics store, found on the first request

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        record = read_endpoint(self._platform, self.name)
        serving = record.serving if record else None
        if serving is None:
            raise EndpointNotFoundError(self.name, "is not deployed locally: run `mlops deploy <dataset>`")
        url = serving.url + serving.predict_route
        started = time.perf_counter()
        try:
            answer = loopback.post(
                url, content=body, headers={"Content-Type": content_type, "Accept": accept}, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            self._publish(record, serving, ok=False, started=started)
            raise EndpointUnavailableError(self.name, f"does not answer at {url}: {exc}") from exc
        self._publish(record, serving, ok=answer.status_code < 400, started=started)
        if answer.status_code >= 400:
            raise invocation_error(self.name, answer.status_code, answer.content)
        return Invocation(answer.content, answer.headers.get("content-type", accept))

    def _publish(self, record: LocalEndpointRecord | None, serving: DeployedModel, *, ok: bool, started: float) -> None:
        """Vertex's endpoint metrics for this request (:mod:`mlops.local.vertex_metrics`)."""
        from mlops.local.vertex_metrics import publish_request, request_metrics

        assert record is not None  # the deployed model serving came from it
        if self._metrics is None:
            self._metrics = (request_metrics(self._platform),)
        latency_ms = (time.perf_counter() - started) * 1000.0
        publish_request(self._metrics[0], record.endpoint_id, serving.id, ok=ok, latency_ms=latency_ms)
