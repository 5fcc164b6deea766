"""Local Vertex AI training for ``cloud: gcp`` on Google's emulators: the training pipeline and its custom jobs.

Vertex AI has no emulator. :class:`LocalVertexTrainingRunner` plays a Vertex custom job on its contract: it runs the
container's entry point (``python3 -m <module>``, with this interpreter) in a watched subprocess with the job's
``AIP_*`` environment (:mod:`pipelines.training.vertex_contract` documents it) and the hyperparameters as
``--name=value`` arguments. Unlike the SageMaker runner it stages nothing: under the Vertex contract the entry
point reads its data URIs and writes ``AIP_MODEL_DIR`` itself, through the object-store port, on the GCS emulator.
The job's outcome (status, the reason from its log, the metrics of its ``metrics.json``, the model's archive) is
recorded as the SageMaker runner records it (``<models>/training-jobs/<job>/output/status.json``, the same
:meth:`describe`), so every process of the local stack sees it.

:func:`vertex_pipeline_executor` is the training port on the emulators: the kit's pipeline executor running the
same rendered definition, with this runner in place of the SageMaker one and the definition read from the object
store (:class:`StoredControlPlane`: ``<artifacts>/pipelines/<pipeline>/definition.json``, the stack-bound JSON
the local stack deploys). Its steps' subprocesses get :func:`gcp_runtime_environment`: the settings that reach the
same emulators, so the Register step registers into the same MLflow and Firestore-kept model packages.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.gcp.vertex_training import data_uri_environment, job_metrics, job_output_directory
from mlops.contracts import VERTEX_CHECKPOINT_DIR_ENV, VERTEX_JOB_ID_ENV, VERTEX_MODEL_DIR_ENV
from mlops.layout import pipeline_definition_key
from mlops.local.pipeline_executor import LocalPipelineExecutor
from mlops.local.processes import run_watched
from mlops.local.training_runner import LocalTrainingRunner, host_command
from mlops.platform import Platform
from mlops.ports.errors import NotFoundError
from mlops.ports.object_store import ObjectStore
from mlops.ports.training import (
    PipelineNotFoundError,
    TrainingJobError,
    TrainingJobRecord,
    TrainingJobRequest,
    TrainingJobRunner,
)

_FAILED_LINE = re.compile(r"^training failed: (.+)$", re.MULTILINE)


def custom_job_name(project: str, location: str, job_id: str) -> str:
    """A custom job's resource name, as Vertex names it (the record's ``job_arn``)."""
    return f"projects/{project}/locations/{location}/customJobs/{job_id}"


class LocalVertexTrainingRunner(LocalTrainingRunner):
    """:class:`~mlops.ports.training.TrainingJobRunner` playing Vertex custom jobs in subprocesses of this host
    (the records, :meth:`describe` and the entry point's command line are the SageMaker runner's)."""

    def __init__(
        self,
        store: ObjectStore,
        models_bucket: str,
        *,
        project: str,
        location: str,
        environment: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(store, models_bucket, environment=environment, workdir=workdir)
        self._project = project
        self._location = location

    def run(self, request: TrainingJobRequest) -> TrainingJobRecord:
        """Run the job under the Vertex contract to its end; a failing entry point gives a ``Failed`` record."""
        job_id = str(secrets.randbits(62))
        contract = vertex_environment(request, job_id)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        command = [*host_command(request.entry_point), *(f"--{k}={v}" for k, v in request.hyperparameters.items())]
        completed = run_watched(
            command,
            env={**os.environ, **request.environment, **self._environment, **contract},
            timeout=request.max_runtime_seconds,
            cwd=str(self._workdir) if self._workdir else None,
        )
        stdout, stderr = completed.stdout, completed.stderr
        if completed.timed_out:
            reason = f"the job exceeded its timeout ({request.max_runtime_seconds} s)"
        elif completed.returncode != 0:
            found = _FAILED_LINE.findall(stderr)
            reason = found[-1] if found else f"entry point exited with status {completed.returncode}: {stderr[-500:]}"
        else:
            reason = ""
        model_dir = contract[VERTEX_MODEL_DIR_ENV]
        metrics: dict[str, float] = {}
        if not reason:
            try:
                metrics = job_metrics(self._store, model_dir)
            except TrainingJobError as error:
                reason = str(error)
        record = TrainingJobRecord(
            job_name=request.job_name,
            job_arn=custom_job_name(self._project, self._location, job_id),
            status="Failed" if reason else "Completed",
            failure_reason=reason,
            channels=dict(request.channels),
            hyperparameters=dict(request.hyperparameters),
            metrics=metrics,
            model_artifact="" if reason else f"{model_dir.rstrip('/')}/model.tar.gz",
            started_at=started.isoformat(),
            ended_at=datetime.now(UTC).isoformat(),
            seconds=round(time.perf_counter() - clock, 3),
            log_tail=(stdout + stderr).splitlines()[-20:],
        )
        self._record(record)
        return record


def vertex_environment(request: TrainingJobRequest, job_id: str) -> dict[str, str]:
    """The ``AIP_*`` variables of a custom job for ``request``: its channels as the data URIs, the model under
    ``<output path><job name>/model/``; a channel the contract has no variable for is refused by name."""
    base = job_output_directory(request)
    return {
        VERTEX_MODEL_DIR_ENV: f"{base}model/",
        VERTEX_CHECKPOINT_DIR_ENV: f"{base}checkpoints/",
        VERTEX_JOB_ID_ENV: job_id,
        **data_uri_environment(request),
    }


class StoredControlPlane:
    """The executor's control plane for ``cloud: gcp``: definitions deployed to the object store, executions named
    as Vertex pipeline jobs (``projects/<p>/locations/<l>/pipelineJobs/<pipeline>-<id>``).

    ``defaults`` overrides parameter defaults with what the running stack's outputs say: the local apply plays
    MLflow's tracking store with sqlite and rewrites ``mlflow_tracking_uri``, while the definition the program
    bound names the program's location; the Register step must register where the CLI reads.
    """

    def __init__(
        self, store: ObjectStore, bucket: str, project: str, location: str, defaults: Mapping[str, str] | None = None
    ) -> None:
        self._store = store
        self._bucket = bucket
        self._prefix = f"projects/{project}/locations/{location}"
        self._defaults = dict(defaults or {})

    def definition(self, pipeline: str) -> str:
        key = pipeline_definition_key(pipeline)
        try:
            text = self._store.get(self._bucket, key).decode()
        except NotFoundError as exc:
            where = f"{self._store.scheme}://{self._bucket}/{key}"
            raise PipelineNotFoundError(f"pipeline {pipeline!r} is not deployed: no definition at {where}") from exc
        return _with_defaults(text, self._defaults) if self._defaults else text

    def start_execution(self, pipeline: str, display_name: str, parameters: Mapping[str, str]) -> str:
        return f"{self._prefix}/pipelineJobs/{pipeline}-{secrets.token_hex(6)}"

    def create_processing_job(self, job_name: str, request: Mapping[str, Any]) -> str:
        return f"{self._prefix}/customJobs/{job_name}"


def _with_defaults(text: str, defaults: Mapping[str, str]) -> str:
    """The definition with the named parameters' defaults replaced (an invalid one is returned as it is: the
    executor refuses it by name)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    for parameter in document.get("Parameters", []) if isinstance(document, dict) else []:
        if isinstance(parameter, dict) and parameter.get("Name") in defaults:
            parameter["DefaultValue"] = defaults[parameter["Name"]]
    return json.dumps(document, sort_keys=True)


