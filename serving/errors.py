"""Errors of the serving path. Each maps to one HTTP status and names the field or header at fault.

``error_code`` is the code MLflow's scoring server answers with for the same kind of failure (its error body is
``{"error_code", "message"}``): ``INVALID_PARAMETER_VALUE`` for a body that cannot be read, ``BAD_REQUEST`` for one
that does not fit the model (or a header the server cannot honour), ``INTERNAL_ERROR`` for the server's own failure.
"""

from __future__ import annotations

# Deployment and invocation errors are the hosting and endpoint ports' (every implementation raises them);
# serving re-exports them under their old names.
from mlops.errors import DeploymentError, MlopsError
from mlops.ports.endpoint import EndpointInvocationError

__all__ = [
    "BadPayloadError",
    "BodyTimeoutError",
    "DeploymentError",
    "EndpointInvocationError",
    "InternalServerError",
    "InvocationError",
    "ModelLoadError",
    "NotAcceptableError",
    "PayloadTooLargeError",
    "PredictionError",
    "SignatureMismatchError",
    "UnsupportedContentTypeError",
]


class InvocationError(MlopsError):
    """A request the server refuses; ``status`` is the HTTP status it answers with."""

    status = 400
    error_code = "BAD_REQUEST"


class BadPayloadError(InvocationError):
    """The body cannot be parsed or does not match the model's signature (400)."""

    status = 400
    error_code = "INVALID_PARAMETER_VALUE"


class SignatureMismatchError(BadPayloadError):
    """The body parses but its columns or values do not fit the model's signature (400)."""

    error_code = "BAD_REQUEST"


class BodyTimeoutError(InvocationError):
    """The client did not send the whole body in time (408); the connection is closed."""

    status = 408


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
    error_code = "INTERNAL_ERROR"


class InternalServerError(InvocationError):
    """The server itself failed on a request (500, a bug): answered as JSON, the server keeps serving."""

    status = 500
    error_code = "INTERNAL_ERROR"


class ModelLoadError(MlopsError):
    """The model could not be resolved or loaded from the registry; names the model URI."""
