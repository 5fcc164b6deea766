"""The registry service (MLflow + model packages in step) over a throw-away MLflow and the in-memory packages:
what a registration writes, that it is all-or-nothing, and that promotion/rollback keep both sides in step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from mlflow import MlflowClient

from mlops.adapters.memory.model_packages import MemoryModelPackages
from mlops.contracts import CHALLENGER, CHAMPION
from mlops.ports.errors import ConflictError, NotFoundError
from mlops.ports.model_packages import Approval, ModelPackage, ModelPackageError, Stage
from mlops.ports.model_registry import ModelNotFoundError, RegistrationConflictError
from mlops.registry.mlflow_models import PACKAGE_TAG
from mlops.registry.service import ERROR_TAG, MlflowModelRegistry
from tests.support.registry import IMAGE, JobModel, registration
from tests.unit.registry.conftest import Harness


class RefusingPackages(MemoryModelPackages):
    """Packages whose creation fails (the cloud registry refusing: IAM, throttling, a deleted group)."""

    def create(self, model_data_url: str, image: str, **kwargs: Any) -> ModelPackage:
        raise ModelPackageError(f"creating a model package in group {self.group!r}: AccessDenied")


class FailingUpdates(MemoryModelPackages):
    """Packages whose update fails when the note starts with ``fail_on`` (after the others succeeded)."""

    def __init__(self, group: str, fail_on: str) -> None:
        super().__init__(group)
        self.fail_on = fail_on

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        if note.startswith(self.fail_on):
            raise ModelPackageError(f"updating model package {arn!r}: ThrottlingException")
        return super().update(arn, approval, stage, note)


def state(registry: MlflowModelRegistry, name: str) -> dict[int, tuple[tuple[str, ...], str, str, str]]:
    """Per version: aliases, MLflow stage tag, package approval, package stage."""
    return {v.version: (v.aliases, v.stage, v.approval, v.package_stage) for v in registry.versions(name)}


def test_register_writes_the_version_alias_lineage_report_and_package(unit: Harness, job: JobModel, name: str) -> None:
    registry, packages = unit.registry, unit.packages
    request = registration(job, "job-a", dataset=name, lineage={"pipeline_execution": "exec-1"})
    done = registry.register(request)

    assert (done.model_name, done.model_version) == (name, 1)
    info = registry.version(name, CHALLENGER)
    assert (info.version, info.aliases, info.stage) == (1, (CHALLENGER,), "Staging")
    assert info.metrics == {"validation_pr_auc": 0.8, "validation_roc_auc": 0.85}
    assert {k: info.tags[k] for k in request.lineage} == dict(request.lineage)
    assert info.tags[PACKAGE_TAG] == done.model_package_arn == info.model_package_arn
    assert (info.approval, info.package_stage) == ("PendingManualApproval", "Staging")
    assert info.run_id == done.run_id

    package = packages.describe(done.model_package_arn)
    assert (package.model_data_url, package.image) == (request.model_artifact, IMAGE)
    assert package.metadata["mlflow_model"] == name
    assert package.metadata["mlflow_version"] == "1"
    assert package.metadata["training_job"] == "job-a"
    assert package.metadata["pipeline_execution"] == "exec-1"
    assert package.metadata["validation_pr_auc"] == "0.8"
    assert "holdout_uri" not in package.metadata  # URIs can exceed the 256-character metadata limit

    report = unit.objects.get(unit.outputs.bucket_for_zone("models"), "training-jobs/job-a/output/evaluation.json")
    assert json.loads(report) == request.summary

    (run,) = unit.runs(name)
    assert run.info.status == "FINISHED"
    assert run.data.params["best_learning_rate"] == "0.1"
    assert run.data.params["hp_max_iter"] == "15"
    assert "hp_features" not in run.data.params
    assert run.data.tags["dataset"] == name


def test_a_second_registration_takes_the_challenger_alias(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.registry
    registry.register(registration(job, "job-a", dataset=name))
    second = registry.register(registration(job, "job-b", dataset=name))

    assert second.model_version == 2
    assert state(registry, name) == {
        1: ((), "Staging", "PendingManualApproval", "Staging"),
        2: ((CHALLENGER,), "Staging", "PendingManualApproval", "Staging"),
    }


def test_a_refused_package_leaves_no_version_no_alias_and_a_failed_run(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.registry
    registry.register(registration(job, "job-a", dataset=name))
    refusing = unit.over(RefusingPackages("unit-group"))

    with pytest.raises(ModelPackageError, match="AccessDenied") as caught:
        refusing.register(registration(job, "job-b", dataset=name))

    assert any("version 2 deleted" in note for note in caught.value.__notes__)
    assert [v.version for v in registry.versions(name)] == [1]
    assert registry.version(name, CHALLENGER).version == 1
    failed, finished = unit.runs(name)
    assert (failed.info.status, finished.info.status) == ("FAILED", "FINISHED")
    assert "AccessDenied" in failed.data.tags[ERROR_TAG]


@pytest.mark.parametrize("failing", ["set_model_version_tag", "set_registered_model_alias"])
def test_a_failed_tag_or_alias_rejects_the_package_and_deletes_the_version(
    monkeypatch: pytest.MonkeyPatch, unit: Harness, job: JobModel, name: str, failing: str
) -> None:
    registry = unit.registry
    original = getattr(MlflowClient, failing)

    def fail_on_the_second_version(client: MlflowClient, model: str, *args: Any) -> Any:
        version = args[1] if failing == "set_registered_model_alias" else args[0]
        if model == name and str(version) == "2":
            raise RuntimeError(f"{failing} refused")
        return original(client, model, *args)

    registry.register(registration(job, "job-a", dataset=name))
    monkeypatch.setattr(MlflowClient, failing, fail_on_the_second_version)

    with pytest.raises(RuntimeError, match="refused"):
        registry.register(registration(job, "job-b", dataset=name))

    monkeypatch.undo()
    assert [v.version for v in registry.versions(name)] == [1]
    assert registry.version(name, CHALLENGER).version == 1
    orphan = unit.packages.list()[-1]
    assert orphan.metadata["mlflow_version"] == "2"
    assert (orphan.approval, orphan.stage, orphan.description) == ("Rejected", "Archived", "registration failed")
    assert unit.runs(name)[0].info.status == "FAILED"


def test_set_champion_then_rollback_keep_aliases_tags_and_packages_in_step(
    unit: Harness, job: JobModel, name: str
) -> None:
    registry = unit.registry
    registry.register(registration(job, "job-a", dataset=name))
    assert registry.set_champion(name, 1, note="first") is None
    registry.register(registration(job, "job-b", dataset=name))
    previous = registry.set_champion(name, 2, note="better")

    assert previous is not None and (previous.version, previous.aliases) == (1, (CHAMPION,))
    assert state(registry, name) == {
        1: ((), "Archived", "Approved", "Archived"),
        2: ((CHAMPION,), "Production", "Approved", "Production"),
    }
    champion = registry.version(name, CHAMPION)
    assert (champion.tags["promotion"], champion.tags["previous_champion"]) == ("better", "1")

    assert registry.rollback(name) == (2, 1)
    assert state(registry, name) == {
        1: ((CHAMPION,), "Production", "Approved", "Production"),
        2: ((), "Archived", "Rejected", "Archived"),
    }
    with pytest.raises(RegistrationConflictError, match="replaced no earlier champion") as caught:
        registry.rollback(name)
    assert isinstance(caught.value, ConflictError)


def test_a_champion_registered_outside_the_kit_is_replaced(unit: Harness, job: JobModel, name: str) -> None:
    # A version registered with MLflow's own client (no model package) and made champion by hand: the kit's next
    # champion replaces it; there is no package to archive, the rest moves as usual.
    with unit.store.connection.session() as client:
        client.create_registered_model(name)
        outside = client.create_model_version(name, source=unit.store.artifact_location(name))
        client.set_registered_model_alias(name, CHAMPION, outside.version)
    unit.registry.register(registration(job, "job-a", dataset=name))

    previous = unit.registry.set_champion(name, 2, note="the kit's first")

    assert previous is not None and (previous.version, previous.model_package_arn) == (1, "")
    assert state(unit.registry, name) == {
        1: ((), "Archived", "", ""),
        2: ((CHAMPION,), "Production", "Approved", "Production"),
    }


def test_a_failed_promotion_is_undone(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.over(FailingUpdates("unit-group", fail_on="replaced by"))
    registry.register(registration(job, "job-a", dataset=name))
    registry.set_champion(name, 1, note="first")
    registry.register(registration(job, "job-b", dataset=name))
    before = state(registry, name)
    tags_before = {v.version: v.tags for v in registry.versions(name)}

    with pytest.raises(ModelPackageError, match="ThrottlingException") as caught:
        registry.set_champion(name, 2, note="better")

    assert state(registry, name) == before
    assert {v.version: v.tags for v in registry.versions(name)} == tags_before
    assert any("undone" in note and "package" in note for note in caught.value.__notes__)


def test_promoting_the_champion_again_is_a_conflict(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.registry
    registry.register(registration(job, "job-a", dataset=name))
    registry.set_champion(name, 1, note="first")
    with pytest.raises(RegistrationConflictError, match="already is the champion"):
        registry.set_champion(name, 1, note="again")


def test_unknown_models_versions_and_aliases(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.registry
    assert registry.versions(name) == []
    assert registry.find(name, CHAMPION) is None
    with pytest.raises(ModelNotFoundError, match=name):
        registry.version(name, "1")
    registry.register(registration(job, "job-a", dataset=name))
    with pytest.raises(ModelNotFoundError, match="no version 7") as caught:
        registry.version(name, "7")
    assert isinstance(caught.value, NotFoundError)
    with pytest.raises(ModelNotFoundError, match="alias 'champion'"):
        registry.version(name, CHAMPION)
    with pytest.raises(ModelNotFoundError, match="alias 'champion'"):
        registry.rollback(name)
    with pytest.raises(ModelNotFoundError):
        registry.set_champion(name, 9, note="no such version")
    with pytest.raises(ModelNotFoundError):
        registry.model_uri(name, CHAMPION)


def test_model_uri_is_pinned_and_the_model_loads_and_scores(unit: Harness, job: JobModel, name: str) -> None:
    registry = unit.registry
    from mlops.modeling.scoring import score
    from mlops.modeling.spec import ModelSpec, features_of

    registry.register(registration(job, "job-a", dataset=name))
    assert registry.model_uri(name, CHALLENGER) == f"models:/{name}/1"
    model = registry.load_model(name, CHALLENGER)
    scores = score(model, features_of(job.holdout.head(5), ModelSpec.from_definition(job.definition)))
    assert len(scores.predictions) == 5
    assert scores.probabilities is not None and all(0.0 <= p <= 1.0 for p in scores.probabilities)


def test_environment_names_the_tracking_store(unit: Harness) -> None:
    env: Mapping[str, str] = unit.registry.environment()
    assert env["MLFLOW_TRACKING_URI"] == unit.store.connection.tracking_uri
    assert env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
