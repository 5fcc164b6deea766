"""Invoking a deployed model endpoint: one interface, SageMaker runtime on AWS, the local process otherwise.

Both implementations take the same body, content type and accept, and raise
:class:`~serving.errors.EndpointInvocationError` carrying the endpoint's status and message on a 4xx/5xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import DeploymentError, EndpointInvocationError
from mlops.local.platform import Platform


@dataclass(frozen=True)
class Invocation:
    """An endpoint's answer."""

    body: bytes
    content_type: str


class Endpoint(Protocol):
    """A model endpoint that scores payloads."""

    name: str

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        """Score ``body`` (CSV, JSON lines or MLflow JSON); the answer is in ``accept``'s type."""
        ...


class SageMakerEndpoint:
    """``sagemaker-runtime invoke_endpoint`` on the stack's endpoint."""

    def __init__(self, clients: ClientFactory, name: str) -> None:
        self._clients = clients
        self.name = name

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        from botocore.exceptions import ClientError

        runtime = self._clients.client("sagemaker-runtime")
        try:
            answer = runtime.invoke_endpoint(EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept)
        except ClientError as exc:
            error = exc.response["Error"]
            status = int(exc.response.get("OriginalStatusCode") or exc.response["ResponseMetadata"]["HTTPStatusCode"])
            raise EndpointInvocationError(self.name, status, error.get("Message", str(exc))) from exc
        return Invocation(answer["Body"].read(), answer.get("ContentType", accept))


class LocalEndpoint:
    """The serving process started by ``mlops deploy`` on the embedded emulator (see the endpoint runner)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.name = platform.outputs.endpoint_name

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        import httpx

        from mlops.local import endpoint_runner

        route = endpoint_runner.read_route(self._platform)
        if route is None:
            raise DeploymentError(f"endpoint {self.name!r} is not deployed locally: run `mlops deploy <dataset>`")
        try:
            answer = endpoint_runner.invoke(route, body, content_type, accept)
        except httpx.HTTPError as exc:
            raise EndpointInvocationError(self.name, 503, f"{route.url} does not answer: {exc}") from exc
        if answer.status_code >= 400:
            message = answer.json().get("message", answer.text) if _is_json(answer.headers) else answer.text
            raise EndpointInvocationError(self.name, answer.status_code, message)
        return Invocation(answer.content, answer.headers.get("content-type", accept))


def _is_json(headers: object) -> bool:
    return "json" in str(getattr(headers, "get", lambda *_: "")("content-type", ""))


def endpoint_for(platform: Platform) -> Endpoint:
    """SageMaker runtime on AWS; the local serving process on the emulator (moto's invoke_endpoint is canned)."""
    if platform.settings.target == "aws":
        return SageMakerEndpoint(platform.clients, platform.outputs.endpoint_name)
    return LocalEndpoint(platform)
