"""``Hosting`` and ``Endpoint`` on this machine, for the emulator targets (moto stores SageMaker endpoints but
serves nothing: its ``invoke_endpoint`` answers canned bytes).

:class:`LocalHosting` deploys through the endpoint runner (health-checked process, route switch, the emulator's
model/config/endpoint records); :class:`LocalEndpoint` posts to the process the route names. Model packages are
read from the emulator's SageMaker, as the SageMaker adapter reads them from AWS.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from mlops.adapters.aws.sagemaker_hosting import SageMakerHosting
from mlops.local import endpoint_runner
from mlops.local.clients import clients_of
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointNotFoundError, EndpointUnavailableError, Invocation, invocation_error
from mlops.ports.hosting import Deployment, HostingSpec


def _deployment(route: endpoint_runner.EndpointRoute, action: str = "") -> Deployment:
    running = endpoint_runner.is_our_server(route.pid, route.port)
    return Deployment(
        endpoint=route.endpoint,
        status="InService" if running else "OutOfService",
        version=route.version,
        model_uri=route.model_uri,
        action=action,
        url=route.url,
        pid=route.pid,
    )


class LocalHosting:
    """``Hosting`` by the local endpoint runner: one serving process per endpoint."""

    default_image: str | None = endpoint_runner.LOCAL_IMAGE

    def __init__(self, platform: Platform, health_timeout: float = endpoint_runner.HEALTH_TIMEOUT_S) -> None:
        self._platform = platform
        self.health_timeout = health_timeout

    def deploy(self, spec: HostingSpec) -> Deployment:
        previous = endpoint_runner.read_route(self._platform, spec.endpoint)
        route = endpoint_runner.deploy(self._platform, spec, self.health_timeout)
        action = "updated" if previous is not None else "created"
        return replace(_deployment(route, action), model=spec.model_name, endpoint_config=spec.endpoint_config_name)

    def status(self, endpoint: str) -> Deployment | None:
        route = endpoint_runner.read_route(self._platform, endpoint)
        return None if route is None else _deployment(route)

    def stop(self, endpoint: str) -> Deployment | None:
        route = endpoint_runner.stop(self._platform, endpoint)
        return None if route is None else replace(_deployment(route), status="Stopped")

    def model_uri_of_package(self, package_arn: str) -> str:
        return SageMakerHosting(clients_of(self._platform)).model_uri_of_package(package_arn)


class LocalEndpoint:
    """``Endpoint`` on the local serving process of endpoint ``name`` (default: the stack's endpoint)."""

    def __init__(self, platform: Platform, name: str | None = None, timeout: float = 60.0) -> None:
        self._platform = platform
        self.name = name or platform.outputs.endpoint_name
        self.timeout = timeout

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        route = endpoint_runner.read_route(self._platform, self.name)
        if route is None:
            raise EndpointNotFoundError(self.name, "is not deployed locally: run `mlops deploy <dataset>`")
        try:
            answer = endpoint_runner.invoke(route, body, content_type, accept, self.timeout)
        except httpx.HTTPError as exc:
            raise EndpointUnavailableError(self.name, f"does not answer at {route.url}: {exc}") from exc
        if answer.status_code >= 400:
            raise invocation_error(self.name, answer.status_code, answer.content)
        return Invocation(answer.content, answer.headers.get("content-type", accept))
