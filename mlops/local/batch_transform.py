"""``BatchTransform`` on this machine, for the emulator targets (moto records no transform job and runs none).

As SageMaker does, the job starts the model's serving container (here: the endpoint runner's server process on
a free port, health-checked), posts each input file's lines to ``/invocations`` in mini-batches with the port's
data contract, writes the ``.out`` files through the object store and stops the container. The job finishes
within :meth:`LocalBatchTransform.start`; its record (``<state_dir>/transform-jobs/<job>.json``) answers
:meth:`LocalBatchTransform.status` afterwards.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from mlops.local import endpoint_runner
from mlops.platform import Platform
from mlops.ports.batch_transform import (
    Answer,
    TransformFailedError,
    TransformJob,
    TransformJobNotFoundError,
    TransformRequest,
    transform_objects,
)
from mlops.ports.hosting import HostingError


class LocalBatchTransform:
    """Transform jobs run by the kit's serving container on loopback, over the platform's object store."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def _jobs_dir(self) -> Path:
        return self._platform.settings.state_dir / "transform-jobs"

    def start(self, request: TransformRequest) -> TransformJob:
        try:
            with endpoint_runner.running_server(self._platform, request.job_name, request.container) as server:

                def invoke(body: bytes) -> Answer:
                    answer = endpoint_runner.post_invocations(server.url, body, request.content_type, request.accept)
                    return answer.status_code, answer.content

                outputs = transform_objects(self._platform.services.object_store, request, invoke)
        except HostingError as exc:
            failed = TransformFailedError(request.job_name, f"the model's container did not start: {exc}")
            self._record(TransformJob(request.job_name, "Failed", failure=failed.reason))
            raise failed from exc
        except TransformFailedError as exc:
            self._record(TransformJob(request.job_name, "Failed", failure=exc.reason))
            raise
        return self._record(TransformJob(request.job_name, "Completed", tuple(outputs)))

    def status(self, job_name: str) -> TransformJob:
        path = self._jobs_dir / f"{job_name}.json"
        if not path.is_file():
            raise TransformJobNotFoundError(f"transform job {job_name!r} was not run here (no record in {path.parent})")
        raw = json.loads(path.read_text())
        return TransformJob(**{**raw, "outputs": tuple(raw["outputs"])})

    def _record(self, job: TransformJob) -> TransformJob:
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        (self._jobs_dir / f"{job.name}.json").write_text(json.dumps(asdict(job), indent=2))
        return job
