"""Training a dataset = starting the stack's training pipeline through the training port with the dataset's
parameters (here the in-memory runner, holding the committed definition)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops.adapters.memory.training import MemoryPipelines
from mlops.errors import ConfigError, InvalidHyperparameterError
from mlops.outputs import parse_outputs
from mlops.platform import Platform
from mlops.wiring import memory_platform
from pipelines.training.graph import HYPERPARAMETERS, SPEC_DEFAULTS
from pipelines.training.workflow import train_dataset
from tests.unit.test_outputs import complete_outputs
from tests.unit.training.synthetic import definition, definition_yaml

COMMITTED = Path(__file__).resolve().parents[3] / "pipelines" / "training" / "pipeline_definition.json"
SPEC = definition("wf_test")


@pytest.fixture
def platform() -> Platform:
    raw = complete_outputs()
    raw.update(
        features_bucket="features",
        artifacts_bucket="artifacts",
        dataset_definitions_uri="memory://artifacts/datasets/",
        training_pipeline_name="mlops-kit-unit-training",
    )
    platform = memory_platform(parse_outputs(raw, "unit"))
    runner = platform.services.training
    assert isinstance(runner, MemoryPipelines)
    runner.deploy("mlops-kit-unit-training", COMMITTED.read_text())
    return platform


def _deploy_definition(platform: Platform) -> None:
    platform.services.object_store.put("artifacts", "datasets/wf_test/wf_test.yaml", definition_yaml(SPEC).encode())


def test_starts_the_stacks_pipeline_with_the_datasets_parameters(platform: Platform) -> None:
    _deploy_definition(platform)
    cutoff = datetime(2025, 6, 1, tzinfo=UTC)
    run = train_dataset(
        platform, SPEC, version=2, hyperparameters={"max_iter": "30"}, cutoff=cutoff, min_skill=0.3, triggered_by="unit"
    )
    assert run.parameters == {
        "FeatureTableUri": "memory://features/tables/wf_test/",
        "DatasetDefinitionUri": "memory://artifacts/datasets/wf_test/",
        "DatasetVersion": "2",
        "TriggeredBy": "unit",
        "CodeVersion": run.parameters["CodeVersion"],
        "ModelTask": "binary",
        "Label": "is_fraud",
        "EventTime": "event_time",
        "Features": "amount,category,hour_of_day,txn_count_24h",
        "Categorical": "category",
        "PositiveClass": "1",
        "MaxIter": "30",
        "TrainingCutoff": "2025-06-01T00:00:00+00:00",
        "MinQualitySkill": "0.3",
    }
    assert len(run.parameters["CodeVersion"]) == 40 or run.parameters["CodeVersion"] == "unknown"
    execution = run.execution
    assert (execution.pipeline, execution.status, execution.display_name) == (
        "mlops-kit-unit-training",
        "Executing",
        "wf_test unit",
    )
    # what is not given keeps the definition's default
    assert execution.parameters["SearchLearningRate"] == "0.05,0.1"
    assert execution.parameters["MaxIter"] == "30"
    assert platform.services.training.describe(execution.arn) == execution


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_iter": "0"}, "max_iter"),
        ({"depth": "3"}, "depth"),
        ({"features": "amount"}, "the model spec comes from the dataset definition"),
    ],
)
def test_a_bad_hyperparameter_fails_before_anything_starts(
    platform: Platform, overrides: dict[str, str], message: str
) -> None:
    _deploy_definition(platform)
    with pytest.raises(InvalidHyperparameterError, match=message):
        train_dataset(platform, SPEC, hyperparameters=overrides)
    runner = platform.services.training
    assert isinstance(runner, MemoryPipelines)
    assert runner.executions("mlops-kit-unit-training") == []


def test_a_dataset_without_a_deployed_definition_is_refused_naming_where_it_should_be(platform: Platform) -> None:
    with pytest.raises(ConfigError, match="dataset 'wf_test' has no deployed definition under memory://artifacts/"):
        train_dataset(platform, SPEC)


def test_every_parameter_the_launcher_can_pass_is_declared_by_the_definition() -> None:
    declared = {p["Name"] for p in json.loads(COMMITTED.read_text())["Parameters"]}
    passed = {"FeatureTableUri", "DatasetDefinitionUri", "DatasetVersion", "TriggeredBy", "CodeVersion"}
    passed |= {"TrainingCutoff", "MinQualitySkill", *SPEC_DEFAULTS, *HYPERPARAMETERS}
    assert passed <= declared
