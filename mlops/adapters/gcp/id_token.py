"""Google ID tokens for the kit's MLflow server on Google Cloud (a Cloud Run service that admits only callers
holding ``roles/run.invoker`` and presenting an ID token for its URL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def google_id_token(audience: str, fetch: Callable[[Any, str], str] | None = None) -> dict[str, str]:
    """``MLFLOW_TRACKING_TOKEN``: a Google ID token for ``audience`` (the Cloud Run service URL of the stack's
    MLflow server, which admits only callers holding ``roles/run.invoker``), from Application Default Credentials
    (the metadata server in Vertex and Cloud Run, a service account key or ``gcloud auth`` elsewhere)."""
    import google.auth.transport.requests

    token = (fetch or _fetch_with_adc)(google.auth.transport.requests.Request(), audience)
    return {"MLFLOW_TRACKING_TOKEN": token}


def _fetch_with_adc(request: Any, audience: str) -> str:
    from google.oauth2 import id_token

    return str(id_token.fetch_id_token(request, audience))  # type: ignore[no-untyped-call]
