"""The model registry's contract, over every implementation: the model package port (the in-memory fake and
SageMaker model package groups on the session's moto server; the packages of ``cloud: gcp`` on Google's emulators,
kept in the Firestore emulator as Vertex Model Registry has none) and the registry service on top of it (MLflow +
in-memory packages from the ``memory`` wiring choice; the stack's MLflow + SageMaker packages on moto, as the
``platform`` fixture wires them). LocalStack's free edition does not run SageMaker, so there is no LocalStack
parameter here.

Each package test gets a package group of its own; each registry test a model name of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from mlflow import MlflowClient

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.sagemaker_packages import SageMakerModelPackages
from mlops.adapters.memory.model_packages import MemoryModelPackages
from mlops.contracts import CHALLENGER, CHAMPION
from mlops.modeling.scoring import score
from mlops.modeling.spec import ModelSpec, features_of
from mlops.outputs import parse_outputs
from mlops.platform import Platform
from mlops.ports.errors import ConflictError, NotFoundError
from mlops.ports.model_packages import (
    METADATA_VALUE_LIMIT,
    InvalidModelPackageError,
    ModelPackageNotFoundError,
    ModelPackageRegistry,
)
from mlops.ports.model_registry import ModelNotFoundError, ModelRegistry, RegistrationConflictError
from mlops.wiring import memory_platform
from tests.support.registry import JobModel, job_model, registration
from tests.unit.test_outputs import complete_outputs

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:1"
GroupFactory = Callable[[], ModelPackageRegistry]


def _moto_group(clients: ClientFactory) -> ModelPackageRegistry:
    group = f"contract-{secrets.token_hex(4)}"
    clients.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    return SageMakerModelPackages(clients, group)


@pytest.fixture(params=["memory", "aws-moto", "gcp-emulator"])
def packages(request: pytest.FixtureRequest) -> ModelPackageRegistry:
    if request.param == "memory":
        return MemoryModelPackages(f"contract-{secrets.token_hex(4)}")
    if request.param == "gcp-emulator":  # Vertex Model Registry has no emulator: the kit's store in Firestore's
        from mlops.local.gcp_model_packages import FirestoreModelPackages

        return FirestoreModelPackages(request.getfixturevalue("gcp_clients"), f"contract-{secrets.token_hex(4)}")
    return _moto_group(request.getfixturevalue("emulated_clients"))


def _gcp_emulator_registry(request: pytest.FixtureRequest) -> ModelRegistry:
    """MLflow (sqlite) with its artifacts in the GCS emulator and the packages in the Firestore emulator, as the
    wiring builds ``mlflow-local`` for ``cloud: gcp`` on the emulators."""
    from mlops.settings import Settings
    from mlops.wiring import container_platform

    settings: Settings = request.getfixturevalue("gcp_settings")
    directory = request.getfixturevalue("tmp_path_factory").mktemp("gcp-registry")
    suffix = secrets.token_hex(4)
    platform = container_platform(
        settings.model_copy(update={"state_dir": directory}),
        models_bucket=f"models-{suffix}",
        model_package_group=f"contract-{suffix}",
        mlflow_tracking_uri=f"sqlite:///{directory / 'mlflow.db'}",
    )
    request.getfixturevalue("gcp_clients").storage().create_bucket(f"models-{suffix}")
    return platform.services.model_registry


@pytest.fixture(scope="module", params=["memory", "aws-moto", "gcp-emulator"])
def registry(request: pytest.FixtureRequest) -> ModelRegistry:
    if request.param == "memory":
        return memory_platform(parse_outputs(complete_outputs(), "contract")).services.model_registry
    if request.param == "gcp-emulator":
        return _gcp_emulator_registry(request)
    platform: Platform = request.getfixturevalue("platform")
    return platform.services.model_registry


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> JobModel:
    return job_model(tmp_path_factory.mktemp("job"), "contract")


@pytest.fixture
def name() -> str:
    return f"contract_{secrets.token_hex(4)}"


def _create(packages: ModelPackageRegistry, n: int, **metadata: str) -> str:
    return packages.create(
        f"s3://models/training-jobs/job-{n}/output/model.tar.gz",
        IMAGE,
        metadata={"mlflow_version": str(n), **metadata},
        description=f"v{n}",
        metrics_url=f"s3://models/training-jobs/job-{n}/output/evaluation.json",
        lineage={"CommitId": "abc123", "GeneratedBy": f"job-{n}"},
    ).arn


def _missing_arn(packages: ModelPackageRegistry) -> str:
    """A well-formed ARN of a version the group does not hold."""
    arn = _create(packages, 1)
    return arn.rsplit("/", 1)[0] + "/9999"


# -- the model package port ----------------------------------------------------------------------------------------


def test_a_package_is_created_pending_in_staging_and_described(packages: ModelPackageRegistry) -> None:
    arn = _create(packages, 1, training_job="job-1")
    package = packages.describe(arn)

    assert (package.arn, package.version) == (arn, 1)
    assert (package.approval, package.stage) == ("PendingManualApproval", "Staging")
    assert package.model_data_url == "s3://models/training-jobs/job-1/output/model.tar.gz"
    assert package.image == IMAGE
    assert package.metadata == {"mlflow_version": "1", "training_job": "job-1", "stage": "Staging"}


def test_packages_are_listed_oldest_first(packages: ModelPackageRegistry) -> None:
    assert packages.list() == []
    arns = [_create(packages, n) for n in (1, 2, 3)]

    listed = packages.list()
    assert [p.arn for p in listed] == arns
    assert [p.version for p in listed] == [1, 2, 3]
    assert [p.metadata["mlflow_version"] for p in listed] == ["1", "2", "3"]


def test_update_sets_approval_stage_and_note_and_keeps_the_metadata(packages: ModelPackageRegistry) -> None:
    arn = _create(packages, 1, training_job="job-1")

    approved = packages.update(arn, "Approved", "Production", "promoted: pr_auc 0.91 vs 0.88")
    assert (approved.approval, approved.stage, approved.description) == (
        "Approved",
        "Production",
        "promoted: pr_auc 0.91 vs 0.88",
    )
    assert approved.metadata == {"mlflow_version": "1", "training_job": "job-1", "stage": "Production"}
    assert packages.describe(arn) == approved

    rejected = packages.update(arn, "Rejected", "Archived", "x" * 1500)
    assert (rejected.approval, rejected.stage, rejected.metadata["training_job"]) == ("Rejected", "Archived", "job-1")
    assert rejected.description == "x" * 1000  # the approval description is cut to SageMaker's limit


def test_a_missing_package_is_not_found(packages: ModelPackageRegistry) -> None:
    missing = _missing_arn(packages)
    with pytest.raises(ModelPackageNotFoundError, match="9999") as caught:
        packages.describe(missing)
    assert isinstance(caught.value, NotFoundError)
    with pytest.raises(ModelPackageNotFoundError, match="9999"):
        packages.update(missing, "Approved", "Production", "no such package")


def test_metadata_over_the_limit_is_refused_not_cut(packages: ModelPackageRegistry) -> None:
    with pytest.raises(InvalidModelPackageError, match=f"'holdout_uri' exceeds {METADATA_VALUE_LIMIT}"):
        _create(packages, 1, holdout_uri="s" * (METADATA_VALUE_LIMIT + 1))
    assert packages.list() == []

    arn = _create(packages, 1, holdout_uri="s" * METADATA_VALUE_LIMIT)
    assert packages.describe(arn).metadata["holdout_uri"] == "s" * METADATA_VALUE_LIMIT


# -- the registry service ------------------------------------------------------------------------------------------


def _state(registry: ModelRegistry, name: str) -> dict[int, tuple[tuple[str, ...], str, str, str]]:
    return {v.version: (v.aliases, v.stage, v.approval, v.package_stage) for v in registry.versions(name)}


def test_register_promote_register_promote_rollback_keep_aliases_and_packages_in_step(
    registry: ModelRegistry, job: JobModel, name: str
) -> None:
    first = registry.register(registration(job, f"{name}-1", dataset=name))
    assert first.model_version == 1
    assert _state(registry, name) == {1: ((CHALLENGER,), "Staging", "PendingManualApproval", "Staging")}
    assert registry.version(name, "1").model_package_arn == first.model_package_arn

    assert registry.set_champion(name, 1, note="first champion") is None
    assert _state(registry, name) == {1: ((CHAMPION,), "Production", "Approved", "Production")}

    second = registry.register(registration(job, f"{name}-2", dataset=name))
    assert second.model_version == 2
    assert second.model_package_arn != first.model_package_arn
    assert _state(registry, name) == {
        1: ((CHAMPION,), "Production", "Approved", "Production"),
        2: ((CHALLENGER,), "Staging", "PendingManualApproval", "Staging"),
    }

    previous = registry.set_champion(name, 2, note="better pr_auc")
    assert previous is not None and previous.version == 1
    assert _state(registry, name) == {
        1: ((), "Archived", "Approved", "Archived"),
        2: ((CHAMPION,), "Production", "Approved", "Production"),
    }
    champion = registry.find(name, CHAMPION)
    assert champion is not None and champion.version == 2
    assert registry.find(name, CHALLENGER) is None
    assert registry.model_uri(name, CHAMPION) == f"models:/{name}/2"

    assert registry.rollback(name) == (2, 1)
    assert _state(registry, name) == {
        1: ((CHAMPION,), "Production", "Approved", "Production"),
        2: ((), "Archived", "Rejected", "Archived"),
    }
    with pytest.raises(RegistrationConflictError, match="replaced no earlier champion") as caught:
        registry.rollback(name)
    assert isinstance(caught.value, ConflictError)


def test_unknown_models_versions_and_aliases_are_not_found(registry: ModelRegistry, job: JobModel, name: str) -> None:
    assert registry.versions(name) == []
    assert registry.find(name, CHAMPION) is None
    with pytest.raises(ModelNotFoundError, match=name) as caught:
        registry.version(name, CHAMPION)
    assert isinstance(caught.value, NotFoundError)

    registry.register(registration(job, f"{name}-1", dataset=name))
    with pytest.raises(ModelNotFoundError, match="no version 5"):
        registry.version(name, "5")
    with pytest.raises(ModelNotFoundError, match="alias 'champion'"):
        registry.rollback(name)
    with pytest.raises(ModelNotFoundError):
        registry.set_champion(name, 5, note="no such version")
    with pytest.raises(ModelNotFoundError):
        registry.model_uri(name, CHAMPION)


def test_a_registration_whose_package_is_refused_leaves_nothing_half_registered(
    registry: ModelRegistry, job: JobModel, name: str
) -> None:
    registry.register(registration(job, f"{name}-1", dataset=name))
    too_long = "c" * (METADATA_VALUE_LIMIT + 1)  # copied into the package's metadata, which refuses it

    with pytest.raises(InvalidModelPackageError, match="'code_version' exceeds"):
        registry.register(registration(job, f"{name}-2", dataset=name, lineage={"code_version": too_long}))

    assert [v.version for v in registry.versions(name)] == [1]
    assert registry.version(name, CHALLENGER).version == 1
    client = MlflowClient(tracking_uri=registry.environment()["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    statuses = {r.info.run_name: r.info.status for r in client.search_runs([experiment.experiment_id])}
    assert statuses == {f"{name}-1": "FINISHED", f"{name}-2": "FAILED"}


def test_the_registered_model_loads_from_the_registry(registry: ModelRegistry, job: JobModel, name: str) -> None:
    registry.register(registration(job, f"{name}-1", dataset=name))
    model = registry.load_model(name, CHALLENGER)
    features = features_of(job.holdout.head(7), ModelSpec.from_definition(job.definition))
    scores = score(model, features)
    assert len(scores.predictions) == 7
    assert scores.probabilities is not None and all(0.0 <= p <= 1.0 for p in scores.probabilities)
