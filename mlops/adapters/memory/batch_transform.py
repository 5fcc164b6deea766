"""``BatchTransform`` in memory: the container served in this process (through the hosting's ``serve``) over
the object store's files, with the port's data contract; jobs finish within ``start``."""

from __future__ import annotations

import threading

from mlops.adapters.memory.endpoint import MemoryHosting
from mlops.ports.batch_transform import (
    Answer,
    BatchTransformError,
    TransformFailedError,
    TransformJob,
    TransformJobNotFoundError,
    TransformRequest,
    transform_objects,
)
from mlops.ports.object_store import ObjectStore


class MemoryBatchTransform:
    """Runs each job at once over ``object_store``; the container is started with ``hosting.serve``."""

    def __init__(self, object_store: ObjectStore, hosting: MemoryHosting) -> None:
        self._store = object_store
        self._hosting = hosting
        self._jobs: dict[str, TransformJob] = {}
        self._lock = threading.Lock()

    def start(self, request: TransformRequest) -> TransformJob:
        if self._hosting.serve is None:
            raise BatchTransformError(f"transform job {request.job_name!r}: no in-process server (no serve given)")
        handler = self._hosting.serve(request.container)

        def invoke(body: bytes) -> Answer:
            status, answer, _ = handler(body, request.content_type, request.accept)
            return status, answer

        try:
            outputs = transform_objects(self._store, request, invoke)
        except TransformFailedError as exc:
            self._record(TransformJob(request.job_name, "Failed", failure=exc.reason))
            raise
        return self._record(TransformJob(request.job_name, "Completed", tuple(outputs)))

    def status(self, job_name: str) -> TransformJob:
        with self._lock:
            if job_name not in self._jobs:
                raise TransformJobNotFoundError(f"transform job {job_name!r} does not exist")
            return self._jobs[job_name]

    def _record(self, job: TransformJob) -> TransformJob:
        with self._lock:
            self._jobs[job.name] = job
        return job
