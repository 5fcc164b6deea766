"""MLflow for code that reads registered models by URI (serving, ``mlops mlflow ui``): the environment and a
session pointed at the platform's model registry.

The registry service (:mod:`mlops.registry`) owns where MLflow is; these helpers only hand its environment
(tracking URI, artifact-store endpoint and credentials) to MLflow for a block or to a child process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlops.platform import Platform
from mlops.registry.session import MlflowConnection


def mlflow_env(platform: Platform) -> dict[str, str]:
    """Environment MLflow (in process, as ``mlflow ui`` or in a serving process) needs to reach the registry."""
    return platform.services.model_registry.environment()


@contextmanager
def mlflow_session(platform: Platform) -> Iterator[Any]:
    """Point MLflow at the platform's registry for the block; yields an ``MlflowClient``."""
    env = mlflow_env(platform)
    tracking_uri = env.pop("MLFLOW_TRACKING_URI")
    with MlflowConnection(tracking_uri, env).session() as client:
        yield client
