"""``Hosting`` and ``Endpoint`` on this machine, for the emulator targets (moto stores SageMaker endpoints but
serves nothing: its ``invoke_endpoint`` answers canned bytes).

:class:`LocalHosting` deploys through the endpoint runner (health-checked process, the emulator's
model/config/endpoint records, the blue/green shift of :mod:`mlops.local.deployment`). :class:`LocalEndpoint`
invokes through the SageMaker runtime API, which the front door answers from the local processes: the request an
application's ``boto3.client("sagemaker-runtime").invoke_endpoint`` sends, with SageMaker's errors, posted with a
plain HTTP client (the front door takes unsigned requests): ``mlops predict`` then loads neither boto3 nor botocore
nor httpx, whose imports cost more than the whole local call. Without a front door (an emulator the kit did not
start, e.g. LocalStack) it posts to the serving process directly. Model packages are read from the emulator's
SageMaker, as the SageMaker adapter reads them from AWS.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import asdict, replace
from typing import Any
from urllib.parse import quote, urlsplit

from mlops.adapters.aws.sagemaker_runtime import runtime_error
from mlops.local import endpoint_runner
from mlops.local.clients import clients_of
from mlops.local.frontdoor.client import frontdoor_url
from mlops.local.frontdoor.routing import EndpointTable
from mlops.platform import Platform
from mlops.ports.endpoint import (
    EndpointError,
    EndpointNotFoundError,
    EndpointUnavailableError,
    Invocation,
    invocation_error,
)
from mlops.ports.hosting import Deployment, HostingSpec


def _fleets(table: EndpointTable) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "fleet": f.fleet,
            "variant": f.variant,
            "version": f.version,
            "weight": f.weight,
            "pid": f.pid,
            "url": f.url,
            "running": endpoint_runner.is_our_server(f.pid, f.port),
        }
        for f in table.fleets
    )


def deployment_of(table: EndpointTable, action: str = "") -> Deployment:
    """What the endpoint serves, from its routing table: the primary fleet, every fleet, the last rollout."""
    primary = table.primary
    running = endpoint_runner.is_our_server(primary.pid, primary.port)
    status = table.deployment.status if running else "OutOfService"
    rollout = {k: v for k, v in asdict(table.deployment).items() if v not in ("", (), 0.0, False)}
    return Deployment(
        endpoint=table.endpoint,
        status=status,
        version=primary.version,
        model_uri=primary.model_uri,
        model=primary.model_name or None,
        endpoint_config=primary.endpoint_config or None,
        action=action,
        url=primary.url,
        pid=primary.pid,
        fleets=_fleets(table),
        rollout=rollout or None,
    )


class LocalHosting:
    """``Hosting`` by the local endpoint runner: serving processes behind the front door."""

    default_image: str | None = endpoint_runner.LOCAL_IMAGE

    def __init__(self, platform: Platform, health_timeout: float = endpoint_runner.HEALTH_TIMEOUT_S) -> None:
        self._platform = platform
        self.health_timeout = health_timeout

    def deploy(self, spec: HostingSpec) -> Deployment:
        previous = endpoint_runner.read_table(self._platform, spec.endpoint)
        table = endpoint_runner.deploy(self._platform, spec, self.health_timeout)
        action = "rolled back" if table.deployment.rolled_back else "updated" if previous is not None else "created"
        deployment = deployment_of(table, action)
        if table.deployment.rolled_back:
            return deployment
        return replace(deployment, model=spec.model_name, endpoint_config=spec.endpoint_config_name)

    def status(self, endpoint: str) -> Deployment | None:
        table = endpoint_runner.read_table(self._platform, endpoint)
        return None if table is None or not table.fleets else deployment_of(table)

    def stop(self, endpoint: str) -> Deployment | None:
        table = endpoint_runner.read_table(self._platform, endpoint)
        if table is None or not table.fleets:
            endpoint_runner.stop(self._platform, endpoint)
            return None
        endpoint_runner.stop(self._platform, endpoint)
        return replace(deployment_of(table), status="Stopped")

    def model_uri_of_package(self, package_arn: str) -> str:
        from mlops.adapters.aws.sagemaker_hosting import SageMakerHosting

        return SageMakerHosting(clients_of(self._platform)).model_uri_of_package(package_arn)


class LocalEndpoint:
    """``Endpoint`` ``name`` (default: the stack's endpoint) through the SageMaker runtime API of the front door."""

    def __init__(self, platform: Platform, name: str | None = None, timeout: float = 60.0) -> None:
        self._platform = platform
        self.name = name or platform.outputs.endpoint_name
        self.timeout = timeout

    def _frontdoor(self) -> str | None:
        """The front door's URL when the platform's clients talk to it (not when they reach another emulator)."""
        url = frontdoor_url(self._platform.settings)
        return url if url is not None and clients_of(self._platform).endpoint_url == url else None

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        url = self._frontdoor()
        if url is not None:
            return self._invoke_frontdoor(url, body, content_type, accept)
        return self._invoke_process(body, content_type, accept)

    def _invoke_frontdoor(self, url: str, body: bytes, content_type: str, accept: str) -> Invocation:
        """``InvokeEndpoint`` on the front door: its rest-json errors read as botocore would read them."""
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=self.timeout)
        headers = {"Content-Type": content_type, "Accept": accept}
        try:
            connection.request("POST", f"/endpoints/{quote(self.name, safe='')}/invocations", body, headers)
            answer = connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise EndpointUnavailableError(self.name, f"did not answer at {url}: {exc!r}") from exc
        finally:
            connection.close()
        if answer.status >= 400:
            raise _frontdoor_error(self.name, answer.status, answer.getheader("x-amzn-errortype", ""), content)
        return Invocation(content, answer.getheader("content-type", accept))

    def _invoke_process(self, body: bytes, content_type: str, accept: str) -> Invocation:
        import httpx

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


def _frontdoor_error(endpoint: str, status: int, error_type: str, content: bytes) -> EndpointError:
    """The port's error for a rest-json error answer (its code in ``x-amzn-ErrorType``, as botocore reads it)."""
    code = error_type.partition(":")[0]
    try:
        fields = json.loads(content)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return invocation_error(endpoint, status, content)
    message = str(fields.get("message") or fields.get("Message") or content.decode(errors="replace"))
    return runtime_error(endpoint, code, message, status, fields)
