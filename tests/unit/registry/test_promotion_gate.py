"""The promotion gate (``pipelines.registry.promotion``) over a memory platform: challenger and champion are scored
on the challenger's holdout by the kit's scoring function, and only a winner (or a forced, reasoned promotion)
moves the registry."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from mlops.contracts import CHALLENGER, CHAMPION
from mlops.datasets import DatasetDefinition
from mlops.errors import PromotionRejectedError, RegistryError
from mlops.modeling.spec import ModelSpec
from mlops.outputs import StackOutputs, parse_outputs
from mlops.platform import Platform
from mlops.ports.model_registry import GateRejectedError, ModelNotFoundError
from mlops.wiring import memory_platform
from pipelines.registry.promotion import list_models, primary_score, promote, rollback
from tests.support.registry import JobModel, job_model, registration
from tests.unit.test_outputs import complete_outputs
from tests.unit.training.synthetic import definition


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    outputs: StackOutputs = parse_outputs(complete_outputs(), "unit")
    yield memory_platform(outputs)


@pytest.fixture(scope="module")
def weak_job(tmp_path_factory: pytest.TempPathFactory) -> JobModel:
    return job_model(tmp_path_factory.mktemp("weak"), "registry_unit", shuffled=True)


@pytest.fixture
def dataset() -> DatasetDefinition:
    return definition(f"gate_{secrets.token_hex(4)}")


def register(platform: Platform, job: JobModel, dataset: DatasetDefinition, job_name: str) -> int:
    """Register ``job`` for ``dataset`` with its holdout written where the version's tag says."""
    key = f"training-jobs/{job_name}/input/validation"
    holdout_uri = platform.layout.zone_uri("models", f"{key}/")
    bucket = platform.outputs.bucket_for_zone("models")
    filesystem = platform.services.object_store.filesystem()
    job.holdout.to_parquet(f"{bucket}/{key}/part-0.parquet", filesystem=filesystem, index=False)
    request = registration(job, job_name, dataset=dataset.name, holdout_uri=holdout_uri)
    return platform.services.model_registry.register(request).model_version


def rows(platform: Platform, dataset: DatasetDefinition) -> dict[int, tuple[list[str], str, str, str]]:
    return {
        row["version"]: (row["aliases"], row["stage"], row["approval"], row["package_stage"])
        for row in list_models(platform, dataset.name)
    }


def test_the_first_challenger_needs_no_gate(platform: Platform, job: JobModel, dataset: DatasetDefinition) -> None:
    register(platform, job, dataset, "job-1")

    decision = promote(platform, dataset, margin=0.0)

    assert (decision.challenger_version, decision.champion_version, decision.champion_score) == (1, None, None)
    assert decision.metric == "pr_auc" and 0.0 < decision.challenger_score <= 1.0
    assert rows(platform, dataset) == {1: (["champion"], "Production", "Approved", "Production")}
    (row,) = list_models(platform, dataset.name)
    assert (row["dataset_version"], row["training_job"], row["code_version"]) == ("3", "job-1", "abc123")
    assert row["metrics"] == {"validation_pr_auc": 0.8, "validation_roc_auc": 0.85}
    assert row["model_package_arn"]


def test_a_better_challenger_wins_on_its_holdout(
    platform: Platform, job: JobModel, weak_job: JobModel, dataset: DatasetDefinition
) -> None:
    register(platform, weak_job, dataset, "job-weak")
    promote(platform, dataset, margin=0.0)
    register(platform, job, dataset, "job-strong")

    decision = promote(platform, dataset, margin=0.01)

    assert (decision.challenger_version, decision.champion_version, decision.forced) == (2, 1, False)
    assert decision.champion_score is not None
    assert decision.challenger_score >= decision.champion_score + 0.01
    assert rows(platform, dataset) == {
        1: ([], "Archived", "Approved", "Archived"),
        2: (["champion"], "Production", "Approved", "Production"),
    }


def test_the_gate_score_is_the_kits_scoring_on_the_challengers_holdout(
    platform: Platform, job: JobModel, dataset: DatasetDefinition
) -> None:
    register(platform, job, dataset, "job-1")
    model = platform.services.model_registry.load_model(dataset.name, CHALLENGER)
    expected = primary_score(model, job.holdout, ModelSpec.from_definition(dataset))

    assert promote(platform, dataset, margin=0.0).challenger_score == pytest.approx(expected)


def test_a_weaker_challenger_is_rejected_and_nothing_changes_unless_forced_with_a_reason(
    platform: Platform, job: JobModel, weak_job: JobModel, dataset: DatasetDefinition
) -> None:
    register(platform, job, dataset, "job-strong")
    promote(platform, dataset, margin=0.0)
    register(platform, weak_job, dataset, "job-weak")
    before = rows(platform, dataset)

    with pytest.raises(GateRejectedError, match=r"challenger v2 pr_auc=.* does not beat champion v1") as caught:
        promote(platform, dataset, margin=0.0)
    assert isinstance(caught.value, PromotionRejectedError)
    with pytest.raises(RegistryError, match="needs a reason"):
        promote(platform, dataset, margin=0.0, force=True, reason="  ")
    assert rows(platform, dataset) == before

    forced = promote(platform, dataset, margin=0.0, force=True, reason="known regression, newer code")
    assert (forced.challenger_version, forced.champion_version, forced.forced) == (2, 1, True)
    champion = platform.services.model_registry.version(dataset.name, CHAMPION)
    assert (champion.version, champion.tags["promotion"]) == (2, "forced: known regression, newer code")

    assert rollback(platform, dataset) == (2, 1)
    assert rows(platform, dataset) == {
        1: (["champion"], "Production", "Approved", "Production"),
        2: ([], "Archived", "Rejected", "Archived"),
    }
    with pytest.raises(RegistryError, match="replaced no earlier champion"):
        rollback(platform, dataset)


def test_promote_without_a_challenger_names_the_model(platform: Platform, dataset: DatasetDefinition) -> None:
    with pytest.raises(ModelNotFoundError, match=f"{dataset.name}.*alias 'challenger'"):
        promote(platform, dataset, margin=0.0)


def test_a_version_without_a_recorded_holdout_cannot_be_gated(
    platform: Platform, job: JobModel, dataset: DatasetDefinition
) -> None:
    request = registration(job, "job-1", dataset=dataset.name, lineage={"holdout_uri": ""})
    platform.services.model_registry.register(request)
    with pytest.raises(RegistryError, match="records no holdout_uri tag"):
        promote(platform, dataset, margin=0.0)