def deploy_definition(store: ObjectStore, bucket: str, pipeline: str, definition: str) -> str:
    """Store the stack-bound ``definition`` where :class:`StoredControlPlane` finds it; returns its URI."""
    key = pipeline_definition_key(pipeline)
    store.put(bucket, key, definition.encode(), "application/json")
    return f"{store.scheme}://{bucket}/{key}"


def gcp_runtime_environment(platform: Platform) -> dict[str, str]:
    """What a step's subprocess needs to reach the same Google project or emulators: the kit's settings as
    variables, and ``STORAGE_EMULATOR_HOST`` for MLflow's GCS artifact store (which builds its own client)."""
    from mlops.wiring import gcp_client_factory

    settings = platform.settings
    hosts = gcp_client_factory(settings).hosts
    env = {
        "MLOPS_CLOUD": "gcp",
        "MLOPS_TARGET": settings.target,
        "MLOPS_GCP__PROJECT": settings.gcp.project,
        "MLOPS_GCP__LOCATION": settings.gcp.location,
        "MLOPS_REGION": settings.region,  # a step's own MLOPS_REGION is the GCP region: not the settings' kind
        "MLOPS_STACK": settings.stack_name,
        "MLOPS_STATE_DIR": str(settings.state_dir.resolve()),
        "GOOGLE_CLOUD_PROJECT": settings.gcp.project,
    }
    for service, host in (("storage", hosts.storage), ("pubsub", hosts.pubsub), ("firestore", hosts.firestore)):
        if host:
            env[f"MLOPS_GCP__{service.upper()}_EMULATOR_HOST"] = host
    if hosts.storage:
        env["STORAGE_EMULATOR_HOST"] = hosts.storage
    return env


def local_vertex_runner(platform: Platform, workdir: Path | None = None) -> LocalVertexTrainingRunner:
    """The custom-job runner of ``platform``: its object store and models bucket, its project's names."""
    gcp = platform.settings.gcp
    return LocalVertexTrainingRunner(
        platform.services.object_store,
        platform.outputs.bucket_for_zone("models"),
        project=gcp.project,
        location=gcp.location,
        environment=gcp_runtime_environment(platform),
        workdir=workdir,
    )


def vertex_pipeline_executor(
    platform: Platform, workdir: Path | None = None, *, jobs: TrainingJobRunner | None = None
) -> LocalPipelineExecutor:
    """The training port for ``cloud: gcp``: the pipeline executor with stored definitions and its Training steps
    run as Vertex custom jobs (``jobs``: Vertex AI itself; by default the local runner on the emulators)."""
    gcp = platform.settings.gcp
    store = platform.services.object_store
    return LocalPipelineExecutor(
        store=store,
        records_bucket=platform.outputs.bucket_for_zone("monitoring"),
        control=StoredControlPlane(
            store,
            platform.outputs.bucket_for_zone("artifacts"),
            gcp.project,
            gcp.location,
            defaults={"MlflowTrackingUri": platform.outputs.mlflow_tracking_uri},
        ),
        jobs=jobs or local_vertex_runner(platform, workdir),
        environment=gcp_runtime_environment(platform),
        workdir=workdir,
    )
