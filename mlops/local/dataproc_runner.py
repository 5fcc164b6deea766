"""Dataproc Serverless played on Google's emulators (Dataproc has none): :class:`LocalBatchController` answers the
two calls of Dataproc's batch controller that :class:`mlops.adapters.gcp.dataproc_jobs.DataprocJobs` makes, so a
local run goes through the same adapter, with the same request, as a run on Google Cloud.

``create_batch`` takes the ``dataproc_v1.Batch`` the adapter built, stores it as the batch's record
``<state_dir>/dataproc/batches/<batch id>.json`` (state ``PENDING``, a new uuid, the runner's pid) and runs it in a
thread of this process: the ``pysparkBatch.mainPythonFileUri`` script, downloaded from the platform's object store
(the GCS emulator), runs with local PySpark (the warm Spark Connect server when one runs), its ``args``, the
``spark.dataproc.driverEnv.*`` properties as its environment and the kit's own code standing in for the wheel of
``pythonFileUris``. The record goes ``RUNNING``, then ``SUCCEEDED``, or ``FAILED`` with a ``stateMessage`` (the
script's last line, or that the batch's ``executionConfig.ttl`` stopped it). The driver's output is written where
Dataproc writes it: ``driveroutput.NNNNNNNNN`` objects under ``gs://<staging bucket>/google-cloud-dataproc-metainfo/
<uuid>/jobs/srvls-batch-<uuid>/`` (``runtimeInfo.outputUri``), every second while it runs.

``get_batch`` reads the record, so every process of the local stack sees the batch. A run never outlives its
runner (:mod:`mlops.local.job_process`): a batch whose runner died is recorded ``FAILED`` when it is next read and
when the next batch is created.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.api_core import exceptions as google_errors

from mlops import layout
from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.dataproc_batch import driver_environment, ttl_seconds
from mlops.adapters.gcp.dataproc_jobs import DRIVER_OUTPUT, DataprocJobs
from mlops.local.job_process import (
    error_of,
    job_environment,
    run_script,
    runner_alive,
    runner_identity,
    warm_driver_dir,
    warm_spark_env,
)
from mlops.outputs import StackOutputs
from mlops.ports.jobs import SUCCEEDED, TERMINAL_STATES
from mlops.ports.object_store import ObjectStore

PENDING, RUNNING, FAILED = "PENDING", "RUNNING", "FAILED"
FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.5


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _OutputSink:
    """Writes the driver's lines as Dataproc does: numbered ``driveroutput`` objects, one per flush."""

    def __init__(self, store: ObjectStore, output_uri: str) -> None:
        _, self._bucket, self._key = layout.split_uri(output_uri)
        self._store = store
        self._lines: list[str] = []
        self._part = 0
        self._flushed = time.monotonic()

    def add(self, line: str) -> None:
        self._lines.append(line)
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._flushed = time.monotonic()
        if not self._lines:
            return
        body = "".join(f"{line}\n" for line in self._lines).encode()
        self._store.put(self._bucket, f"{self._key}.{self._part:09d}", body, "text/plain")
        self._lines, self._part = [], self._part + 1


