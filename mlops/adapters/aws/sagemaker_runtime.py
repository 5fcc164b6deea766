"""``Endpoint`` on SageMaker: ``sagemaker-runtime InvokeEndpoint`` on one endpoint.

SageMaker answers a model server's own 4xx/5xx with ``ModelError`` (HTTP 424) carrying the server's status and
body (``OriginalStatusCode``, ``OriginalMessage``): the adapter unwraps them so callers see the model server's
status and message, as they would from the local process. An unknown endpoint is a ``ValidationError`` whose
message says "not found"; ``ServiceUnavailable``/``ModelNotReadyException`` and connection failures mean nothing
answered. :func:`runtime_error` reads such an error from its parts, so a plain HTTP client of the runtime API (the
local front door's, :mod:`mlops.local.hosting`) raises the same errors without botocore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.endpoint import (
    EndpointError,
    EndpointNotFoundError,
    EndpointThrottledError,
    EndpointUnavailableError,
    Invocation,
    invocation_error,
)

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_UNAVAILABLE = {"ServiceUnavailable", "ModelNotReadyException", "InternalFailure", "InternalDependencyException"}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException"}


class SageMakerRuntimeEndpoint:
    """``Endpoint`` on the SageMaker endpoint ``name``."""

    def __init__(self, clients: ClientFactory, name: str) -> None:
        self._clients = clients
        self.name = name

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        from botocore.exceptions import ClientError, ReadTimeoutError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        runtime = self._clients.client("sagemaker-runtime")
        try:
            answer = runtime.invoke_endpoint(EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept)
        except ClientError as exc:
            raise self._error(exc) from exc
        except (BotoConnectionError, ReadTimeoutError) as exc:
            raise EndpointUnavailableError(self.name, f"did not answer: {exc}") from exc
        return Invocation(answer["Body"].read(), answer.get("ContentType", accept))

    def _error(self, exc: ClientError) -> EndpointError:
        response: dict[str, Any] = exc.response
        error = response.get("Error", {})
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
        return runtime_error(self.name, str(error.get("Code", "")), str(error.get("Message", exc)), status, response)


def runtime_error(endpoint: str, code: str, message: str, status: int, fields: dict[str, Any]) -> EndpointError:
    """The port's error for the runtime API's error ``code`` (HTTP ``status``; ``fields``: the error's other
    members, a ``ModelError``'s ``OriginalStatusCode``/``OriginalMessage``) on ``endpoint``."""
    if code == "ModelError":
        original = int(fields.get("OriginalStatusCode") or status)
        return invocation_error(endpoint, original, str(fields.get("OriginalMessage") or message))
    if code == "ValidationError" and "not found" in message.lower():
        return EndpointNotFoundError(endpoint, f"is not deployed: {message}")
    if code in _UNAVAILABLE:
        return EndpointUnavailableError(endpoint, f"is unavailable ({code}): {message}")
    if code in _THROTTLED:
        return EndpointThrottledError(endpoint, f"throttled the invocation ({code}): {message}")
    return invocation_error(endpoint, status or 400, message)
