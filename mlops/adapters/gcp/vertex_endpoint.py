"""``Endpoint`` on a Vertex AI endpoint (``target: gcp``): ``rawPredict``, which forwards the body and its content
type as they are to the serving container's ``AIP_PREDICT_ROUTE`` and answers the container's body.

So every body the serving container reads works here (CSV, JSON lines, MLflow's JSON, Vertex's
``{"instances": [...]}``, answered ``{"predictions": [...]}`` one object per instance). ``rawPredict`` carries no
``Accept``: the container answers in its default type (JSON). Vertex's errors are named by condition: an unknown
endpoint (or one with nothing deployed) is :class:`~mlops.ports.endpoint.EndpointNotFoundError`, ``UNAVAILABLE`` and
deadline errors :class:`~mlops.ports.endpoint.EndpointUnavailableError`, quota errors
:class:`~mlops.ports.endpoint.EndpointThrottledError`; the container's own 4xx/5xx keep their status and message.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.vertex_hosting import api_endpoint, find_endpoint
from mlops.outputs import StackOutputs
from mlops.ports.endpoint import (
    EndpointError,
    EndpointNotFoundError,
    EndpointThrottledError,
    EndpointUnavailableError,
    Invocation,
    invocation_error,
)

_UNAVAILABLE = (google_errors.ServiceUnavailable, google_errors.DeadlineExceeded, google_errors.RetryError)
_THROTTLED = (google_errors.TooManyRequests, google_errors.ResourceExhausted)


class VertexEndpoint:
    """``Endpoint`` on the Vertex AI endpoint whose display name is ``name``."""

    def __init__(
        self,
        clients: GcpClients,
        outputs: StackOutputs,
        name: str,
        *,
        predictions: Any = None,
        endpoints: Any = None,
    ) -> None:
        """``predictions`` and ``endpoints``: Vertex's prediction and endpoint service clients (default: created on
        first use on the location's endpoint)."""
        self._clients = clients
        self._outputs = outputs
        self.name = name
        self._given = {"predictions": predictions, "endpoints": endpoints}

    @cached_property
    def _predictions(self) -> Any:
        from google.cloud import aiplatform_v1

        given = self._given["predictions"]
        return given or aiplatform_v1.PredictionServiceClient(client_options=api_endpoint(self._clients))

    @cached_property
    def _resource(self) -> str:
        """The endpoint's resource name (looked up once: an endpoint keeps its id)."""
        from google.cloud import aiplatform_v1

        endpoints = self._given["endpoints"] or aiplatform_v1.EndpointServiceClient(
            client_options=api_endpoint(self._clients)
        )
        try:
            found = find_endpoint(endpoints, self._clients, self._outputs, self.name)
        except google_errors.GoogleAPIError as exc:
            raise self._error(exc) from exc
        if found is None:
            raise EndpointNotFoundError(self.name, "is not deployed: no Vertex AI endpoint has that display name")
        return found

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        from google.api import httpbody_pb2  # type: ignore[import-untyped]

        try:
            answer = self._predictions.raw_predict(
                endpoint=self._resource, http_body=httpbody_pb2.HttpBody(content_type=content_type, data=body)
            )
        except google_errors.GoogleAPIError as exc:
            raise self._error(exc) from exc
        return Invocation(bytes(answer.data), str(answer.content_type or accept))

    def _error(self, exc: google_errors.GoogleAPIError) -> EndpointError:
        message = str(getattr(exc, "message", exc))
        if isinstance(exc, google_errors.NotFound):
            return EndpointNotFoundError(self.name, f"is not deployed: {message}")
        if isinstance(exc, google_errors.FailedPrecondition) and "deployed" in message.lower():
            return EndpointNotFoundError(self.name, f"is not deployed (no model deployed): {message}")
        if isinstance(exc, _UNAVAILABLE):
            return EndpointUnavailableError(self.name, f"is unavailable ({type(exc).__name__}): {message}")
        if isinstance(exc, _THROTTLED):
            return EndpointThrottledError(self.name, f"throttled the invocation ({type(exc).__name__}): {message}")
        status = getattr(exc, "code", None)
        return invocation_error(self.name, int(status) if isinstance(status, int) else 500, message)
