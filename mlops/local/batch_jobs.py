"""What the local batch runners share (SageMaker batch transform, :mod:`mlops.local.batch_transform`; Vertex AI
batch prediction, :mod:`mlops.local.vertex_batch`): a one-off serving container for the job, the job's outcome
recorded as a file under ``<state_dir>/<subdir>/<job>.json`` (what ``status`` answers afterwards), and the mapping of
a container that never started, or a mini-batch it refused, to a failed job.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from mlops.local import endpoint_runner
from mlops.local.processes import terminate
from mlops.platform import Platform
from mlops.ports.batch_transform import TransformFailedError, TransformJob, TransformJobNotFoundError
from mlops.ports.hosting import Container, HostingError

VERTEX_PORT_VARIABLE = "AIP_HTTP_PORT"


class JobRecords:
    """Transform jobs' outcomes as files, one per job name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def record(self, job: TransformJob) -> TransformJob:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{job.name}.json").write_text(json.dumps(asdict(job), indent=2))
        return job

    def read(self, job_name: str) -> TransformJob:
        path = self.directory / f"{job_name}.json"
        if not path.is_file():
            raise TransformJobNotFoundError(f"transform job {job_name!r} was not run here (no record in {path.parent})")
        raw = json.loads(path.read_text())
        return TransformJob(**{**raw, "outputs": tuple(raw["outputs"])})


def run_recorded(
    records: JobRecords, job_name: str, run: Callable[[], list[str]], arn: str | None = None
) -> TransformJob:
    """Run the job (``run`` returns its outputs) and record its outcome: ``Completed``, or ``Failed`` with the reason
    (:class:`TransformFailedError` raised, a container that did not start included)."""
    try:
        outputs = run()
    except HostingError as exc:
        failed = TransformFailedError(job_name, f"the model's container did not start: {exc}")
        records.record(TransformJob(job_name, "Failed", arn=arn, failure=failed.reason))
        raise failed from exc
    except TransformFailedError as exc:
        records.record(TransformJob(job_name, "Failed", arn=arn, failure=exc.reason))
        raise
    return records.record(TransformJob(job_name, "Completed", tuple(outputs), arn=arn))


@contextlib.contextmanager
def job_server(
    platform: Platform,
    name: str,
    container: Container,
    env: dict[str, str] | None = None,
    health_route: str = "/ping",
) -> Iterator[endpoint_runner.ServerProcess]:
    """A healthy serving container for one job, stopped after it whatever happens. ``env``: the environment of
    Vertex's contract (the port then goes in ``AIP_HTTP_PORT``); default SageMaker's (``--port``)."""
    if env is None:
        with endpoint_runner.running_server(platform, name, container) as server:
            yield server
        return
    log_dir = endpoint_runner.endpoints_dir(platform)
    server = endpoint_runner.launch(container.module, env, log_dir, name, VERTEX_PORT_VARIABLE)
    try:
        endpoint_runner.wait_healthy(server, route=health_route)
        yield server
    finally:
        terminate(server.process.pid)
