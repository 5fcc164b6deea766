"""Runs a Glue job's script locally, the way Glue would: moto stores Glue jobs but runs nothing.

``run_job`` reads the job from the emulator (script location, DefaultArguments, workers, timeout), downloads
the script, records a job run (``start_job_run``), then runs the script with local PySpark in a child process
with Glue-style arguments (``--JOB_NAME``, ``--JOB_RUN_ID``, the defaults overridden by the run's arguments).
The child's log goes to the caller line by line and to CloudWatch Logs (``outputs.log_groups["glue"]``, one
stream per run). The final state (``SUCCEEDED``/``FAILED`` with the error), duration and the counts the script
reported are written to ``s3://<monitoring>/glue-runs/<job>/<run_id>.json``.

The child reaches the emulator through ``AWS_ENDPOINT_URL`` (from :meth:`ClientFactory.subprocess_env`) and
reports its counts in the JSON file named by ``MLOPS_JOB_RESULT_FILE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.contracts import JOB_RESULT_FILE_ENV, JOB_SPARK_MASTER_ENV
from mlops.errors import MlopsError
from mlops.local.clients import clients_of
from mlops.platform import Platform

RESULT_FILE_ENV = JOB_RESULT_FILE_ENV
SPARK_MASTER_ENV = JOB_SPARK_MASTER_ENV
_KIT_ROOT = Path(__file__).resolve().parents[2]  # holds mlops/, jobs/, pipelines/ (Glue: --extra-py-files)
_LOG_BATCH = 200


class GlueJobError(MlopsError):
    """A Glue job cannot be run: unknown job, missing script, bad arguments."""


@dataclass(frozen=True)
class GlueRunRecord:
    """What one local job run did; stored as JSON under ``glue-runs/`` in the monitoring bucket."""

    job_name: str
    run_id: str
    state: str
    error: str | None
    started_at: str
    finished_at: str
    duration_seconds: float
    exit_code: int
    arguments: dict[str, str]
    counts: dict[str, Any] = field(default_factory=dict)
    log_group: str | None = None
    log_stream: str | None = None
    record_uri: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"


def merged_arguments(defaults: Mapping[str, str], run_arguments: Mapping[str, str]) -> dict[str, str]:
    """Glue's rule: the run's arguments override the job's DefaultArguments; keys are ``--name``."""

    def flag(key: str) -> str:
        return key if key.startswith("--") else f"--{key}"

    merged = {flag(k): str(v) for k, v in defaults.items()}
    merged.update({flag(k): str(v) for k, v in run_arguments.items()})
    return merged


def spark_master(job: Mapping[str, Any]) -> str:
    """``local[N]``: the job's worker count, capped by this machine's cores."""
    workers = int(job.get("NumberOfWorkers") or job.get("MaxCapacity") or 2)
    return f"local[{max(1, min(workers, os.cpu_count() or 1))}]"


