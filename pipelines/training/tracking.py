"""MLflow wiring: tracking URI from the stack outputs, artifacts in the models bucket, the right AWS env.

MLflow reads its S3 endpoint and credentials from the process environment, so :func:`mlflow_session` sets
them (from ``clients.subprocess_env()``) for the duration of a block and restores the previous values after.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops.local.platform import Platform


def mlflow_env(platform: Platform) -> dict[str, str]:
    """Environment MLflow (in process or as ``mlflow ui``) needs to reach the tracking store and artifacts."""
    return {**platform.clients.subprocess_env(), "MLFLOW_TRACKING_URI": platform.outputs.mlflow_tracking_uri}


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


def artifact_location(platform: Platform, dataset: str) -> str:
    return f"s3://{platform.outputs.bucket_for_zone('models')}/mlflow/{dataset}"


def ensure_experiment(client: Any, platform: Platform, dataset: str) -> str:
    """The dataset's experiment id, created with its artifact location in the models bucket if absent."""
    experiment = client.get_experiment_by_name(dataset)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(client.create_experiment(dataset, artifact_location=artifact_location(platform, dataset)))


def code_version(repo: Path | None = None) -> str:
    """The git commit of the code that trains (``unknown`` outside a git checkout)."""
    where = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha or "unknown"
