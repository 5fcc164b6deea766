"""The training pipeline wired end to end: features -> split -> training job -> MLflow + registry.

Each stage is a plain function over a :class:`~mlops.local.platform.Platform`; the pure steps are in
:mod:`pipelines.training.steps`, the container side in :mod:`pipelines.training.entry_point`.
"""

from __future__ import annotations

import secrets
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.datasets import DatasetDefinition
from mlops.errors import TrainingDataError, TrainingJobFailedError
from mlops.local.platform import Platform
from mlops.local.training_runner import TrainingJobRecord, job_prefix, run_training_job
from mlops.modeling.spec import ModelSpec
from mlops.tracking import mlflow_session
from pipelines.feature_store.offline import labelled_rows, load_features
from pipelines.registry.register import Registration, register_challenger
from pipelines.training import steps
from pipelines.training.entry_point import METRIC_DEFINITIONS
from pipelines.training.hyperparameters import to_strings
from pipelines.training.tracking import code_version

ENTRY_MODULE = "pipelines.training.entry_point"
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class TrainingOutcome:
    """A finished training run: the job, the data version it saw, its metrics and where it was registered."""

    dataset: str
    table_version: int
    job: TrainingJobRecord
    registration: Registration
    code_version: str


def new_job_name(dataset: str, now: datetime | None = None) -> str:
    """A SageMaker-valid job name (letters, digits, hyphens; at most 63 characters)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = dataset.replace("_", "-")[: 63 - len(stamp) - 6]
    return f"{base}-{stamp}-{secrets.token_hex(2)}"


def prepare_channels(
    platform: Platform, definition: DatasetDefinition, job_name: str, version: int | None, cutoff: datetime
) -> tuple[dict[str, str], int]:
    """Labelled rows at the feature table ``version``, split by time, written as the job's Parquet channels."""
    snapshot = load_features(platform, definition, version)
    spec = ModelSpec.from_definition(definition)
    rows = labelled_rows(snapshot.frame, definition, cutoff)
    if rows.empty:
        raise TrainingDataError(
            f"dataset {definition.name!r}: no labelled rows at feature table version {snapshot.version} are known "
            f"at cutoff {cutoff.isoformat()} (label arrival delay {definition.label.arrival_delay})"
        )
    split = steps.time_split(rows, spec, VALIDATION_FRACTION)
    bucket, prefix = job_prefix(platform, job_name)
    filesystem = platform.clients.arrow_filesystem()
    channels: dict[str, str] = {}
    for name, frame in (("train", split.train), ("validation", split.validation)):
        columns = list(dict.fromkeys([*definition.primary_key, definition.event_time, *spec.features, spec.label]))
        frame[columns].to_parquet(f"{bucket}/{prefix}/input/{name}/part-0.parquet", filesystem=filesystem, index=False)
        channels[name] = f"s3://{bucket}/{prefix}/input/{name}/"
    return channels, snapshot.version


def train_dataset(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    version: int | None = None,
    hyperparameters: Mapping[str, str] | None = None,
    cutoff: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingOutcome:
    """Train on the feature table at ``version`` and register the model as ``challenger``.

    A failed job raises :class:`TrainingJobFailedError` (its record says Failed, nothing is registered).
    """
    say = progress or (lambda _message: None)
    spec = ModelSpec.from_definition(definition)
    strings = to_strings(spec, hyperparameters)  # invalid values fail here, before any job exists
    job_name = new_job_name(definition.name)
    say(f"preparing channels for {job_name}")
    channels, table_version = prepare_channels(platform, definition, job_name, version, cutoff or datetime.now(UTC))
    say(f"running training job {job_name}")
    record = run_training_job(
        platform, job_name, channels, strings, entry_module=ENTRY_MODULE, metric_definitions=METRIC_DEFINITIONS
    )
    if record.status != "Completed":
        raise TrainingJobFailedError(job_name, record.failure_reason)
    say("registering the model")
    sha = code_version()
    lineage = {
        "dataset_version": str(table_version),
        "training_job": job_name,
        "code_version": sha,
        "holdout_uri": channels["validation"],
        "model_artifact": record.model_artifact,
    }
    with tempfile.TemporaryDirectory() as tmp, mlflow_session(platform) as client:
        model_dir, summary = fetch_model(platform, record, Path(tmp))
        registration = register_challenger(
            platform, client, definition.name, record, model_dir=model_dir, summary=summary, lineage=lineage
        )
    return TrainingOutcome(definition.name, table_version, record, registration, sha)


def fetch_model(platform: Platform, record: TrainingJobRecord, into: Path) -> tuple[Path, dict[str, Any]]:
    """Download and unpack the job's ``model.tar.gz``; returns the MLflow model dir and ``metrics.json``."""
    import json

    bucket, _, key = record.model_artifact.removeprefix("s3://").partition("/")
    archive = into / "model.tar.gz"
    platform.clients.client("s3").download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(into / "model", filter="data")
    summary: dict[str, Any] = json.loads((into / "model" / "metrics.json").read_text())
    return into / "model" / "mlflow_model", summary
