"""The pipeline's Register step: the model a training job wrote, registered through the registry service with the
execution's lineage; the step builds its platform from the environment and its stack arguments alone."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from mlops.contracts import CHALLENGER
from mlops.modeling.spec import ModelSpec
from mlops.outputs import parse_outputs
from mlops.ports.model_registry import ModelRegistry
from mlops.settings import load_settings
from mlops.wiring import memory_platform
from pipelines.training import entry_point, register_step
from pipelines.training.hyperparameters import to_strings
from pipelines.training.processing import ROOT_ENV
from tests.unit.test_outputs import complete_outputs
from tests.unit.training.synthetic import definition, feature_frame

SPEC = ModelSpec.from_definition(definition("reg_step"))
EXECUTION = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/training/execution/abc123"
ARTIFACT = "s3://models/training/output/pipelines-abc123-train/output/model.tar.gz"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training job's ``model/`` directory, written by the real entry point on a small training set."""
    root = tmp_path_factory.mktemp("sm")
    frame = feature_frame(700)
    for name, part in (("train", frame.iloc[:550]), ("validation", frame.iloc[550:])):
        (root / "input" / "data" / name).mkdir(parents=True)
        part.to_parquet(root / "input" / "data" / name / "part-0.parquet")
    (root / "input" / "config").mkdir(parents=True)
    hp = {**to_strings(SPEC), "max_iter": "20", "search_learning_rate": "0.2", "search_max_leaf_nodes": "7"}
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hp))
    entry_point.train(root)
    return root / "model"


def _root(tmp_path: Path, model: Path) -> Path:
    """The Register step's inputs as SageMaker stages them."""
    (tmp_path / "input" / "model").mkdir(parents=True)
    with tarfile.open(tmp_path / "input" / "model" / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model)), recursive=False)
    (tmp_path / "input" / "split").mkdir(parents=True)
    split = {"dataset": "reg_step", "dataset_version": "4", "train_rows": 440, "validation_rows": 110}
    (tmp_path / "input" / "split" / "split.json").write_text(json.dumps(split))
    (tmp_path / "input" / "evaluation").mkdir(parents=True)
    (tmp_path / "input" / "evaluation" / "evaluation.json").write_text(json.dumps({"quality": {"skill": 0.7}}))
    return tmp_path


ARGV = [
    *("--training-job", "pipelines-abc123-train"),
    *("--training-job-arn", "arn:aws:sagemaker:us-east-1:000000000000:training-job/pipelines-abc123-train"),
    *("--model-artifact", ARTIFACT, "--holdout-uri", "s3://features/training/validation/abc123/"),
    *("--image", "kit:serving", "--code-version", "0123abc", "--pipeline-execution", EXECUTION),
    *("--model-package-group", "mlops-kit-unit-models", "--mlflow-tracking-uri", "unused-by-memory"),
    *("--models-bucket", "mlops-kit-unit-models"),
]


@pytest.fixture
def registry() -> ModelRegistry:
    return memory_platform(parse_outputs(complete_outputs(), "unit")).services.model_registry


def test_registers_the_model_as_challenger_with_the_executions_lineage(
    tmp_path: Path, trained: Path, registry: ModelRegistry
) -> None:
    root = _root(tmp_path, trained)
    registration = register_step.register(root, register_step.parse_arguments(ARGV), registry)

    challenger = registry.version("reg_step", CHALLENGER)
    assert challenger.version == registration.model_version == 1
    assert challenger.model_package_arn == registration.model_package_arn
    assert {
        k: challenger.tags[k] for k in ("dataset_version", "training_job", "code_version", "pipeline_execution")
    } == {
        "dataset_version": "4",
        "training_job": "pipelines-abc123-train",
        "code_version": "0123abc",
        "pipeline_execution": EXECUTION,
    }
    assert challenger.tags["model_artifact"] == ARTIFACT
    summary = json.loads((trained / "metrics.json").read_text())
    assert challenger.metrics["validation_pr_auc"] == pytest.approx(summary["job_metrics"]["validation:pr_auc"])
    report = json.loads((root / "output" / "registration" / "registration.json").read_text())
    assert (report["dataset"], report["model_version"], report["model_package_arn"]) == (
        "reg_step",
        1,
        registration.model_package_arn,
    )


def test_the_step_builds_its_platform_from_the_environment_and_its_stack_arguments(
    tmp_path: Path, trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path, trained)
    monkeypatch.setenv(ROOT_ENV, str(root))
    for capability in ("MODEL_REGISTRY", "OBJECT_STORE"):
        monkeypatch.setenv(f"MLOPS_SERVICES__{capability}__TYPE", "memory")
    assert register_step.main(ARGV) == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (printed["model_name"], printed["model_version"]) == ("reg_step", 1)
    platform = register_step.step_platform(load_settings(), register_step.parse_arguments(ARGV))
    assert platform.outputs.model_package_group == "mlops-kit-unit-models"
    assert platform.outputs.bucket_for_zone("models") == "mlops-kit-unit-models"


def test_a_model_from_an_older_entry_point_or_a_missing_input_fails_with_the_reason(
    tmp_path: Path, trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old-model"
    shutil.copytree(trained, old)
    summary = json.loads((old / "metrics.json").read_text())
    del summary["job_metrics"]
    (old / "metrics.json").write_text(json.dumps(summary))
    root = _root(tmp_path / "root", old)
    monkeypatch.setenv(ROOT_ENV, str(root))
    monkeypatch.setenv("MLOPS_SERVICES__MODEL_REGISTRY__TYPE", "memory")
    monkeypatch.setenv("MLOPS_SERVICES__OBJECT_STORE__TYPE", "memory")
    assert register_step.main(ARGV) == 1
    assert capsys.readouterr().err.startswith(
        "register failed: the model's metrics.json has no 'job_metrics': retrain with the current entry point"
    )
    shutil.rmtree(root / "input" / "split")
    assert register_step.main(ARGV) == 1
    assert "register failed: processing input 'split' is missing" in capsys.readouterr().err
