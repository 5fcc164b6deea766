"""Local SageMaker training: create the job in the emulator, run its entry point here, record the real outcome.

moto accepts ``CreateTrainingJob`` and marks the job Completed at once without running anything. The runner
therefore does SageMaker's data plane itself: it stages the channels from S3 into an ``/opt/ml``-shaped
directory, runs the entry point in a subprocess with ``MLOPS_SM_ROOT`` pointing there, uploads
``model.tar.gz`` to ``s3://<models>/training-jobs/<job>/output/model.tar.gz`` and writes the kit's own record of
the outcome next to it (``status.json``) and as job tags. :func:`describe_job` reads that record; nothing should
trust moto's ``TrainingJobStatus``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.errors import TrainingError
from mlops.local.clients import clients_of
from mlops.platform import Platform

LOCAL_IMAGE = "mlops-kit/training:local"  # recorded on the job; the runner executes the entry point in-host
ROOT_ENV = "MLOPS_SM_ROOT"
STATUS_TAG = "mlops:status"
REASON_TAG = "mlops:failure-reason"
_TAG_VALUE_LIMIT = 256


@dataclass(frozen=True)
class TrainingJobRecord:
    """The kit's record of a training job's real outcome (moto's status is meaningless)."""

    job_name: str
    job_arn: str
    status: str  # Completed | Failed
    failure_reason: str
    channels: dict[str, str]
    hyperparameters: dict[str, str]
    metrics: dict[str, float]
    model_artifact: str
    started_at: str
    ended_at: str
    seconds: float
    log_tail: list[str] = field(default_factory=list)


def job_prefix(platform: Platform, job_name: str) -> tuple[str, str]:
    """Bucket and key prefix of a job's files in the models zone."""
    return platform.outputs.bucket_for_zone("models"), f"training-jobs/{job_name}"


def run_training_job(
    platform: Platform,
    job_name: str,
    channels: Mapping[str, str],
    hyperparameters: Mapping[str, str],
    *,
    entry_module: str,
    metric_definitions: Sequence[Mapping[str, str]],
    workdir: Path | None = None,
) -> TrainingJobRecord:
    """Create the job in the emulator, run ``python -m entry_module`` on the staged channels, record the result."""
    sagemaker = clients_of(platform).client("sagemaker")
    bucket, prefix = job_prefix(platform, job_name)
    arn = sagemaker.create_training_job(
        TrainingJobName=job_name,
        AlgorithmSpecification={
            "TrainingImage": LOCAL_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(d) for d in metric_definitions],
        },
        RoleArn=platform.outputs.sagemaker_role_arn,
        InputDataConfig=[
            {
                "ChannelName": name,
                "ContentType": "application/x-parquet",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
            }
            for name, uri in channels.items()
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training-jobs/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=dict(hyperparameters),
    )["TrainingJobArn"]
    started = datetime.now(UTC)
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"{job_name}-", dir=workdir) as tmp:
        root = Path(tmp)
        _stage(platform, root, channels, hyperparameters)
        completed = subprocess.run(
            [sys.executable, "-m", entry_module],
            env={**os.environ, **clients_of(platform).subprocess_env(), ROOT_ENV: str(root)},
            capture_output=True,
            text=True,
            check=False,
        )
        failure = root / "output" / "failure"
        reason = ""
        if completed.returncode != 0:
            reason = failure.read_text().strip() if failure.is_file() else ""
            reason = reason or f"entry point exited with status {completed.returncode}: {completed.stderr[-500:]}"
        artifact = ""
        if not reason:
            artifact = _upload_model(platform, root / "model", bucket, f"{prefix}/output/model.tar.gz")
    record = TrainingJobRecord(
        job_name=job_name,
        job_arn=arn,
        status="Failed" if reason else "Completed",
        failure_reason=reason,
        channels=dict(channels),
        hyperparameters=dict(hyperparameters),
        metrics=parse_metrics(completed.stdout, metric_definitions),
        model_artifact=artifact,
        started_at=started.isoformat(),
        ended_at=datetime.now(UTC).isoformat(),
        seconds=round(time.perf_counter() - clock, 3),
        log_tail=(completed.stdout + completed.stderr).splitlines()[-20:],
    )
    _record(platform, record)
    return record


def _stage(platform: Platform, root: Path, channels: Mapping[str, str], hyperparameters: Mapping[str, str]) -> None:
    s3 = clients_of(platform).client("s3")
    for name, uri in channels.items():
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        target = root / "input" / "data" / name
        target.mkdir(parents=True, exist_ok=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :].lstrip("/") or Path(obj["Key"]).name
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(destination))
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters)))
    (root / "model").mkdir()
    (root / "output").mkdir()


def _upload_model(platform: Platform, model_dir: Path, bucket: str, key: str) -> str:
    archive = model_dir.parent / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    clients_of(platform).client("s3").upload_file(str(archive), bucket, key)
    return f"s3://{bucket}/{key}"


def parse_metrics(log: str, metric_definitions: Sequence[Mapping[str, str]]) -> dict[str, float]:
    """Apply the job's metric regexes to its log as SageMaker does (the last match of each wins)."""
    found: dict[str, float] = {}
    for definition in metric_definitions:
        matches = re.findall(definition["Regex"], log)
        if matches:
            found[definition["Name"]] = float(matches[-1])
    return found


def _record(platform: Platform, record: TrainingJobRecord) -> None:
    bucket, prefix = job_prefix(platform, record.job_name)
    clients_of(platform).client("s3").put_object(
        Bucket=bucket,
        Key=f"{prefix}/output/status.json",
        Body=json.dumps(asdict(record), indent=2, sort_keys=True).encode(),
        ContentType="application/json",
    )
    tags = [{"Key": STATUS_TAG, "Value": record.status}]
    if record.failure_reason:
        tags.append({"Key": REASON_TAG, "Value": _tag_value(record.failure_reason)})
    clients_of(platform).client("sagemaker").add_tags(ResourceArn=record.job_arn, Tags=tags)


def _tag_value(text: str) -> str:
    cleaned = re.sub(r"[^\w\s.:/=+\-@]", " ", text)  # the tag value character set SageMaker accepts
    return cleaned[:_TAG_VALUE_LIMIT]


def describe_job(platform: Platform, job_name: str) -> TrainingJobRecord:
    """The kit's record of a job (never moto's ``TrainingJobStatus``, which is Completed whatever happened)."""
    bucket, prefix = job_prefix(platform, job_name)
    s3 = clients_of(platform).client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}/output/status.json")["Body"].read()
    except s3.exceptions.NoSuchKey as exc:
        raise TrainingError(f"training job {job_name!r} has no record at s3://{bucket}/{prefix}/output/") from exc
    raw: dict[str, Any] = json.loads(body)
    return TrainingJobRecord(**raw)
