"""Training-side MLflow helpers: each dataset's experiment with its artifacts in the models bucket, and the
code version runs record. The session wiring itself is shared with serving in :mod:`mlops.tracking`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from mlops.local.platform import Platform


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
