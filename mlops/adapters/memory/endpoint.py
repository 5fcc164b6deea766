"""``Hosting`` and ``Endpoint`` in memory: the serving container played in this process.

:class:`MemoryHosting` keeps one deployment per endpoint. ``serve`` turns a container into an in-process handler
(a test passes one; :func:`serving.server.in_process` is the real server's core); a ``serve`` that raises is a
failed health check, and the previous deployment keeps serving, as with the local runner and SageMaker. Without
a ``serve`` the hosting records deployments only, and invoking them says the endpoint is unavailable.
:meth:`MemoryHosting.endpoint` gives the :class:`MemoryEndpoint` of an endpoint name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from mlops.ports.endpoint import EndpointNotFoundError, EndpointUnavailableError, Invocation, invocation_error
from mlops.ports.hosting import Container, Deployment, HostingError, HostingNotFoundError, HostingSpec

Handler = Callable[[bytes, str, str], tuple[int, bytes, str]]
"""``POST /invocations`` in process: (body, content type, accept) -> (status, body, content type)."""
Serve = Callable[[Container], Handler]
"""Starts a container in process; raising means the container never became healthy."""


@dataclass(frozen=True)
class _Hosted:
    deployment: Deployment
    handler: Handler | None


class MemoryHosting:
    """``Hosting`` in memory; ``packages`` maps model package ARNs to the model URI each deploys."""

    default_image: str | None = "mlops-kit/serving:memory"

    def __init__(self, serve: Serve | None = None, packages: dict[str, str] | None = None) -> None:
        self.serve = serve
        self.packages = dict(packages or {})
        self._hosted: dict[str, _Hosted] = {}
        self._lock = threading.Lock()

    def deploy(self, spec: HostingSpec) -> Deployment:
        handler: Handler | None = None
        if self.serve is not None:
            try:
                handler = self.serve(spec.container)
            except Exception as exc:  # whatever the container raised, it never became healthy
                raise HostingError(
                    f"version {spec.version} of endpoint {spec.endpoint!r} did not become healthy: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        with self._lock:
            action = "updated" if spec.endpoint in self._hosted else "created"
            deployment = Deployment(
                endpoint=spec.endpoint,
                status="InService",
                version=spec.version,
                model_uri=spec.model_uri,
                model=spec.model_name,
                endpoint_config=spec.endpoint_config_name,
                action=action,
            )
            self._hosted[spec.endpoint] = _Hosted(deployment, handler)
        return deployment

    def status(self, endpoint: str) -> Deployment | None:
        with self._lock:
            hosted = self._hosted.get(endpoint)
        return None if hosted is None else _as_status(hosted.deployment)

    def stop(self, endpoint: str) -> Deployment | None:
        with self._lock:
            hosted = self._hosted.pop(endpoint, None)
        return None if hosted is None else _as_status(hosted.deployment)

    def model_uri_of_package(self, package_arn: str) -> str:
        if package_arn not in self.packages:
            raise HostingNotFoundError(f"model package {package_arn!r} does not exist")
        return self.packages[package_arn]

    def endpoint(self, name: str) -> MemoryEndpoint:
        """The endpoint ``name`` as callers invoke it (deployed or not: invoking says which)."""
        return MemoryEndpoint(self, name)

    def handler(self, endpoint: str) -> Handler:
        """The handler serving ``endpoint``; the port's not-found/unavailable errors otherwise."""
        with self._lock:
            hosted = self._hosted.get(endpoint)
        if hosted is None:
            raise EndpointNotFoundError(endpoint, "is not deployed")
        if hosted.handler is None:
            raise EndpointUnavailableError(endpoint, "was deployed without an in-process server (no serve given)")
        return hosted.handler


class MemoryEndpoint:
    """``Endpoint`` on a :class:`MemoryHosting` deployment."""

    def __init__(self, hosting: MemoryHosting, name: str) -> None:
        self._hosting = hosting
        self.name = name

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        status, answer, answer_type = self._hosting.handler(self.name)(body, content_type, accept)
        if status >= 400:
            raise invocation_error(self.name, status, answer)
        return Invocation(answer, answer_type)


def _as_status(deployment: Deployment) -> Deployment:
    return replace(deployment, action="")  # a status read did nothing
