"""``BatchTransform`` on Vertex AI batch prediction (``target: gcp``): one ``BatchPredictionJob`` per request, on
the version's uploaded model (``mlops deploy`` uploads it as ``request.model_name``), polled to a final state.

The port's CSV inputs are staged as keyed JSON Lines and the job's ``predictions_*.jsonl`` joined back into the
port's ``.out`` files (:mod:`mlops.adapters.gcp.vertex_batch_contract`), so capability code sees SageMaker's contract
on either cloud. The job: ``inputConfig`` ``jsonl`` from the staged ``gcsSource``, ``instanceConfig`` (features as an
array, the key carried through), ``outputConfig`` ``jsonl`` to ``gcsDestination``, dedicated resources on
``machineSpec.machineType`` (a SageMaker instance type in the request means Vertex's default machine), the stack's
Vertex service account. Google's client library is imported on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.vertex_batch_contract import StagedInputs, instance_config, join_outputs, stage_instances
from mlops.adapters.gcp.vertex_hosting import DEFAULT_MACHINE, api_endpoint, parent_of
from mlops.layout import split_uri
from mlops.outputs import StackOutputs
from mlops.ports.batch_transform import (
    BatchTransformError,
    TransformFailedError,
    TransformJob,
    TransformJobNotFoundError,
    TransformRequest,
    TransformStatus,
)
from mlops.ports.object_store import ObjectStore

FINAL_STATES: dict[str, TransformStatus] = {
    "JOB_STATE_SUCCEEDED": "Completed",
    "JOB_STATE_FAILED": "Failed",
    "JOB_STATE_CANCELLED": "Stopped",
    "JOB_STATE_EXPIRED": "Failed",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "Failed",
}
POLL_SECONDS = 30.0
TIMEOUT_SECONDS = 24 * 3600.0


def machine_type(request: TransformRequest) -> str:
    """Vertex's machine for the request: its own when it names one, the default for a SageMaker ``ml.*`` type."""
    return DEFAULT_MACHINE if request.instance_type.startswith("ml.") else request.instance_type


def job_body(
    request: TransformRequest, model: str, staged: StagedInputs, service_account: str | None
) -> dict[str, Any]:
    """The ``BatchPredictionJob`` Vertex is sent for ``request`` on ``model`` (a model resource name)."""
    body: dict[str, Any] = {
        "display_name": request.job_name,
        "model": model,
        "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": list(staged.instance_uris)}},
        "instance_config": {
            "instance_type": "array",
            "key_field": instance_config(staged)["keyField"],
            "included_fields": list(staged.fields),
        },
        "output_config": {"predictions_format": "jsonl", "gcs_destination": {"output_uri_prefix": staged.destination}},
        "dedicated_resources": {
            "machine_spec": {"machine_type": machine_type(request)},
            "starting_replica_count": request.instance_count,
            "max_replica_count": request.instance_count,
        },
        "labels": {"mlops-kit": "batch-transform"},
    }
    if service_account:
        body["service_account"] = service_account
    return body


class VertexBatchPrediction:
    """``BatchTransform`` as Vertex AI batch prediction jobs in the stack's project and location."""

    def __init__(
        self,
        clients: GcpClients,
        outputs: StackOutputs,
        store: ObjectStore,
        *,
        jobs: Any = None,
        models: Any = None,
        poll_seconds: float = POLL_SECONDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``jobs`` and ``models``: Vertex's job and model service clients (default: created on first use)."""
        self._clients = clients
        self._outputs = outputs
        self._store = store
        self._given = {"jobs": jobs, "models": models}
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self._sleep = sleep

    @cached_property
    def _jobs(self) -> Any:
        from google.cloud import aiplatform_v1

        return self._given["jobs"] or aiplatform_v1.JobServiceClient(client_options=api_endpoint(self._clients))

    @cached_property
    def _models(self) -> Any:
        from google.cloud import aiplatform_v1

        return self._given["models"] or aiplatform_v1.ModelServiceClient(client_options=api_endpoint(self._clients))

    def _model(self, name: str) -> str:
        """The resource name of the uploaded model ``name`` (its display name)."""
        found = self._models.list_models(
            request={"parent": parent_of(self._clients), "filter": f'display_name="{name}"'}
        )
        resource = next((str(model.name) for model in found), None)
        if resource is None:
            raise BatchTransformError(
                f"model {name!r} is not uploaded to Vertex AI: run `mlops deploy` for its version"
            )
        return resource

    def start(self, request: TransformRequest) -> TransformJob:
        try:
            model = self._model(request.model_name)
            staged = stage_instances(self._store, request)
            account = str(getattr(self._outputs, "vertex_service_account", "") or "")
            created = self._jobs.create_batch_prediction_job(
                parent=parent_of(self._clients), batch_prediction_job=job_body(request, model, staged, account)
            )
            job = self._wait(request.job_name, str(created.name))
        except google_errors.GoogleAPIError as exc:
            raise BatchTransformError(f"batch prediction job {request.job_name!r}: {exc}") from exc
        state = FINAL_STATES[_state(job)]
        if state != "Completed":
            message = str(getattr(job.error, "message", "") or _state(job))
            raise TransformFailedError(request.job_name, f"Vertex AI job {job.name} ended {_state(job)}: {message}")
        directory = str(job.output_info.gcs_output_directory).rstrip("/") + "/"
        outputs = join_outputs(self._store, request, directory)
        return TransformJob(request.job_name, "Completed", tuple(outputs), arn=str(job.name))

    def _wait(self, job_name: str, resource: str) -> Any:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            job = self._jobs.get_batch_prediction_job(name=resource)
            if _state(job) in FINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise TransformFailedError(job_name, f"Vertex AI job {resource} still {_state(job)} after the timeout")
            self._sleep(self.poll_seconds)

    def status(self, job_name: str) -> TransformJob:
        try:
            found = list(
                self._jobs.list_batch_prediction_jobs(
                    request={"parent": parent_of(self._clients), "filter": f'display_name="{job_name}"'}
                )
            )
        except google_errors.GoogleAPIError as exc:
            raise BatchTransformError(f"batch prediction job {job_name!r}: {exc}") from exc
        if not found:
            raise TransformJobNotFoundError(f"batch prediction job {job_name!r} does not exist in Vertex AI")
        job = found[0]
        status: TransformStatus = FINAL_STATES.get(_state(job), "InProgress")
        outputs: tuple[str, ...] = ()
        if status == "Completed":
            outputs = self._outs(job)
        failure = str(getattr(job.error, "message", "") or "") or None if status == "Failed" else None
        return TransformJob(job_name, status, outputs, arn=str(job.name), failure=failure)

    def _outs(self, job: Any) -> tuple[str, ...]:
        """The ``.out`` files joined next to the job's output directory (``<output_prefix>vertex/...``)."""
        directory = str(job.output_info.gcs_output_directory)
        prefix = directory[: directory.index("/vertex/") + 1] if "/vertex/" in directory else directory
        scheme, bucket, key = split_uri(prefix)
        return tuple(f"{scheme}://{bucket}/{k}" for k in self._store.list_keys(bucket, key) if k.endswith(".out"))


def _state(job: Any) -> str:
    state = job.state
    return str(getattr(state, "name", state))
