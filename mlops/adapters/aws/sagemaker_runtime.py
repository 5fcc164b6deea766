"""``Endpoint`` on SageMaker: ``sagemaker-runtime InvokeEndpoint`` on one endpoint.

SageMaker answers a model server's own 4xx/5xx with ``ModelError`` (HTTP 424) carrying the server's status and
body (``OriginalStatusCode``, ``OriginalMessage``): the adapter unwraps them so callers see the model server's
status and message, as they would from the local process. An unknown endpoint is a ``ValidationError`` whose
message says "not found"; ``ServiceUnavailable``/``ModelNotReadyException`` and connection failures mean nothing
answered.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.endpoint import (
    EndpointError,
    EndpointNotFoundError,
    EndpointThrottledError,
    EndpointUnavailableError,
    Invocation,
    invocation_error,
)

_UNAVAILABLE = {"ServiceUnavailable", "ModelNotReadyException", "InternalFailure", "InternalDependencyException"}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException"}


class SageMakerRuntimeEndpoint:
    """``Endpoint`` on the SageMaker endpoint ``name``."""

    def __init__(self, clients: ClientFactory, name: str) -> None:
        self._clients = clients
        self.name = name

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
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
        code = str(error.get("Code", ""))
        message = str(error.get("Message", exc))
        if code == "ModelError":
            status = int(response.get("OriginalStatusCode") or _http_status(response))
            return invocation_error(self.name, status, str(response.get("OriginalMessage") or message))
        if code == "ValidationError" and "not found" in message.lower():
            return EndpointNotFoundError(self.name, f"is not deployed: {message}")
        if code in _UNAVAILABLE:
            return EndpointUnavailableError(self.name, f"is unavailable ({code}): {message}")
        if code in _THROTTLED:
            return EndpointThrottledError(self.name, f"throttled the invocation ({code}): {message}")
        return invocation_error(self.name, _http_status(response), message)


def _http_status(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
