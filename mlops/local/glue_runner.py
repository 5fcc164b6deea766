"""``JobRunner`` for the emulator: runs a Glue job's script locally, the way Glue would (moto stores Glue jobs
but runs nothing).

:class:`LocalGlueRunner` reads the job from the emulator (script location, DefaultArguments, workers, timeout),
downloads the script, records a job run (``start_job_run``), then runs the script with local PySpark in a child
process (against the warm Spark Connect server of ``mlops local up`` when it runs, :mod:`mlops.local.spark_connect`,
else its own JVM) with Glue-style arguments (``--JOB_NAME``, ``--JOB_RUN_ID``, the defaults overridden by the run's
arguments). The child's log goes to the caller line by line and to CloudWatch Logs (``outputs.log_groups["glue"]``,
one stream per run). The final state (``SUCCEEDED``, ``FAILED`` with the error, ``TIMEOUT``), duration and the
counts the script reported are stored as JSON at ``<monitoring>/glue-runs/<job>/<run_id>.json``.

The child reaches the emulator through ``AWS_ENDPOINT_URL`` (from :meth:`ClientFactory.subprocess_env`) and
reports its counts in the JSON file named by ``MLOPS_JOB_RESULT_FILE``.

A run never outlives its runner: the script runs under the supervisor of :mod:`mlops.local.processes`, which
kills the script's process group (its JVM, its Python workers) on the job's timeout, on an interrupt or error
in the runner, and when the runner dies even by SIGKILL. A run is recorded RUNNING (with the runner's pid) when
it starts, with a marker under ``glue-runs-running/`` that its final record removes; an interrupted run is
recorded FAILED before the interrupt goes on, and the next run of the job records FAILED the marked runs whose
runner is gone (it reads the markers only: its cost does not grow with the job's history). Committing twice is
prevented in the table itself (the batches' Delta ``txn`` ids, :mod:`mlops.lake.delta_files`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops import layout
from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.glue_jobs import job_name_of
from mlops.contracts import JOB_RESULT_FILE_ENV, JOB_SPARK_MASTER_ENV
from mlops.layout import Layout
from mlops.local import job_process
from mlops.local.job_process import (
    ScriptOutcome,
    error_of,
    job_environment,
    read_result,
    run_script,
    runner_alive,
    runner_identity,
)
from mlops.outputs import StackOutputs
from mlops.ports.jobs import SUCCEEDED, JobError, JobNotFoundError, JobRun, JobRunFailedError, merged_arguments
from mlops.ports.object_store import ObjectStore, ObjectStoreError

RESULT_FILE_ENV = JOB_RESULT_FILE_ENV
RUNNING = "RUNNING"
SPARK_MASTER_ENV = JOB_SPARK_MASTER_ENV
_LOG_BATCH = 200


def spark_master(job: Mapping[str, Any]) -> str:
    """``local[N]``: the job's worker count, capped by this machine's cores."""
    workers = int(job.get("NumberOfWorkers") or job.get("MaxCapacity") or 2)
    return f"local[{max(1, min(workers, os.cpu_count() or 1))}]"


def warm_spark_env(clients: ClientFactory) -> dict[str, str]:
    """The warm Spark Connect server's environment for a job of ``clients``' platform (see
    :func:`mlops.local.job_process.warm_spark_env`)."""
    return job_process.warm_spark_env(clients.settings)


def _child_env(clients: ClientFactory, result_file: Path, master: str) -> dict[str, str]:
    return job_environment(clients.subprocess_env(), master=master, result_file=result_file)


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


def _state_of(outcome: ScriptOutcome) -> str:
    if outcome.timed_out:
        return "TIMEOUT"
    return SUCCEEDED if outcome.exit_code == 0 and not outcome.interrupted else "FAILED"


class LocalGlueRunner:
    """``JobRunner`` playing Glue on the emulator: the emulator's Glue control plane, the script run here.

    ``store`` is the platform's object store (the script comes from it, the run record goes to it); ``clients``
    reach the emulator's Glue and CloudWatch Logs, and give the child process its environment.
    """

    def __init__(self, clients: ClientFactory, outputs: StackOutputs, store: ObjectStore) -> None:
        self._clients = clients
        self._outputs = outputs
        self._store = store
        self._layout = Layout(outputs, store.scheme)

    def run(
        self,
        job_key: str,
        arguments: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> JobRun:
        job_name = job_name_of(self._outputs, job_key)
        job = self._job_definition(job_key, job_name)
        run_arguments = merged_arguments({}, arguments or {})
        effective = merged_arguments(job.get("DefaultArguments") or {}, run_arguments)
        glue = self._clients.client("glue")
        self._fail_abandoned_runs(job_name)
        run_id = str(glue.start_job_run(JobName=job_name, Arguments=run_arguments)["JobRunId"])
        group = self._outputs.log_groups.get("glue")
        sink = _LogSink(self._clients.client("logs"), group, run_id) if group else None

        def emit(line: str) -> None:
            if on_line is not None:
                on_line(line)
            if sink:
                sink.add(line)

        started_at, started = datetime.now(UTC), time.monotonic()
        self._record_running(job_key, job_name, run_id, started_at)
        interruption: BaseException | None = None
        with tempfile.TemporaryDirectory(prefix=f"glue-{job_key}-") as tmp:
            workdir = Path(tmp)
            script = self._download_script(job_key, job, workdir)
            result_file = workdir / "result.json"
            env = {**_child_env(self._clients, result_file, spark_master(job)), "HOME": str(workdir)}
            env.update(warm_spark_env(self._clients))
            argv = [
                arg
                for pair in merged_arguments(effective, {"--JOB_NAME": job_name, "--JOB_RUN_ID": run_id}).items()
                for arg in pair
            ]
            timeout_s = float(job["Timeout"]) * 60 if job.get("Timeout") else None
            warm = job_process.warm_driver_dir(self._clients.settings)
            archive = self._clients.settings.local_spark.class_archive
            command = [sys.executable, str(script), *argv]
            try:
                outcome = run_script(command, env, timeout_s, emit, warm_state_dir=warm, class_archive=archive)
            except BaseException as exc:  # Ctrl-C or an error here: the tree is stopped, the run recorded FAILED
                interruption = exc
                outcome = ScriptOutcome(-1, [], timed_out=False, interrupted=type(exc).__name__)
            counts, outcome = read_result(result_file, outcome)
        if sink:
            sink.flush()
        state = _state_of(outcome)
        key = layout.job_run_key(job_name, run_id)
        run = JobRun(
            job_key=job_key,
            job_name=job_name,
            run_id=run_id,
            state=state,
            error=None if state == SUCCEEDED else error_of(outcome, timeout_s),
            started_at=started_at.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            duration_seconds=round(time.monotonic() - started, 3),
            arguments=effective,
            counts=counts,
            log_group=group,
            log_stream=run_id if group else None,
            record_uri=self._layout.zone_uri("monitoring", key),
        )
        body = json.dumps({**asdict(run), "exit_code": outcome.exit_code}, indent=2, sort_keys=True).encode()
        self._store.put(self._layout.bucket("monitoring"), key, body, "application/json")
        self._store.delete(self._layout.bucket("monitoring"), layout.job_running_key(job_name, run_id))
        if interruption is not None:
            raise interruption
        if not run.succeeded:
            raise JobRunFailedError(run)
        return run

    def _record_running(self, job_key: str, job_name: str, run_id: str, started_at: datetime) -> None:
        """A RUNNING record naming this runner, and an empty marker (:func:`mlops.layout.job_running_key`) that
        lists the run among those not ended, so a run whose runner is killed outright is found later."""
        record = {
            "job_key": job_key,
            "job_name": job_name,
            "run_id": run_id,
            "state": RUNNING,
            "started_at": started_at.isoformat(),
            **runner_identity(),
        }
        bucket = self._layout.bucket("monitoring")
        body = json.dumps(record, indent=2).encode()
        self._store.put(bucket, layout.job_run_key(job_name, run_id), body, "application/json")
        self._store.put(bucket, layout.job_running_key(job_name, run_id), b"")

    def _fail_abandoned_runs(self, job_name: str) -> None:
        """Record as FAILED the runs of ``job_name`` still marked running whose runner is gone (killed outright: its
        job's processes died with it, see :func:`mlops.local.processes.start_watched`), and drop their markers."""
        bucket = self._layout.bucket("monitoring")
        prefix = layout.job_running_key(job_name, "_").rsplit("/", 1)[0] + "/"
        for marker in self._store.list_keys(bucket, prefix):
            key = layout.job_run_key(job_name, marker.rsplit("/", 1)[-1])
            if self._abandoned(bucket, key):
                self._store.delete(bucket, marker)

    def _abandoned(self, bucket: str, key: str) -> bool:
        """Whether the marked run at ``key`` no longer runs; its record FAILED when its runner died while it ran.
        A record that ended (its runner died between the final record and the marker's deletion) stays as it is;
        one deleted by hand has nothing to record."""
        try:
            record = json.loads(self._store.get(bucket, key))
        except ObjectStoreError:
            return True
        if record.get("state") != RUNNING:
            return True
        if runner_alive(record):
            return False
        error = f"its runner (pid {record.get('runner_pid')}) died; the job's processes were stopped with it"
        record.update(state="FAILED", error=error, finished_at=datetime.now(UTC).isoformat())
        self._store.put(bucket, key, json.dumps(record, indent=2, sort_keys=True).encode(), "application/json")
        return True

    def _job_definition(self, job_key: str, job_name: str) -> dict[str, Any]:
        try:
            job: dict[str, Any] = self._clients.client("glue").get_job(JobName=job_name)["Job"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                raise JobNotFoundError(f"Glue job {job_key!r} ({job_name}) does not exist in the emulator") from exc
            raise JobError(f"Glue job {job_key!r} ({job_name}) cannot be read: {exc}") from exc
        except BotoCoreError as exc:
            raise JobError(f"Glue job {job_key!r} ({job_name}) cannot be read: {exc}") from exc
        return job

    def _download_script(self, job_key: str, job: Mapping[str, Any], workdir: Path) -> Path:
        location = str(job.get("Command", {}).get("ScriptLocation", ""))
        try:
            scheme, bucket, key = layout.split_uri(location)
        except ValueError:
            scheme, bucket, key = "", "", ""
        if scheme != self._store.scheme or not key:
            raise JobError(
                f"Glue job {job_key!r} ({job['Name']}): ScriptLocation {location!r} is not an object of the "
                f"platform's {self._store.scheme} store"
            )
        target = workdir / Path(key).name
        try:
            self._store.download_file(bucket, key, target)
        except ObjectStoreError as exc:
            raise JobError(
                f"Glue job {job_key!r} ({job['Name']}): script {location} cannot be downloaded: {exc}"
            ) from exc
        return target

    def read_record(self, job_name: str, run_id: str) -> dict[str, Any]:
        """A stored run record, as JSON (what the run returned, plus the script's exit code)."""
        bucket, key = self._layout.bucket("monitoring"), layout.job_run_key(job_name, run_id)
        try:
            record: dict[str, Any] = json.loads(self._store.get(bucket, key))
        except ObjectStoreError as exc:
            raise JobNotFoundError(f"no record of run {run_id!r} of Glue job {job_name!r}: {exc}") from exc
        return record
