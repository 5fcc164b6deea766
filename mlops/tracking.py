"""MLflow wiring shared by training, the registry and serving: tracking URI from the stack outputs, and the
AWS settings MLflow's S3 artifact store reads from the process environment.

MLflow takes its S3 endpoint and credentials from ``os.environ`` (not from a client object), so
:func:`mlflow_session` sets them from the client factory for the duration of a block and restores the previous
values after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlops.local.platform import Platform

# Progress bars of artifact downloads would interleave with the CLI's own progress display.
_QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def mlflow_env(platform: Platform) -> dict[str, str]:
    """Environment MLflow (in process, as ``mlflow ui`` or in a serving process) needs to reach the stack."""
    return {
        **platform.clients.subprocess_env(),
        **_QUIET,
        "MLFLOW_TRACKING_URI": platform.outputs.mlflow_tracking_uri,
    }


@contextmanager
def mlflow_session(platform: Platform) -> Iterator[Any]:
    """Point MLflow at the stack for the block; yields an ``MlflowClient``."""
    import mlflow
    from mlflow import MlflowClient

    env = mlflow_env(platform)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(env["MLFLOW_TRACKING_URI"])
        yield MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
