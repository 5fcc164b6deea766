"""``BatchTransform`` on this machine, for the emulator targets (moto records no transform job and runs none).

As SageMaker does, the job starts the model's serving container (here: the endpoint runner's server process on
a free port, health-checked), posts each input file's lines to ``/invocations`` in mini-batches with the port's
data contract, writes the ``.out`` files through the object store and stops the container. The job finishes
within :meth:`LocalBatchTransform.start`; its record (``<state_dir>/transform-jobs/<job>.json``) answers
:meth:`LocalBatchTransform.status` afterwards. The container, the record and the failure mapping are shared with
the local Vertex AI batch prediction runner (:mod:`mlops.local.batch_jobs`).
"""

from __future__ import annotations

from mlops.local import endpoint_runner
from mlops.local.batch_jobs import JobRecords, job_server, run_recorded
from mlops.platform import Platform
from mlops.ports.batch_transform import Answer, TransformJob, TransformRequest, transform_objects


class LocalBatchTransform:
    """Transform jobs run by the kit's serving container on loopback, over the platform's object store."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._records = JobRecords(platform.settings.state_dir / "transform-jobs")

    def start(self, request: TransformRequest) -> TransformJob:
        def run() -> list[str]:
            with job_server(self._platform, request.job_name, request.container) as server:

                def invoke(body: bytes) -> Answer:
                    answer = endpoint_runner.post_invocations(server.url, body, request.content_type, request.accept)
                    return answer.status_code, answer.content

                return transform_objects(self._platform.services.object_store, request, invoke)

        return run_recorded(self._records, request.job_name, run)

    def status(self, job_name: str) -> TransformJob:
        return self._records.read(job_name)
