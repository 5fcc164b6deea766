"""Batch job runner port: run one of the stack's batch jobs (``jobs/<key>.py``) to its end and say how it went.

A job is named by its key, the script's file stem (``curate``, ``build_features``); the stack's outputs map the
key to the service's job name (``outputs.glue_jobs``; on Google Cloud the Dataproc batch id prefix).
Implementations: AWS Glue (``StartJobRun`` then ``GetJobRun`` until the run ends), Dataproc Serverless
(``batches.create`` then ``batches.get``) and the kit's local runners, which play Glue on moto (it stores Glue jobs
but runs nothing) and Dataproc on Google's emulators. Either way a run is described by the same :class:`JobRun`,
and the script reports its figures in one result line (:func:`result_figures`).

``run`` returns only a successful run; a run that ended in any other state raises :class:`JobRunFailedError`,
which names the job and the reason and carries the :class:`JobRun`, so a caller can never mistake a failure for
a result. An unknown job key or a job the service does not know raises :class:`JobNotFoundError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops.contracts import JOB_RESULT_LOG_PREFIX
from mlops.ports.errors import ConflictError, NotFoundError, PortError

SUCCEEDED = "SUCCEEDED"
# Terminal run states: Glue's (the local Glue runner uses SUCCEEDED, FAILED and TIMEOUT of them) and Dataproc
# Serverless's batch states (SUCCEEDED, FAILED, CANCELLED).
TERMINAL_STATES = frozenset({SUCCEEDED, "FAILED", "STOPPED", "TIMEOUT", "ERROR", "CANCELLED"})


class JobError(PortError):
    """Starting or following a batch job run failed; the message names the job (and the run when it has one)."""


class JobNotFoundError(JobError, NotFoundError):
    """The stack declares no job under that key, or the service has no job of that name."""


class JobRunConflictError(JobError, ConflictError):
    """The service refused a new run because the job's concurrent-run limit is reached."""


@dataclass(frozen=True)
class JobRun:
    """One finished run: its state, the reason when it failed, how long it took, the figures the script
    reported (``rows_in``, ``table_version`` ...), where its log is and, for the local runner, its stored record."""

    job_key: str
    job_name: str
    run_id: str
    state: str
    error: str | None
    started_at: str
    finished_at: str
    duration_seconds: float
    arguments: dict[str, str]
    counts: dict[str, Any] = field(default_factory=dict)
    log_group: str | None = None
    log_stream: str | None = None
    record_uri: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCEEDED

    @property
    def logs(self) -> str | None:
        """``<log group>/<log stream>`` (CloudWatch Logs on AWS and on the emulator), ``None`` when unknown."""
        if self.log_group is None:
            return None
        return f"{self.log_group}/{self.log_stream}" if self.log_stream else self.log_group


class JobRunFailedError(JobError):
    """A run ended in a state other than SUCCEEDED; ``run`` holds the whole record."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        reason = run.error or "no reason given"
        super().__init__(f"job {run.job_key!r} ({run.job_name}) run {run.run_id} ended {run.state}: {reason}")


class JobRunner(Protocol):
    """Runs the stack's batch jobs and waits for each run's end."""

    def run(
        self,
        job_key: str,
        arguments: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> JobRun:
        """Run job ``job_key`` with ``arguments`` (``--name`` or ``name`` keys, overriding the job's default
        arguments) and wait for its end; ``on_line`` receives the run's log lines as they arrive (as far as the
        service streams them). Returns the successful run; raises :class:`JobRunFailedError` for any other end
        and :class:`JobNotFoundError` for an unknown job."""
        ...


def flag(key: str) -> str:
    """A job argument key in Glue's spelling: ``dataset`` -> ``--dataset`` (``--dataset`` stays)."""
    return key if key.startswith("--") else f"--{key}"


def merged_arguments(defaults: Mapping[str, str], run_arguments: Mapping[str, str]) -> dict[str, str]:
    """Glue's rule: the run's arguments override the job's DefaultArguments; keys come out as ``--name``."""
    merged = {flag(k): str(v) for k, v in defaults.items()}
    merged.update({flag(k): str(v) for k, v in run_arguments.items()})
    return merged


def result_figures(line: str) -> dict[str, Any] | None:
    """The figures of a job's result line (``mlops-job-result {json}``, anywhere in ``line``: a log service may
    prefix it), ``None`` for any other line."""
    _, prefix, payload = line.partition(JOB_RESULT_LOG_PREFIX)
    if not prefix:
        return None
    try:
        parsed = json.loads(payload)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
