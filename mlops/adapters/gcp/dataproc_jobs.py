"""``JobRunner`` on Dataproc Serverless: ``batches.create`` with the run's request, then ``batches.get`` until the
batch reaches a terminal state (``SUCCEEDED``, ``FAILED``, ``CANCELLED``).

The request is built by :mod:`mlops.adapters.gcp.dataproc_batch` from the stack's outputs. While the batch runs, its
driver output is followed where Dataproc writes it: objects ``driveroutput.NNNNNNNNN`` under the batch's
``runtimeInfo.outputUri`` in the staging bucket, read through the object-store port; the script's result line
(``mlops-job-result {json}``) gives the run's ``counts``. A failed batch's ``stateMessage`` is the run's error.
Dataproc keeps the batch's history itself.

The same class drives the kit's local runner on Google's emulators (:mod:`mlops.local.dataproc_runner`), which
answers the two calls as Dataproc does: only the controller differs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from google.api_core import exceptions as google_errors

from mlops import layout
from mlops.adapters.gcp import dataproc_batch
from mlops.adapters.gcp.clients import GcpClients
from mlops.outputs import StackOutputs
from mlops.ports.errors import ThrottledError, UnavailableError
from mlops.ports.jobs import (
    SUCCEEDED,
    TERMINAL_STATES,
    JobError,
    JobNotFoundError,
    JobRun,
    JobRunConflictError,
    JobRunFailedError,
    result_figures,
)
from mlops.ports.object_store import ObjectStore, ObjectStoreError

DRIVER_OUTPUT = "driveroutput"


class JobThrottledError(JobError, ThrottledError):
    """Dataproc kept refusing for rate or quota after the client's retries."""


class JobServiceUnavailableError(JobError, UnavailableError):
    """Dataproc (or the local runner playing it) did not answer."""


class BatchController(Protocol):
    """The two calls of Dataproc's ``BatchControllerClient`` a run makes."""

    def create_batch(self, *, parent: str, batch: Any, batch_id: str) -> Any: ...

    def get_batch(self, *, name: str) -> Any: ...


def state_name(batch: Any) -> str:
    """A ``dataproc_v1.Batch``'s state as its name (``RUNNING``)."""
    from google.cloud import dataproc_v1

    return str(dataproc_v1.Batch.State(batch.state).name)


def _error(what: str, exc: Exception) -> JobError:
    if isinstance(exc, google_errors.NotFound):
        return JobNotFoundError(f"{what}: Dataproc has no such batch ({exc})")
    if isinstance(exc, google_errors.AlreadyExists | google_errors.Conflict):
        return JobRunConflictError(f"{what}: a batch of that id exists ({exc})")
    if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted):
        return JobThrottledError(f"{what}: throttled or out of quota ({exc})")
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return JobServiceUnavailableError(f"{what}: Dataproc did not answer ({exc})")
    return JobError(f"{what} failed: {exc}")


