"""Endpoint port: score a payload on a deployed model endpoint (SageMaker runtime, the local serving process,
memory), whichever implementation the wiring chose.

Every implementation answers the same way: the model server's body in the ``accept`` type, or one of these
errors, named after the condition rather than the service that reported it:

- :class:`EndpointNotFoundError` (a :class:`~mlops.ports.errors.NotFoundError`): no such endpoint is deployed;
- :class:`EndpointInvocationError`: the model server answered with a 4xx/5xx; ``status`` is the server's own
  status (SageMaker wraps it in a ``ModelError``; the adapter unwraps it) and the message is the server's;
- :class:`EndpointUnavailableError` (an :class:`~mlops.ports.errors.UnavailableError`): nothing answered;
- :class:`EndpointThrottledError`: the service refused the call for rate, after the adapter's retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from mlops.ports.errors import NotFoundError, PortError, ThrottledError, UnavailableError


class EndpointError(PortError):
    """Invoking ``endpoint`` failed; the message names it."""

    def __init__(self, endpoint: str, detail: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"endpoint {endpoint!r} {detail}")


class EndpointNotFoundError(EndpointError, NotFoundError):
    """No endpoint of that name is deployed."""


class EndpointUnavailableError(EndpointError, UnavailableError):
    """The endpoint (or the service in front of it) did not answer at all."""


class EndpointThrottledError(EndpointError, ThrottledError):
    """The service refused the invocation for rate or capacity."""


class EndpointInvocationError(EndpointError):
    """The model server answered the invocation with an error; ``status`` is its HTTP status."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(endpoint, f"answered {status}: {message}")


@dataclass(frozen=True)
class Invocation:
    """An endpoint's answer: the model server's body and its media type."""

    body: bytes
    content_type: str


class Endpoint(Protocol):
    """One model endpoint that scores payloads (the SageMaker hosting contract's ``POST /invocations``)."""

    name: str

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        """Score ``body`` (CSV, JSON lines or MLflow JSON); the answer is in ``accept``'s type."""
        ...


def error_message(body: bytes | str) -> str:
    """The message of a model server's error body: its JSON ``message`` (the kit's and MLflow's error shape),
    else the body as text."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return text


def invocation_error(endpoint: str, status: int, body: bytes | str) -> EndpointInvocationError:
    """The error every implementation raises for a model server's 4xx/5xx answer, so they read the same."""
    return EndpointInvocationError(endpoint, status, error_message(body))
