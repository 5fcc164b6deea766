"""Local SageMaker training: create the job in the emulator, run its entry point here, record the real outcome.

moto accepts ``CreateTrainingJob`` and marks the job Completed at once without running anything. The runner
therefore does SageMaker's data plane itself: it stages the channels from the object store into an
``/opt/ml``-shaped directory, runs the container's entry point (``python3 -m <module>``, with this interpreter) in
a subprocess with ``MLOPS_SM_ROOT`` pointing there, uploads ``model.tar.gz`` to
``<output path><job>/output/model.tar.gz`` as SageMaker does, and writes the kit's own record of the outcome to
``s3://<models>/training-jobs/<job>/output/status.json`` and as job tags. :meth:`LocalTrainingRunner.describe`
reads that record; nothing should trust moto's ``TrainingJobStatus``.

Without a control plane (``sagemaker=None``: unit tests on the in-memory object store) the job exists only as its
record and its ARN is made up.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.layout import split_uri, training_job_prefix
from mlops.local.processes import run_watched
from mlops.platform import Platform
from mlops.ports.errors import NotFoundError
from mlops.ports.object_store import ObjectStore
from mlops.ports.training import TrainingJobNotFoundError, TrainingJobRecord, TrainingJobRequest

__all__ = ["LocalTrainingRunner", "TrainingJobRecord", "describe_job", "local_training_runner", "parse_metrics"]

LOCAL_IMAGE = "mlops-kit/training:local"  # recorded when a request names no image; the entry point runs in-host
ROOT_ENV = "MLOPS_SM_ROOT"
STATUS_TAG = "mlops:status"
REASON_TAG = "mlops:failure-reason"
_TAG_VALUE_LIMIT = 256
_PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/local-training"


def host_command(entry_point: Sequence[str]) -> list[str]:
    """The container command as it runs here: a leading ``python3``/``python`` becomes this interpreter (the
    kit's image is this checkout's environment)."""
    command = list(entry_point)
    if not command:
        raise ValueError("the container entry point is empty")
    if re.fullmatch(r"python(3(\.\d+)?)?", Path(command[0]).name):
        command[0] = sys.executable
    return command


class LocalTrainingRunner:
    """:class:`~mlops.ports.training.TrainingJobRunner` running entry points in subprocesses of this host."""

    def __init__(
        self,
        store: ObjectStore,
        models_bucket: str,
        *,
        sagemaker: Any | None = None,
        environment: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self._store = store
        self._bucket = models_bucket
        self._sagemaker = sagemaker
        self._environment = dict(environment or {})
        self._workdir = workdir

    def _record_key(self, job_name: str) -> str:
        return f"{training_job_prefix(job_name)}/output/status.json"

    def run(self, request: TrainingJobRequest) -> TrainingJobRecord:
        """Create the job, run its entry point on the staged channels, upload the model, record the outcome."""
        arn = self._create(request)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"{request.job_name}-", dir=self._workdir) as tmp:
            root = Path(tmp)
            self._stage(root, request)
            # Watched: a killed `mlops train run` takes its entry point (and what that started) along.
            completed = run_watched(
                host_command(request.entry_point),
                env={**os.environ, **request.environment, **self._environment, ROOT_ENV: str(root)},
                timeout=request.max_runtime_seconds,
            )
            stdout, stderr, code = completed.stdout, completed.stderr, completed.returncode
            if completed.timed_out:
                code = -1
                stderr += f"\nthe job exceeded MaxRuntimeInSeconds ({request.max_runtime_seconds})"
            reason = _failure_reason(root, code, stderr)
            artifact = "" if reason else self._upload_model(root / "model", request)
        record = TrainingJobRecord(
            job_name=request.job_name,
            job_arn=arn,
            status="Failed" if reason else "Completed",
            failure_reason=reason,
            channels=dict(request.channels),
            hyperparameters=dict(request.hyperparameters),
            metrics=parse_metrics(stdout, request.metric_definitions),
            model_artifact=artifact,
            started_at=started.isoformat(),
            ended_at=datetime.now(UTC).isoformat(),
            seconds=round(time.perf_counter() - clock, 3),
            log_tail=(stdout + stderr).splitlines()[-20:],
        )
        self._record(record)
        return record

    def describe(self, job_name: str) -> TrainingJobRecord:
        """The kit's record of a job (never moto's ``TrainingJobStatus``, which is Completed whatever happened)."""
        key = self._record_key(job_name)
        try:
            raw: dict[str, Any] = json.loads(self._store.get(self._bucket, key))
        except NotFoundError as exc:
            where = f"{self._store.scheme}://{self._bucket}/{key}"
            raise TrainingJobNotFoundError(f"training job {job_name!r} has no record at {where}") from exc
        return TrainingJobRecord(**raw)

    def _create(self, request: TrainingJobRequest) -> str:
        if self._sagemaker is None:
            return f"arn:aws:sagemaker:local:000000000000:training-job/{request.job_name.lower()}"
        response = self._sagemaker.create_training_job(
            TrainingJobName=request.job_name,
            AlgorithmSpecification={
                "TrainingImage": request.image or LOCAL_IMAGE,
                "TrainingInputMode": "File",
                "ContainerEntrypoint": list(request.entry_point),
                "MetricDefinitions": [dict(d) for d in request.metric_definitions],
            },
            RoleArn=request.role_arn or _PLACEHOLDER_ROLE,
            InputDataConfig=[
                {
                    "ChannelName": name,
                    "ContentType": "application/x-parquet",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                }
                for name, uri in request.channels.items()
            ],
            OutputDataConfig={"S3OutputPath": request.output_path},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": request.max_runtime_seconds},
            HyperParameters=dict(request.hyperparameters),
            Environment=dict(request.environment),
        )
        return str(response["TrainingJobArn"])

    def _stage(self, root: Path, request: TrainingJobRequest) -> None:
        for name, uri in request.channels.items():
            _, bucket, prefix = split_uri(uri)
            target = root / "input" / "data" / name
            target.mkdir(parents=True, exist_ok=True)
            for key in self._store.list_keys(bucket, prefix):
                relative = key[len(prefix) :].lstrip("/") or Path(key).name
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                self._store.download_file(bucket, key, destination)
        config = root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(dict(request.hyperparameters)))
        (root / "model").mkdir()
        (root / "output").mkdir()

    def _upload_model(self, model_dir: Path, request: TrainingJobRequest) -> str:
        archive = model_dir.parent / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(model_dir.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
        scheme, bucket, prefix = split_uri(request.output_path)
        key = f"{prefix.rstrip('/')}/{request.job_name}/output/model.tar.gz".lstrip("/")
        self._store.put_file(bucket, key, archive)
        return f"{scheme}://{bucket}/{key}"

    def _record(self, record: TrainingJobRecord) -> None:
        body = json.dumps(asdict(record), indent=2, sort_keys=True).encode()
        self._store.put(self._bucket, self._record_key(record.job_name), body, "application/json")
        if self._sagemaker is None:
            return
        tags = [{"Key": STATUS_TAG, "Value": record.status}]
        if record.failure_reason:
            tags.append({"Key": REASON_TAG, "Value": _tag_value(record.failure_reason)})
        self._sagemaker.add_tags(ResourceArn=record.job_arn, Tags=tags)


def _failure_reason(root: Path, code: int, stderr: str) -> str:
    """Empty on success; else ``output/failure`` (the contract's reason channel) or the log's tail."""
    if code == 0:
        return ""
    failure = root / "output" / "failure"
    reason = failure.read_text().strip() if failure.is_file() else ""
    return reason or f"entry point exited with status {code}: {stderr[-500:]}"


def parse_metrics(log: str, metric_definitions: Sequence[Mapping[str, str]]) -> dict[str, float]:
    """Apply the job's metric regexes to its log as SageMaker does (the last match of each wins)."""
    found: dict[str, float] = {}
    for definition in metric_definitions:
        matches = re.findall(definition["Regex"], log)
        if matches:
            found[definition["Name"]] = float(matches[-1])
    return found


def _tag_value(text: str) -> str:
    cleaned = re.sub(r"[^\w\s.:/=+\-@]", " ", text)  # the tag value character set SageMaker accepts
    return cleaned[:_TAG_VALUE_LIMIT]


def local_training_runner(platform: Platform, workdir: Path | None = None) -> LocalTrainingRunner:
    """The runner for ``platform``: its object store, the emulator's SageMaker, the environment that reaches it."""
    from mlops.local.clients import clients_of

    clients = clients_of(platform)
    return LocalTrainingRunner(
        platform.services.object_store,
        platform.outputs.bucket_for_zone("models"),
        sagemaker=clients.client("sagemaker"),
        environment=clients.subprocess_env(),
        workdir=workdir,
    )


def describe_job(platform: Platform, job_name: str) -> TrainingJobRecord:
    """The kit's record of a job of ``platform`` (see :meth:`LocalTrainingRunner.describe`)."""
    return local_training_runner(platform).describe(job_name)