class DataprocJobs:
    """``JobRunner`` on the stack's Dataproc batches. ``driver_env`` is the environment the job's settings read
    (:meth:`GcpClients.subprocess_env`); ``poll_seconds`` paces ``batches.get``; ``max_wait_seconds`` (when set)
    bounds the wait, after which the batch keeps running and a :class:`JobError` says so; ``record_uri`` names a
    run's stored record, for a controller that keeps one (the local runner)."""

    def __init__(
        self,
        controller: BatchController,
        outputs: StackOutputs,
        store: ObjectStore,
        *,
        project: str,
        location: str,
        driver_env: Mapping[str, str],
        poll_seconds: float = 15.0,
        max_wait_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        record_uri: Callable[[str], str] | None = None,
    ) -> None:
        self._controller = controller
        self._outputs = outputs
        self._store = store
        self._parent = f"projects/{project}/locations/{location}"
        self._driver_env = dict(driver_env)
        self._poll_seconds = poll_seconds
        self._max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self._record_uri = record_uri

    def request(self, job_key: str, arguments: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
        """The batch id and ``batches.create`` body (REST form) a run of ``job_key`` sends."""
        template = dataproc_batch.batch_template(self._outputs, job_key)
        prefix = self._outputs.glue_jobs.get(job_key, job_key)
        batch = dataproc_batch.batch_id(prefix, datetime.now(UTC))
        body = dataproc_batch.batch_request(
            template, batch=batch, arguments=arguments or {}, driver_env=self._driver_env
        )
        return batch, body

    def run(
        self,
        job_key: str,
        arguments: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> JobRun:
        from google.cloud import dataproc_v1

        batch_id, body = self.request(job_key, arguments)
        name = f"{self._parent}/batches/{batch_id}"
        job_name = str(self._outputs.glue_jobs.get(job_key, job_key))
        started_at, started = datetime.now(UTC), time.monotonic()
        try:
            batch = dataproc_v1.Batch.from_json(json.dumps(body))
            self._controller.create_batch(parent=self._parent, batch=batch, batch_id=batch_id)
        except google_errors.GoogleAPIError as exc:
            raise _error(f"submitting Dataproc batch {batch_id} of job {job_key!r}", exc) from exc
        follower = DriverOutput(self._store, on_line)
        final = self._wait(job_key, name, follower, started)
        follower.poll(final.runtime_info.output_uri, final=True)
        state = state_name(final)
        arguments_used = dataproc_batch.parse_arguments(list(body["pysparkBatch"]["args"]))
        run = JobRun(
            job_key=job_key,
            job_name=job_name,
            run_id=batch_id,
            state=state,
            error=None if state == SUCCEEDED else (final.state_message or f"the batch ended {state}"),
            started_at=_iso(final.create_time, started_at),
            finished_at=_iso(final.state_time, datetime.now(UTC)),
            duration_seconds=round(time.monotonic() - started, 3),
            arguments=arguments_used,
            counts=follower.result or {},
            log_group=final.runtime_info.output_uri or None,
            record_uri=self._record_uri(batch_id) if self._record_uri else name,
        )
        if not run.succeeded:
            raise JobRunFailedError(run)
        return run

    def _wait(self, job_key: str, name: str, follower: DriverOutput, started: float) -> Any:
        while True:
            try:
                batch = self._controller.get_batch(name=name)
            except google_errors.GoogleAPIError as exc:
                raise _error(f"following Dataproc batch {name} of job {job_key!r}", exc) from exc
            follower.poll(batch.runtime_info.output_uri)
            if state_name(batch) in TERMINAL_STATES:
                return batch
            waited = time.monotonic() - started
            if self._max_wait_seconds is not None and waited > self._max_wait_seconds:
                raise JobError(
                    f"Dataproc batch {name} of job {job_key!r} is still {state_name(batch)} after {waited:.0f} s; "
                    f"it keeps running (gcloud dataproc batches describe {name.rsplit('/', 1)[-1]})"
                )
            self._sleep(self._poll_seconds)


def _iso(value: Any, fallback: datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) and value.year > 1970 else fallback.isoformat()


class DriverOutput:
    """Reads a batch's driver output forward: the ``driveroutput.*`` objects under its output URI, in order, the
    last one again from where the last read stopped (it may still grow); complete lines go to ``on_line``, the last
    result line is kept."""

    def __init__(self, store: ObjectStore, on_line: Callable[[str], None] | None) -> None:
        self._store = store
        self._on_line = on_line
        self._read: dict[str, int] = {}
        self._partial = ""
        self.result: dict[str, Any] | None = None

    def poll(self, output_uri: str, *, final: bool = False) -> None:
        """Hand on what appeared since the last poll (nothing while the batch has no output URI yet); ``final``
        also hands on an unterminated last line."""
        if not output_uri:
            return
        _, bucket, prefix = layout.split_uri(output_uri)
        try:
            keys = sorted(k for k in self._store.list_keys(bucket, prefix) if DRIVER_OUTPUT in k.rsplit("/", 1)[-1])
            for key in keys:
                if key in self._read and key != keys[-1]:
                    continue  # a part followed by a later one is complete and was read to its end
                body = self._store.get(bucket, key)
                offset = self._read.get(key, 0)
                if len(body) > offset:
                    self._read[key] = len(body)
                    self._text(body[offset:].decode("utf-8", errors="replace"))
        except ObjectStoreError as exc:
            raise JobError(f"reading the driver output under {output_uri} failed: {exc}") from exc
        if final and self._partial:
            self._line(self._partial)
            self._partial = ""

    def _text(self, text: str) -> None:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        if self._on_line is not None:
            self._on_line(line)
        figures = result_figures(line)
        if figures is not None:
            self.result = figures


def dataproc_jobs(clients: GcpClients, outputs: StackOutputs, store: ObjectStore) -> DataprocJobs:
    """The runner of the stack's batches on Dataproc, in the settings' project and location."""
    gcp = clients.settings.gcp
    return DataprocJobs(
        clients.dataproc_batches(),
        outputs,
        store,
        project=gcp.project,
        location=gcp.location,
        driver_env=clients.subprocess_env(),
    )
