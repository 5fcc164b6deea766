"""The Vertex AI adapters of ``target: gcp`` (Vertex has no emulator): what a training job request becomes as a
custom job and how its outcome is read back, and the model-package port's semantics on Model Registry versions
(labels, the ``production`` alias, immutable metadata). The services are small in-process stand-ins that keep
Vertex's messages (``google.cloud.aiplatform_v1`` types) and its not-found answers; what they cannot show (IAM,
quotas, Vertex's own validation) is listed in docs/gcp.md. Also: ``auto`` on cloud gcp resolves to them."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as google_errors
from google.cloud import aiplatform_v1

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.vertex_model_registry import VertexModelPackages
from mlops.adapters.gcp.vertex_training import VertexCustomJobs
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.outputs import StackOutputs
from mlops.ports.errors import NotFoundError
from mlops.ports.model_packages import METADATA_VALUE_LIMIT, InvalidModelPackageError, ModelPackageNotFoundError
from mlops.ports.training import TrainingJobError, TrainingJobNotFoundError, TrainingJobRequest
from mlops.settings import load_settings
from mlops.wiring import resolve

SETTINGS = load_settings(cloud="gcp", target="gcp", gcp={"project": "mlops-test", "location": "europe-west4"})
PARENT = "projects/mlops-test/locations/europe-west4"


class JobService:
    """Custom jobs as Vertex keeps them: created QUEUED, then the states ``outcomes`` lists, one per read."""

    def __init__(self, *outcomes: str, error: str = "") -> None:
        self.jobs: dict[str, Any] = {}
        self._outcomes = list(outcomes)
        self._error = error
        self._ids = itertools.count(1)

    def create_custom_job(self, parent: str, custom_job: Any) -> Any:
        job = copy.deepcopy(custom_job)
        job.name = f"{parent}/customJobs/{next(self._ids)}"
        job.state = aiplatform_v1.JobState.JOB_STATE_QUEUED
        job.create_time = job.start_time = datetime(2026, 1, 1, tzinfo=UTC)
        self.jobs[job.name] = job
        return copy.deepcopy(job)

    def get_custom_job(self, name: str) -> Any:
        job = self.jobs[name]
        if self._outcomes:
            job.state = getattr(aiplatform_v1.JobState, self._outcomes.pop(0))
            if job.state.name == "JOB_STATE_FAILED":
                job.error.message = self._error
            job.end_time = datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
        return copy.deepcopy(job)

    def list_custom_jobs(self, parent: str, filter: str) -> list[Any]:
        name = filter.removeprefix('display_name="').removesuffix('"')
        return [copy.deepcopy(j) for j in self.jobs.values() if j.display_name == name]


def _runner(service: JobService, store: MemoryObjectStore) -> VertexCustomJobs:
    values: dict[str, Any] = {
        "image_uris": {"training": "europe-docker.pkg.dev/p/r/training:1"},
        "vertex_service_account": "train@mlops-test.iam",  # a GCP-only output
    }
    outputs = StackOutputs.model_construct(**values)
    return VertexCustomJobs(GcpClients(SETTINGS), store, outputs, job_service=service, sleep=lambda _: None)


REQUEST = TrainingJobRequest(
    job_name="pipelines-abc-train",
    entry_point=["python3", "-m", "pipelines.training.entry_point"],
    channels={"train": "gs://features/train/", "validation": "gs://features/validation/"},
    hyperparameters={"max_iter": "30", "features": "a,b"},
    output_path="gs://models/training/output",
    environment={"MLOPS_TRIGGERED_BY": "manual"},
    max_runtime_seconds=3600,
)


def test_a_request_becomes_one_custom_job_on_the_vertex_contract() -> None:
    job = _runner(JobService(), MemoryObjectStore()).custom_job(REQUEST)

    spec = job.job_spec
    container = spec.worker_pool_specs[0].container_spec
    assert job.display_name == "pipelines-abc-train"
    assert container.image_uri == "europe-docker.pkg.dev/p/r/training:1"
    assert list(container.command) == ["python3", "-m", "pipelines.training.entry_point"]
    assert list(container.args) == ["--max_iter=30", "--features=a,b"]
    assert {e.name: e.value for e in container.env} == {
        "AIP_TRAINING_DATA_URI": "gs://features/train/",
        "AIP_VALIDATION_DATA_URI": "gs://features/validation/",
        "MLOPS_TRIGGERED_BY": "manual",
    }
    # Vertex derives AIP_MODEL_DIR (<base>/model/) and AIP_CHECKPOINT_DIR from the base output directory
    assert spec.base_output_directory.output_uri_prefix == "gs://models/training/output/pipelines-abc-train/"
    assert spec.scheduling.timeout.total_seconds() == 3600
    assert spec.service_account == "train@mlops-test.iam"


def test_a_succeeded_job_is_recorded_with_the_metrics_and_archive_it_wrote() -> None:
    store = MemoryObjectStore(buckets=("models",))
    model_dir = "training/output/pipelines-abc-train/model"
    store.put("models", f"{model_dir}/metrics.json", b'{"job_metrics": {"validation:pr_auc": 0.8}}')
    service = JobService("JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")

    record = _runner(service, store).run(REQUEST)

    assert (record.status, record.failure_reason) == ("Completed", "")
    assert record.job_arn == f"{PARENT}/customJobs/1"
    assert record.metrics == {"validation:pr_auc": 0.8}
    assert record.model_artifact == f"gs://models/{model_dir}/model.tar.gz"
    assert record.seconds == 120.0
    described = _runner(service, store).describe("pipelines-abc-train")
    assert (described.job_arn, described.channels, described.hyperparameters["max_iter"]) == (
        record.job_arn,
        dict(REQUEST.channels),
        "30",
    )


def test_a_failed_job_is_a_failed_record_with_vertex_s_reason_and_an_unknown_one_is_not_found() -> None:
    service = JobService("JOB_STATE_FAILED", error="The replica workerpool0-0 exited with a non-zero status of 1.")
    record = _runner(service, MemoryObjectStore()).run(REQUEST)
    assert (record.status, record.model_artifact) == ("Failed", "")
    assert "non-zero status of 1" in record.failure_reason

    with pytest.raises(TrainingJobNotFoundError, match="'nope'") as caught:
        _runner(service, MemoryObjectStore()).describe("nope")
    assert isinstance(caught.value, NotFoundError)
    with pytest.raises(TrainingJobError, match="channel 'extra' has no Vertex data URI"):
        _runner(service, MemoryObjectStore()).run(
            TrainingJobRequest(**{**REQUEST.__dict__, "channels": {"extra": "gs://f/x/"}})
        )


class ModelService:
    """Model Registry as Vertex keeps it: a model per id, versions numbered from 1, labels and aliases per version,
    ``NotFound`` for a missing model or version."""

    def __init__(self) -> None:
        self.versions: dict[str, dict[str, Any]] = {}

    def _find(self, name: str) -> Any:
        model, _, version = name.partition("@")
        found = self.versions.get(model, {}).get(version) if version else None
        if found is None and not (not version and model in self.versions):
            raise google_errors.NotFound(f"Model {name} is not found.")  # type: ignore[no-untyped-call]
        return found

    def get_model(self, name: str) -> Any:
        found = self._find(name)
        return copy.deepcopy(found if found is not None else max(self.versions[name].values(), key=_number))

    def upload_model(self, request: Any) -> Any:
        name = request.parent_model or f"{request.parent}/models/{request.model_id}"
        if not request.parent_model and name in self.versions:
            raise google_errors.AlreadyExists(f"Model {name} already exists.")  # type: ignore[no-untyped-call]
        held = self.versions.setdefault(name, {})
        model = copy.deepcopy(request.model)
        model.name, model.version_id = name, str(len(held) + 1)
        held[model.version_id] = model

        class Operation:
            def result(self) -> Any:
                return aiplatform_v1.UploadModelResponse(model=name, model_version_id=model.version_id)

        return Operation()

    def update_model(self, model: Any, update_mask: Any) -> Any:
        current = self._find(model.name)
        for path in update_mask.paths:
            setattr(current, path, getattr(model, path))
        return copy.deepcopy(current)

    def merge_version_aliases(self, name: str, version_aliases: list[str]) -> Any:
        current = self._find(name)
        aliases = set(current.version_aliases)
        for alias in version_aliases:
            if alias.startswith("-"):
                aliases.discard(alias[1:])
            else:
                holders = [v for v in self.versions[current.name].values() if alias in v.version_aliases]
                if holders and holders[0] is not current:
                    raise google_errors.FailedPrecondition(f"alias {alias} is used by another version")  # type: ignore[no-untyped-call]
                aliases.add(alias)
        current.version_aliases = sorted(aliases)
        return copy.deepcopy(current)

    def list_model_versions(self, name: str) -> list[Any]:
        self._find(name)
        return [copy.deepcopy(v) for v in self.versions[name].values()]


def _number(model: Any) -> int:
    return int(model.version_id)


def _packages(service: ModelService | None = None) -> VertexModelPackages:
    return VertexModelPackages(GcpClients(SETTINGS), "mlops-dev-model", model_service=service or ModelService())


def _create(packages: VertexModelPackages, n: int, **metadata: str) -> str:
    return packages.create(
        f"gs://models/training/output/job-{n}/model/model.tar.gz",
        "europe-docker.pkg.dev/p/r/serving:1",
        metadata={"mlflow_version": str(n), **metadata},
        description=f"v{n}",
        metrics_url=f"gs://models/training-jobs/job-{n}/output/evaluation.json",
        lineage={"CommitId": "abc123"},
        drift_baselines={"statistics": f"gs://models/baselines/job-{n}/statistics.json"},
    ).arn


def test_a_package_is_a_model_version_pending_in_staging_with_its_metadata() -> None:
    service = ModelService()
    packages = _packages(service)
    arn = _create(packages, 1, training_job="job-1")
    second = _create(packages, 2)

    package = packages.describe(arn)
    assert (package.arn, package.version) == (f"{PARENT}/models/mlops-dev-model@1", 1)
    assert (package.approval, package.stage) == ("PendingManualApproval", "Staging")
    assert package.model_data_url == "gs://models/training/output/job-1/model/model.tar.gz"
    assert package.image == "europe-docker.pkg.dev/p/r/serving:1"
    assert package.metadata == {"mlflow_version": "1", "training_job": "job-1", "stage": "Staging"}
    assert package.drift_check_baselines == {"statistics": "gs://models/baselines/job-1/statistics.json"}
    version = service.versions[f"{PARENT}/models/mlops-dev-model"]["1"]
    assert version.artifact_uri == "gs://models/training/output/job-1/model/"  # the model's directory
    assert dict(version.labels) == {"approval": "pending-manual-approval", "stage": "staging"}
    assert [p.arn for p in packages.list()] == [arn, second]


def test_production_is_a_label_and_the_one_production_alias_moves_with_it() -> None:
    service = ModelService()
    packages = _packages(service)
    first, second = _create(packages, 1), _create(packages, 2)

    approved = packages.update(first, "Approved", "Production", "promoted: pr_auc 0.91 vs 0.88")
    assert (approved.approval, approved.stage, approved.description) == (
        "Approved",
        "Production",
        "promoted: pr_auc 0.91 vs 0.88",
    )
    assert approved.metadata["stage"] == "Production" and approved.metadata["mlflow_version"] == "1"
    packages.update(first, "Approved", "Archived", "replaced by v2")
    packages.update(second, "Approved", "Production", "promoted")
    versions = service.versions[f"{PARENT}/models/mlops-dev-model"]
    assert (list(versions["1"].version_aliases), list(versions["2"].version_aliases)) == ([], ["production"])
    packages.update(first, "Approved", "Production", "rolled back")  # moved without archiving the holder first
    assert (list(versions["1"].version_aliases), list(versions["2"].version_aliases)) == (["production"], [])

    rejected = packages.update(second, "Rejected", "Archived", "x" * 1500)
    assert (rejected.approval, rejected.stage, len(rejected.description)) == ("Rejected", "Archived", 1000)
    assert dict(versions["2"].labels) == {"approval": "rejected", "stage": "archived"}


def test_missing_versions_and_metadata_over_the_limit() -> None:
    packages = _packages()
    assert packages.list() == []
    with pytest.raises(ModelPackageNotFoundError, match="9999") as caught:
        packages.describe(f"{PARENT}/models/mlops-dev-model@9999")
    assert isinstance(caught.value, NotFoundError)
    _create(packages, 1)
    with pytest.raises(ModelPackageNotFoundError, match="9999"):
        packages.update(f"{PARENT}/models/mlops-dev-model@9999", "Approved", "Production", "no such version")
    with pytest.raises(ModelPackageNotFoundError, match="not a version of"):
        packages.describe(f"{PARENT}/models/another-model@1")
    with pytest.raises(InvalidModelPackageError, match=f"'holdout_uri' exceeds {METADATA_VALUE_LIMIT}"):
        _create(packages, 2, holdout_uri="s" * (METADATA_VALUE_LIMIT + 1))
    assert len(packages.list()) == 1


def test_auto_on_cloud_gcp_is_vertex_on_gcp_and_the_local_runners_on_the_emulators() -> None:
    emulated = load_settings(cloud="gcp", target="gcp-emulators")
    assert (resolve(SETTINGS, "training"), resolve(SETTINGS, "model_registry")) == ("vertex", "mlflow-vertex")
    assert (resolve(emulated, "training"), resolve(emulated, "model_registry")) == ("local", "mlflow-local")
    assert (resolve(load_settings(target="moto"), "training"), resolve(load_settings(), "model_registry")) == (
        "local",
        "mlflow-sagemaker",
    )
