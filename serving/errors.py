"""Errors of the serving path. Each maps to one HTTP status and names the field or header at fault."""

from __future__ import annotations

# Deployment and invocation errors are the hosting and endpoint ports' (every implementation raises them);
# serving re-exports them under their old names.
from mlops.errors import DeploymentError, MlopsError
from mlops.ports.endpoint import EndpointInvocationError

__all__ = [
    "BadPayloadError",
    "DeploymentError",
    "EndpointInvocationError",
    "InvocationError",
    "ModelLoadError",
    "NotAcceptableError",
    "PayloadTooLargeError",
    "PredictionError",
    "UnsupportedContentTypeError",
]


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
