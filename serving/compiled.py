"""Which implementation scores a served sklearn model: its compiled form when the registry stored one, else the
plain estimator.

A version registered with a compiled model carries its URI in its tags (:mod:`mlops.registry.compiled`). The
deployment setting ``SERVING_MODEL_ENGINE`` chooses: ``auto`` (default) uses the compiled model when there is one,
``plain`` always the sklearn estimator. A compiled model that cannot be read or loaded is logged and the plain
model serves: the compiled path only ever makes a server faster, never unavailable.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serving.errors import ModelLoadError

log = logging.getLogger("serving.compiled")

ENGINE_ENV = "SERVING_MODEL_ENGINE"
AUTO, PLAIN = "auto", "plain"
ENGINES = (AUTO, PLAIN)


def engine_from(env: Mapping[str, str]) -> str:
    """The deployment's engine setting; an unknown value is a load error naming the allowed ones."""
    engine = env.get(ENGINE_ENV, AUTO).strip().lower() or AUTO
    if engine not in ENGINES:
        raise ModelLoadError(f"{ENGINE_ENV}={engine!r} is not one of {', '.join(ENGINES)}")
    return engine


def estimator_for(plain: Any, version_tags: Mapping[str, str], engine: str) -> tuple[Any, str]:
    """(what scores, its name: ``onnx`` or ``sklearn``) for a version with ``version_tags``."""
    from mlops.registry.compiled import compiled_uri

    uri = compiled_uri(version_tags)
    if engine == PLAIN or uri is None:
        return plain, "sklearn"
    try:
        return _load(uri), "onnx"
    except Exception as exc:  # a broken or unreachable artifact: the plain model still serves
        log.warning("compiled model not used", extra={"uri": uri, "error": f"{type(exc).__name__}: {exc}"})
        return plain, "sklearn"


def _load(uri: str) -> Any:
    import mlflow.artifacts

    from mlops.modeling.compiled import load

    with tempfile.TemporaryDirectory(prefix="compiled-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        return load(Path(local).read_bytes())


def version_tags(tracking_uri: str | None, name: str, version: str) -> dict[str, str]:
    """The tags of a registered version (empty for a model loaded from a path, or when they cannot be read)."""
    if not tracking_uri or not version:
        return {}
    import mlflow

    try:
        client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)  # never MLflow's process-wide registry
        return dict(client.get_model_version(name, version).tags or {})
    except Exception as exc:  # the tags only choose the engine: the plain model serves without them
        log.warning("version tags unreadable", extra={"model": name, "version": version, "error": str(exc)})
        return {}
