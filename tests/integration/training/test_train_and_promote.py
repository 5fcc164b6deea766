"""End to end against the emulator: feature table -> training job -> MLflow + model package -> promote/rollback."""

from __future__ import annotations

import secrets

import pandas as pd
import pytest
from deltalake import write_deltalake

from mlops.adapters.registry import SageMakerModelPackages
from mlops.datasets import DatasetDefinition
from mlops.errors import PromotionRejectedError, RegistryError
from mlops.local.platform import Platform
from mlops.local.training_runner import describe_job
from pipelines.feature_store.offline import feature_table_uri
from pipelines.registry.promotion import list_models, promote, rollback
from pipelines.training.workflow import train_dataset
from tests.unit.training.synthetic import definition, end_time, feature_frame

pytestmark = pytest.mark.emulator


def _dataset(platform: Platform, task: str, rows: int = 1500) -> tuple[DatasetDefinition, pd.DataFrame]:
    name = f"e2e_{task[:3]}_{secrets.token_hex(3)}"
    frame = feature_frame(rows, task)
    write_deltalake(
        feature_table_uri(platform, name), frame, storage_options=platform.clients.storage_options(), mode="overwrite"
    )
    return definition(name, task), frame


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_train_registers_challenger_then_promote_and_rollback(platform: Platform, task: str) -> None:
    spec, frame = _dataset(platform, task)
    cutoff = end_time(frame)
    hp = {"max_iter": "40", "search_learning_rate": "0.1,0.3", "search_max_leaf_nodes": "15"}
    first = train_dataset(platform, spec, hyperparameters=hp, cutoff=cutoff)

    assert first.job.status == "Completed"
    assert describe_job(platform, first.job.job_name).status == "Completed"
    assert first.table_version == 0
    if task == "classification":
        assert first.job.metrics["validation:pr_auc"] > 0.6
    else:
        assert first.job.metrics["validation:r2"] > 0.9
    packages = SageMakerModelPackages(platform.clients, platform.outputs.model_package_group)
    package = packages.describe(first.registration.model_package_arn)
    assert (package.approval, package.stage) == ("PendingManualApproval", "Staging")
    assert package.model_data_url == first.job.model_artifact
    assert package.metadata["training_job"] == first.job.job_name

    decision = promote(platform, spec, margin=0.0)
    assert decision.champion_version is None
    rows = {row["version"]: row for row in list_models(platform, spec.name)}
    assert rows[1]["aliases"] == ["champion"]
    assert (rows[1]["approval"], rows[1]["package_stage"], rows[1]["stage"]) == ("Approved", "Production", "Production")
    assert rows[1]["dataset_version"] == "0"

    second = train_dataset(platform, spec, hyperparameters=hp, cutoff=cutoff)
    assert second.registration.model_version == 2
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
