"""End to end against the emulator: feature table -> training job -> the registry service (MLflow version +
SageMaker model package in step) -> promote/rollback through the gate."""

from __future__ import annotations

import secrets

import pandas as pd
import pytest

from mlops.adapters.aws.sagemaker_packages import SageMakerModelPackages
from mlops.contracts import CHALLENGER
from mlops.datasets import DatasetDefinition
from mlops.errors import PromotionRejectedError, RegistryError
from mlops.local.clients import clients_of
from mlops.platform import Platform
from pipelines.registry.promotion import list_models, promote, rollback
from pipelines.training.workflow import train_dataset
from tests.integration.training.support import publish_dataset
from tests.unit.training.synthetic import definition, end_time, feature_frame

pytestmark = pytest.mark.emulator


def _dataset(platform: Platform, task: str, rows: int = 1500) -> tuple[DatasetDefinition, pd.DataFrame]:
    """A feature table and its deployed definition: what the training pipeline reads."""
    name = f"e2e_{task[:3]}_{secrets.token_hex(3)}"
    frame = feature_frame(rows, task)
    spec = definition(name, task)
    publish_dataset(platform, spec, frame)
    return spec, frame


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_train_registers_challenger_then_promote_and_rollback(platform: Platform, task: str) -> None:
    spec, frame = _dataset(platform, task)
    cutoff = end_time(frame)
    hp = {"max_iter": "40", "search_learning_rate": "0.1,0.3", "search_max_leaf_nodes": "15"}
    first = train_dataset(platform, spec, hyperparameters=hp, cutoff=cutoff)
    assert first.execution.status == "Succeeded", first.execution.failure_reason

    registry = platform.services.model_registry
    challenger = registry.version(spec.name, CHALLENGER)
    assert challenger.version == 1
    if task == "binary":
        assert challenger.metrics["validation_pr_auc"] > 0.6
    else:
        assert challenger.metrics["validation_r2"] > 0.9
    assert (challenger.stage, challenger.approval, challenger.package_stage) == (
        "Staging",
        "PendingManualApproval",
        "Staging",
    )
    assert challenger.tags["dataset_version"] == "0"
    job_name = challenger.tags["training_job"]
    assert job_name and challenger.tags["holdout_uri"] and challenger.tags["code_version"]
    # what SageMaker itself holds (not only what the registry reports)
    packages = SageMakerModelPackages(clients_of(platform), platform.outputs.model_package_group)
    package = packages.describe(challenger.model_package_arn)
    assert (package.approval, package.stage) == ("PendingManualApproval", "Staging")
    assert package.model_data_url == challenger.tags["model_artifact"]
    assert (package.metadata["training_job"], package.metadata["mlflow_version"]) == (job_name, "1")

    decision = promote(platform, spec, margin=0.0)
    assert decision.champion_version is None
    rows = {row["version"]: row for row in list_models(platform, spec.name)}
    assert rows[1]["aliases"] == ["champion"]
    assert (rows[1]["approval"], rows[1]["package_stage"], rows[1]["stage"]) == ("Approved", "Production", "Production")
    assert rows[1]["dataset_version"] == "0"

    second = train_dataset(platform, spec, hyperparameters=hp, cutoff=cutoff)
    assert second.execution.status == "Succeeded", second.execution.failure_reason
    assert registry.version(spec.name, CHALLENGER).version == 2
    # Same data and seed: the challenger cannot beat the champion by a positive margin.
    with pytest.raises(PromotionRejectedError, match="does not beat champion v1"):
        promote(platform, spec, margin=0.05)
    with pytest.raises(RegistryError, match="needs a reason"):
        promote(platform, spec, margin=0.05, force=True)
    forced = promote(platform, spec, margin=0.05, force=True, reason="same model, newer code")
    assert (forced.champion_version, forced.challenger_version, forced.forced) == (1, 2, True)
    rows = {row["version"]: row for row in list_models(platform, spec.name)}
    assert (rows[1]["approval"], rows[1]["package_stage"], rows[1]["aliases"]) == ("Approved", "Archived", [])
    assert (rows[2]["approval"], rows[2]["package_stage"], rows[2]["aliases"]) == (
        "Approved",
        "Production",
        ["champion"],
    )

    assert rollback(platform, spec) == (2, 1)
    rows = {row["version"]: row for row in list_models(platform, spec.name)}
    assert rows[1]["aliases"] == ["champion"]
    assert (rows[2]["approval"], rows[2]["package_stage"]) == ("Rejected", "Archived")
    with pytest.raises(RegistryError, match="replaced no earlier champion"):
        rollback(platform, spec)
