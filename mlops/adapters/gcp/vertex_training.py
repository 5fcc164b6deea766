"""``TrainingJobRunner`` on Vertex AI custom jobs (``target: gcp``): the training pipeline's Training step as one
custom job running the kit's training image under the Vertex contract (``pipelines/training/vertex_contract.py``).

A :class:`~mlops.ports.training.TrainingJobRequest` maps onto a ``CustomJob``: one worker pool with the image, the
entry point as its command and the hyperparameters as ``--name=value`` arguments; the channels as the data URIs
(``AIP_TRAINING_DATA_URI``...: set in the container's environment, as Vertex sets them for a managed dataset);
``base_output_directory`` ``<output path><job name>/``, from which Vertex derives ``AIP_MODEL_DIR``
(``.../model/``) and ``AIP_CHECKPOINT_DIR``; ``MaxRuntimeInSeconds`` as the scheduling timeout; the stack's Vertex
service account (output ``vertex_service_account``). :meth:`VertexCustomJobs.run` creates the job and polls it to a
final state; the record's metrics are those of the ``metrics.json`` the entry point wrote beside its model (Vertex
applies no metric regexes to logs) and its artifact the ``model.tar.gz`` there. :meth:`describe` finds the newest
job of that display name.

Google's client library is imported on first use (it is slow to import and the local runner shares this module's
contract helpers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlops.adapters.gcp.clients import GcpClients
from mlops.contracts import VERTEX_DATA_ENV
from mlops.layout import split_uri
from mlops.outputs import StackOutputs
from mlops.ports.errors import NotFoundError
from mlops.ports.object_store import ObjectStore
from mlops.ports.training import TrainingJobError, TrainingJobNotFoundError, TrainingJobRecord, TrainingJobRequest

FINAL_STATES = {
    "JOB_STATE_SUCCEEDED": "Completed",
    "JOB_STATE_FAILED": "Failed",
    "JOB_STATE_CANCELLED": "Failed",
    "JOB_STATE_EXPIRED": "Failed",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "Failed",
}
DEFAULT_MACHINE = "n1-standard-4"
ARCHIVE = "model.tar.gz"


def job_output_directory(request: TrainingJobRequest) -> str:
    """The job's ``base_output_directory``: ``<output path><job name>/`` (the model goes to its ``model/``)."""
    return f"{request.output_path.rstrip('/')}/{request.job_name}/"


def data_uri_environment(request: TrainingJobRequest) -> dict[str, str]:
    """The channels as the contract's data URI variables; a channel the contract has no variable for is refused."""
    unknown = sorted(set(request.channels) - set(VERTEX_DATA_ENV))
    if unknown:
        raise TrainingJobError(
            f"training job {request.job_name!r}: channel {unknown[0]!r} has no Vertex data URI "
            f"(the contract passes {', '.join(VERTEX_DATA_ENV)})"
        )
    return {VERTEX_DATA_ENV[name]: uri for name, uri in request.channels.items()}


def job_metrics(store: ObjectStore, model_dir: str) -> dict[str, float]:
    """The job's metrics (``job_metrics`` of the ``metrics.json`` the entry point wrote under ``model_dir``)."""
    _, bucket, prefix = split_uri(model_dir)
    key = f"{prefix.rstrip('/')}/metrics.json".lstrip("/")
    try:
        summary: dict[str, Any] = json.loads(store.get(bucket, key))
    except NotFoundError as exc:
        raise TrainingJobError(f"the job wrote no metrics.json under {model_dir}") from exc
    return {str(k): float(v) for k, v in summary.get("job_metrics", {}).items()}


