"""Errors of the serving path. Each maps to one HTTP status and names the field or header at fault."""

from __future__ import annotations

from mlops.errors import MlopsError


class InvocationError(MlopsError):
    """A request the server refuses; ``status`` is the HTTP status it answers with."""

    status = 400


class BadPayloadError(InvocationError):
    """The body cannot be parsed or does not match the model's signature (400)."""

    status = 400


class UnsupportedContentTypeError(InvocationError):
    """The request's ``Content-Type`` is not one the server reads (415)."""

    status = 415


class NotAcceptableError(InvocationError):
    """The request's ``Accept`` names no type the server writes (406)."""

    status = 406


class PayloadTooLargeError(InvocationError):
    """The body exceeds the size limit (413), like SageMaker's 6 MB InvokeEndpoint limit."""

    status = 413


class PredictionError(InvocationError):
    """The model raised while predicting valid input (500); the server keeps serving."""

    status = 500


class ModelLoadError(MlopsError):
    """The model could not be resolved or loaded from the registry; names the model URI."""


class DeploymentError(MlopsError):
    """A deployment did not take traffic (failed health check, AWS error); names the endpoint and version."""


class EndpointInvocationError(MlopsError):
    """An endpoint answered an invocation with an error; carries the status and the server's message."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"endpoint {endpoint!r} answered {status}: {message}")