class LocalBatchController:
    """Dataproc's ``create_batch``/``get_batch`` on the emulators; batch records under ``<state_dir>/dataproc``."""

    def __init__(self, clients: GcpClients, store: ObjectStore, outputs: StackOutputs) -> None:
        self._settings = clients.settings
        self._store = store
        self._outputs = outputs
        self.directory = (clients.settings.state_dir / "dataproc" / "batches").resolve()

    def record_uri(self, batch_id: str) -> str:
        return str(self.directory / f"{batch_id}.json")

    def _read(self, batch_id: str) -> dict[str, Any] | None:
        path = Path(self.record_uri(batch_id))
        return json.loads(path.read_text()) if path.is_file() else None

    def _write(self, record: dict[str, Any]) -> None:
        path = Path(self.record_uri(record["name"].rsplit("/", 1)[-1]))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(record, indent=2, sort_keys=True))
        os.replace(partial, path)  # a reader never sees half a record

    def _move(self, record: dict[str, Any], state: str, message: str = "") -> None:
        when = _now()
        previous = {"state": record["state"], "stateMessage": record.get("stateMessage", ""), "stateStartTime": when}
        record["stateHistory"] = [*record.get("stateHistory", []), previous]
        record.update(state=state, stateMessage=message, stateTime=when)
        self._write(record)

    def create_batch(self, *, parent: str, batch: Any, batch_id: str) -> None:
        from google.cloud import dataproc_v1

        if self._read(batch_id) is not None:
            raise google_errors.AlreadyExists(f"batch {parent}/batches/{batch_id} already exists")  # type: ignore[no-untyped-call]
        self._fail_abandoned()
        request: dict[str, Any] = json.loads(dataproc_v1.Batch.to_json(batch))
        batch_uuid = str(uuid.uuid4())
        staging = request.get("environmentConfig", {}).get("executionConfig", {}).get("stagingBucket")
        bucket = staging or self._outputs.artifacts_bucket
        metainfo = f"google-cloud-dataproc-metainfo/{batch_uuid}/jobs/srvls-batch-{batch_uuid}/{DRIVER_OUTPUT}"
        record = {
            **request,
            "name": f"{parent}/batches/{batch_id}",
            "uuid": batch_uuid,
            "createTime": _now(),
            "state": PENDING,
            "stateTime": _now(),
            "runtimeInfo": {"outputUri": f"{self._store.scheme}://{bucket}/{metainfo}"},
            **runner_identity(),
        }
        self._write(record)
        # A daemon thread: the batch dies with its runner, as a local Glue run does (its supervisor sees to the JVM).
        threading.Thread(target=self._execute, args=(record,), name=f"dataproc-{batch_id}", daemon=True).start()

    def get_batch(self, *, name: str) -> Any:
        from google.cloud import dataproc_v1

        record = self._read(name.rsplit("/", 1)[-1])
        if record is None:
            raise google_errors.NotFound(f"no batch {name} (records: {self.directory})")  # type: ignore[no-untyped-call]
        if record["state"] not in TERMINAL_STATES and not runner_alive(record):
            self._move(record, FAILED, _abandoned(record))
        status = {k: v for k, v in record.items() if k not in ("runner_pid", "runner_started")}
        return dataproc_v1.Batch.from_json(json.dumps(status), ignore_unknown_fields=True)

    def _fail_abandoned(self) -> None:
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            record = json.loads(path.read_text())
            if record["state"] not in TERMINAL_STATES and not runner_alive(record):
                self._move(record, FAILED, _abandoned(record))

    def _execute(self, record: dict[str, Any]) -> None:
        pyspark = record["pysparkBatch"]
        ttl = ttl_seconds(record)
        sink = _OutputSink(self._store, record["runtimeInfo"]["outputUri"])
        try:
            with tempfile.TemporaryDirectory(prefix="dataproc-batch-") as tmp:
                script = self._download(pyspark["mainPythonFileUri"], Path(tmp))
                master = f"local[{max(1, min(2, os.cpu_count() or 1))}]"
                env = {**job_environment(driver_environment(record), master=master), "HOME": tmp}
                env.update(warm_spark_env(self._settings))
                self._move(record, RUNNING)
                command = [sys.executable, str(script), *pyspark.get("args", [])]
                outcome = run_script(
                    command,
                    env,
                    ttl,
                    sink.add,
                    warm_state_dir=warm_driver_dir(self._settings),
                    class_archive=self._settings.local_spark.class_archive,
                )
            sink.flush()  # before the end is recorded: a reader that sees the end finds the whole output
            succeeded = outcome.exit_code == 0 and not outcome.timed_out
            self._move(record, SUCCEEDED if succeeded else FAILED, "" if succeeded else error_of(outcome, ttl, "ttl"))
        except Exception as exc:  # the batch fails with the reason; the thread has no caller to raise to
            sink.flush()
            self._move(record, FAILED, f"the batch could not run: {exc}")

    def _download(self, uri: str, workdir: Path) -> Path:
        scheme, bucket, key = layout.split_uri(uri)
        if scheme != self._store.scheme:
            raise ValueError(f"mainPythonFileUri {uri!r} is not an object of the platform's {self._store.scheme} store")
        target = workdir / Path(key).name
        self._store.download_file(bucket, key, target)
        return target


def _abandoned(record: dict[str, Any]) -> str:
    return f"its runner (pid {record.get('runner_pid')}) died; the batch's processes were stopped with it"


def local_dataproc_jobs(clients: GcpClients, outputs: StackOutputs, store: ObjectStore) -> DataprocJobs:
    """The Dataproc adapter on the local controller: the same requests, played on the emulators."""
    controller = LocalBatchController(clients, store, outputs)
    gcp = clients.settings.gcp
    return DataprocJobs(
        controller,
        outputs,
        store,
        project=gcp.project,
        location=gcp.location,
        driver_env=clients.subprocess_env(),
        poll_seconds=POLL_SECONDS,
        record_uri=controller.record_uri,
    )