class VertexCustomJobs:
    """:class:`~mlops.ports.training.TrainingJobRunner` on Vertex AI custom jobs of the stack's project."""

    def __init__(
        self,
        clients: GcpClients,
        store: ObjectStore,
        outputs: StackOutputs,
        *,
        job_service: Any | None = None,
        machine_type: str = DEFAULT_MACHINE,
        poll_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._store = store
        self._outputs = outputs
        self._service = job_service
        self._machine_type = machine_type
        self._poll_seconds = poll_seconds
        self._sleep = sleep
        gcp = clients.settings.gcp
        self._parent = f"projects/{gcp.project}/locations/{gcp.location}"

    def _jobs(self) -> Any:
        if self._service is None:
            from google.cloud import aiplatform_v1

            location = self._clients.settings.gcp.location
            self._service = aiplatform_v1.JobServiceClient(
                client_options={"api_endpoint": f"{location}-aiplatform.googleapis.com"}
            )
        return self._service

    def _image(self, request: TrainingJobRequest) -> str:
        image = request.image or self._outputs.image_uris.get("training", "")
        if not image:
            raise TrainingJobError(
                f"training job {request.job_name!r} names no image and the stack outputs no image_uris.training"
            )
        return image

    def custom_job(self, request: TrainingJobRequest) -> Any:
        """The ``CustomJob`` a request becomes (see the module's docstring)."""
        from google.cloud import aiplatform_v1
        from google.protobuf import duration_pb2

        env = {**request.environment, **data_uri_environment(request)}
        container = aiplatform_v1.ContainerSpec(
            image_uri=self._image(request),
            command=list(request.entry_point),
            args=[f"--{key}={value}" for key, value in request.hyperparameters.items()],
            env=[aiplatform_v1.EnvVar(name=key, value=value) for key, value in sorted(env.items())],
        )
        spec = aiplatform_v1.CustomJobSpec(
            worker_pool_specs=[
                aiplatform_v1.WorkerPoolSpec(
                    machine_spec=aiplatform_v1.MachineSpec(machine_type=self._machine_type),
                    replica_count=1,
                    container_spec=container,
                )
            ],
            base_output_directory=aiplatform_v1.GcsDestination(output_uri_prefix=job_output_directory(request)),
            scheduling=aiplatform_v1.Scheduling(timeout=duration_pb2.Duration(seconds=request.max_runtime_seconds)),
            service_account=str(getattr(self._outputs, "vertex_service_account", "") or ""),
        )
        return aiplatform_v1.CustomJob(display_name=request.job_name, job_spec=spec)

    def run(self, request: TrainingJobRequest) -> TrainingJobRecord:
        """Create the custom job and wait for its final state; a failed job gives a ``Failed`` record."""
        from google.api_core import exceptions as google_errors

        job = self.custom_job(request)
        try:
            created = self._jobs().create_custom_job(parent=self._parent, custom_job=job)
            current = created
            while current.state.name not in FINAL_STATES:
                self._sleep(self._poll_seconds)
                current = self._jobs().get_custom_job(name=created.name)
        except google_errors.GoogleAPIError as exc:
            raise TrainingJobError(f"training job {request.job_name!r} on Vertex AI: {exc}") from exc
        return self._record(current, request)

    def describe(self, job_name: str) -> TrainingJobRecord:
        """The newest custom job named ``job_name``; :class:`TrainingJobNotFoundError` when there is none."""
        from google.api_core import exceptions as google_errors

        try:
            found = list(self._jobs().list_custom_jobs(parent=self._parent, filter=f'display_name="{job_name}"'))
        except google_errors.GoogleAPIError as exc:
            raise TrainingJobError(f"listing custom jobs named {job_name!r}: {exc}") from exc
        if not found:
            raise TrainingJobNotFoundError(f"training job {job_name!r}: no Vertex AI custom job of that name")
        newest = max(found, key=lambda job: _seconds(job.create_time))
        return self._record(newest, None)

    def _record(self, job: Any, request: TrainingJobRequest | None) -> TrainingJobRecord:
        status = FINAL_STATES.get(job.state.name, "InProgress")
        reason = "" if status != "Failed" else (job.error.message or job.state.name)
        pool = job.job_spec.worker_pool_specs[0].container_spec
        model_dir = f"{job.job_spec.base_output_directory.output_uri_prefix.rstrip('/')}/model/"
        metrics: dict[str, float] = {}
        if status == "Completed":
            try:
                metrics = job_metrics(self._store, model_dir)
            except TrainingJobError as error:
                status, reason = "Failed", str(error)
        channels = {name: e.value for e in pool.env for name, var in VERTEX_DATA_ENV.items() if e.name == var}
        hyperparameters = dict(arg.removeprefix("--").split("=", 1) for arg in pool.args if "=" in arg)
        started, ended = _seconds(job.start_time), _seconds(job.end_time)
        return TrainingJobRecord(
            job_name=job.display_name,
            job_arn=job.name,
            status=status,
            failure_reason=reason,
            channels=dict(request.channels) if request else channels,
            hyperparameters=dict(request.hyperparameters) if request else hyperparameters,
            metrics=metrics,
            model_artifact=f"{model_dir}{ARCHIVE}" if status == "Completed" else "",
            started_at=_iso(started),
            ended_at=_iso(ended),
            seconds=round(max(ended - started, 0.0), 3) if started and ended else 0.0,
        )


def _seconds(moment: Any) -> float:
    """A proto timestamp (a ``datetime`` in proto-plus messages) as epoch seconds; 0 when unset."""
    if isinstance(moment, datetime):
        return moment.timestamp()
    return 0.0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else ""
