"""``JobRunner`` on AWS Glue: ``StartJobRun``, then ``GetJobRun`` until the run reaches a terminal state.

The job's log is followed while it runs: the infra program turns on Glue's continuous logging into the stack's
Glue log group (``--continuous-log-logGroup``), where the driver writes to the stream named after the run id.
The job scripts end with one ``mlops-job-result {json}`` line (:data:`mlops.contracts.JOB_RESULT_LOG_PREFIX`);
its figures become the run's ``counts``. Glue keeps the run's history itself, so nothing else is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
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
    merged_arguments,
    result_figures,
)

CONTINUOUS_LOG_GROUP_ARG = "--continuous-log-logGroup"
DEFAULT_OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"  # where a job's stdout goes without continuous logging
_RESULT_ATTEMPTS = 3  # continuous logging flushes every few seconds: the result line may trail the run's end


class JobThrottledError(JobError, ThrottledError):
    """Glue kept throttling the calls after the client's retries."""


class JobServiceUnavailableError(JobError, UnavailableError):
    """Glue (or the emulator) did not answer."""


def job_name_of(outputs: StackOutputs, job_key: str) -> str:
    """The Glue job the stack declares for ``jobs/<job_key>.py``; :class:`JobNotFoundError` when none."""
    if job_key not in outputs.glue_jobs:
        known = ", ".join(sorted(outputs.glue_jobs)) or "none"
        raise JobNotFoundError(f"stack {outputs.stack!r} declares no Glue job {job_key!r}; declared jobs: {known}")
    return outputs.glue_jobs[job_key]


def _iso(value: Any, fallback: datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else fallback.isoformat()


class GlueJobs:
    """``JobRunner`` on the stack's Glue jobs. ``poll_seconds`` paces ``GetJobRun``; ``max_wait_seconds`` (when
    set) bounds the wait, after which the run keeps going on Glue and a :class:`JobError` says so."""

    def __init__(
        self,
        clients: ClientFactory,
        outputs: StackOutputs,
        *,
        poll_seconds: float = 15.0,
        max_wait_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._outputs = outputs
        self._poll_seconds = poll_seconds
        self._max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def _error(self, what: str, exc: Exception) -> JobError:
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "EntityNotFoundException":
                return JobNotFoundError(f"{what}: Glue has no such job ({exc})")
            if code == "ConcurrentRunsExceededException":
                return JobRunConflictError(f"{what}: the job's concurrent-run limit is reached ({exc})")
            if code in ("ThrottlingException", "ResourceNumberLimitExceededException"):
                return JobThrottledError(f"{what}: throttled ({exc})")
            return JobError(f"{what} failed: {exc}")
        return JobServiceUnavailableError(f"{what}: Glue did not answer ({exc})")

    def run(
        self,
        job_key: str,
        arguments: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> JobRun:
        job_name = job_name_of(self._outputs, job_key)
        glue = self._clients.client("glue")
        run_arguments = merged_arguments({}, arguments or {})
        try:
            job = glue.get_job(JobName=job_name)["Job"]
            run_id = str(glue.start_job_run(JobName=job_name, Arguments=run_arguments)["JobRunId"])
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"starting Glue job {job_key!r} ({job_name})", exc) from exc
        effective = merged_arguments(job.get("DefaultArguments") or {}, run_arguments)
        group = effective.get(CONTINUOUS_LOG_GROUP_ARG) or self._outputs.log_groups.get("glue")
        follower = _LogFollower(self._clients.client("logs"), group or DEFAULT_OUTPUT_LOG_GROUP, run_id, on_line)
        started_at, started = datetime.now(UTC), time.monotonic()
        details = self._wait(
            glue, job_key=job_key, job_name=job_name, run_id=run_id, follower=follower, started=started
        )
        follower.poll()
        state = str(details["JobRunState"])
        counts = self._counts(follower, state)
        begun, ended = details.get("StartedOn"), details.get("CompletedOn")
        if isinstance(begun, datetime) and isinstance(ended, datetime):
            duration = (ended - begun).total_seconds()
        else:
            duration = float(details.get("ExecutionTime") or time.monotonic() - started)
        error = details.get("ErrorMessage") or (None if state == SUCCEEDED else f"the run ended {state}")
        run = JobRun(
            job_key=job_key,
            job_name=job_name,
            run_id=run_id,
            state=state,
            error=error,
            started_at=_iso(begun, started_at),
            finished_at=_iso(ended, datetime.now(UTC)),
            duration_seconds=round(duration, 3),
            arguments=effective,
            counts=counts,
            log_group=follower.group,
            log_stream=run_id,
        )
        if not run.succeeded:
            raise JobRunFailedError(run)
        return run

    def _wait(
        self, glue: Any, *, job_key: str, job_name: str, run_id: str, follower: _LogFollower, started: float
    ) -> dict[str, Any]:
        while True:
            try:
                details: dict[str, Any] = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            except (ClientError, BotoCoreError) as exc:
                raise self._error(f"following run {run_id} of Glue job {job_key!r} ({job_name})", exc) from exc
            follower.poll()
            if details.get("JobRunState") in TERMINAL_STATES:
                return details
            waited = time.monotonic() - started
            if self._max_wait_seconds is not None and waited > self._max_wait_seconds:
                raise JobError(
                    f"run {run_id} of Glue job {job_key!r} ({job_name}) is still {details.get('JobRunState')} after "
                    f"{waited:.0f} s; it keeps running on Glue (aws glue get-job-run --job-name {job_name} "
                    f"--run-id {run_id})"
                )
            self._sleep(self._poll_seconds)

    def _counts(self, follower: _LogFollower, state: str) -> dict[str, Any]:
        for attempt in range(_RESULT_ATTEMPTS):
            found = follower.result()
            if found is not None or state != SUCCEEDED:
                return found or {}
            if attempt + 1 < _RESULT_ATTEMPTS:
                self._sleep(min(self._poll_seconds, 5.0))
        return {}


class _LogFollower:
    """Reads a run's log stream forward (``GetLogEvents``); a stream that does not exist yet is simply empty."""

    def __init__(self, logs: Any, group: str, stream: str, on_line: Callable[[str], None] | None) -> None:
        self.logs, self.group, self.stream = logs, group, stream
        self._on_line = on_line
        self._token: str | None = None
        self._result: dict[str, Any] | None = None

    def poll(self) -> None:
        """Hand every new line to ``on_line`` and remember the last result line."""
        while True:
            request: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
            if self._token:
                request["nextToken"] = self._token
            try:
                answer = self.logs.get_log_events(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return
                raise JobError(f"reading the log {self.group}/{self.stream} failed: {exc}") from exc
            for event in answer.get("events", []):
                self._line(str(event.get("message", "")).rstrip("\n"))
            token = answer.get("nextForwardToken")
            if not answer.get("events") or token == self._token:
                self._token = token or self._token
                return
            self._token = token

    def _line(self, line: str) -> None:
        if self._on_line is not None:
            self._on_line(line)
        figures = result_figures(line)
        if figures is not None:
            self._result = figures

    def result(self) -> dict[str, Any] | None:
        """The figures of the run's result line, read up to now (``None`` before it appears)."""
        self.poll()
        return self._result