def _child_env(platform: Platform, result_file: Path, master: str) -> dict[str, str]:
    # The caller's own AWS_*/MLOPS_* variables must not redirect the child away from the platform's AWS.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLOPS_"))}
    env.update(clients_of(platform).subprocess_env())
    env.update(
        {
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            SPARK_MASTER_ENV: master,
            RESULT_FILE_ENV: str(result_file),
            "PYTHONPATH": os.pathsep.join(p for p in (str(_KIT_ROOT), env.get("PYTHONPATH", "")) if p),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class _LogSink:
    """Batches a run's lines into CloudWatch Logs ``group``/``stream``; creates the group if absent, as Glue does."""

    def __init__(self, logs: Any, group: str, stream: str) -> None:
        self.logs, self.group, self.stream = logs, group, stream
        self._pending: list[dict[str, Any]] = []
        try:
            logs.create_log_group(logGroupName=group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def add(self, line: str) -> None:
        self._pending.append({"timestamp": int(time.time() * 1000), "message": line or " "})
        if len(self._pending) >= _LOG_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=self._pending)
            self._pending = []


def _job_definition(platform: Platform, job_name: str) -> dict[str, Any]:
    try:
        job: dict[str, Any] = clients_of(platform).client("glue").get_job(JobName=job_name)["Job"]
    except ClientError as exc:
        raise GlueJobError(f"Glue job {job_name!r} cannot be read: {exc}") from exc
    return job


def _download_script(platform: Platform, job: Mapping[str, Any], workdir: Path) -> Path:
    location = str(job.get("Command", {}).get("ScriptLocation", ""))
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not location.startswith("s3://") or not key:
        raise GlueJobError(f"Glue job {job['Name']!r}: ScriptLocation {location!r} is not an s3:// object")
    target = workdir / Path(key).name
    try:
        clients_of(platform).client("s3").download_file(bucket, key, str(target))
    except ClientError as exc:
        raise GlueJobError(f"Glue job {job['Name']!r}: script {location} cannot be downloaded: {exc}") from exc
    return target


@dataclass(frozen=True)
class ScriptOutcome:
    """How the job's child process ended: its status, its last lines, whether the job's timeout stopped it."""

    exit_code: int
    tail: list[str]
    timed_out: bool


def _run_script(
    command: list[str], env: dict[str, str], timeout_s: float | None, on_line: Callable[[str], None]
) -> ScriptOutcome:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=env["HOME"]
    )
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(timeout_s, stop) if timeout_s else None
    if timer:
        timer.start()
    tail: list[str] = []
    assert process.stdout is not None
    try:
        for raw in process.stdout:
            line = raw.rstrip("\n")
            on_line(line)
            tail = [*tail[-49:], line]
        exit_code = process.wait()
    finally:
        if timer:
            timer.cancel()
    # A timer that ran has killed the child: its last line is then whatever it was doing, not the cause.
    return ScriptOutcome(exit_code=exit_code, tail=tail, timed_out=expired.is_set())


def _error_of(outcome: ScriptOutcome, timeout_s: float | None) -> str:
    lines = [line.strip() for line in outcome.tail if line.strip()]
    if outcome.timed_out:
        last = f" (last line: {lines[-1]!r})" if lines else ""
        return f"the job ran past its Timeout of {timeout_s:g} s and was stopped{last}"
    return lines[-1] if lines else f"the script exited with status {outcome.exit_code} without output"


def run_record_key(job_name: str, run_id: str) -> str:
    """Key of a run's record in the monitoring bucket."""
    return f"glue-runs/{job_name}/{run_id}.json"


def run_job(
    platform: Platform,
    key: str,
    run_arguments: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] = print,
) -> GlueRunRecord:
    """Run the Glue job declared for ``jobs/<key>.py`` locally and record the run; see the module docstring."""
    job_name = platform.outputs.glue_job(key)
    job = _job_definition(platform, job_name)
    run_arguments = dict(run_arguments or {})
    arguments = merged_arguments(job.get("DefaultArguments") or {}, run_arguments)
    run_id = (
        clients_of(platform)
        .client("glue")
        .start_job_run(JobName=job_name, Arguments=merged_arguments({}, run_arguments))["JobRunId"]
    )
    group = platform.outputs.log_groups.get("glue")
    sink = _LogSink(clients_of(platform).client("logs"), group, run_id) if group else None

    def emit(line: str) -> None:
        on_line(line)
        if sink:
            sink.add(line)

    started_at, started = datetime.now(UTC), time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"glue-{key}-") as tmp:
        workdir = Path(tmp)
        script = _download_script(platform, job, workdir)
        result_file = workdir / "result.json"
        env = {**_child_env(platform, result_file, spark_master(job)), "HOME": str(workdir)}
        argv = [
            arg
            for pair in merged_arguments(arguments, {"--JOB_NAME": job_name, "--JOB_RUN_ID": run_id}).items()
            for arg in pair
        ]
        timeout_s = float(job["Timeout"]) * 60 if job.get("Timeout") else None
        outcome = _run_script([sys.executable, str(script), *argv], env, timeout_s, emit)
        counts = json.loads(result_file.read_text()) if result_file.is_file() else {}
    if sink:
        sink.flush()
    record = GlueRunRecord(
        job_name=job_name,
        run_id=run_id,
        state="SUCCEEDED" if outcome.exit_code == 0 else "FAILED",
        error=None if outcome.exit_code == 0 else _error_of(outcome, timeout_s),
        started_at=started_at.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        duration_seconds=round(time.monotonic() - started, 3),
        exit_code=outcome.exit_code,
        arguments=arguments,
        counts=counts,
        log_group=group,
        log_stream=run_id if group else None,
        record_uri=f"s3://{platform.outputs.monitoring_bucket}/{run_record_key(job_name, run_id)}",
    )
    _store_record(platform, record)
    return record


def _store_record(platform: Platform, record: GlueRunRecord) -> None:
    bucket, _, key = record.record_uri.removeprefix("s3://").partition("/")
    body = json.dumps(asdict(record), indent=2, sort_keys=True).encode()
    clients_of(platform).client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_record(platform: Platform, job_name: str, run_id: str) -> dict[str, Any]:
    """A stored run record, as JSON."""
    bucket, key = platform.outputs.monitoring_bucket, run_record_key(job_name, run_id)
    try:
        body = clients_of(platform).client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        raise GlueJobError(
            f"no record of run {run_id!r} of Glue job {job_name!r} at s3://{bucket}/{key}: {exc}"
        ) from exc
    record: dict[str, Any] = json.loads(body.read())
    return record
