"""`mlops train run` on the session's emulator: the wiring's runner (the local pipeline executor) runs the stack's
training pipeline; `mlops model promote` then promotes what it registered. No `--target` branch: the same command
starts SageMaker Pipelines on AWS."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.platform import Platform
from tests.integration.training.support import publish_dataset
from tests.unit.training.synthetic import definition, definition_yaml, feature_frame

pytestmark = pytest.mark.emulator

FAST = ["--hp", "max_iter=30", "--hp", "search_learning_rate=0.2", "--hp", "search_max_leaf_nodes=15"]


def _mlops(state_dir: Path, datasets: Path, *args: str, expect: int = 0) -> Any:
    env = {
        "MLOPS_STATE_DIR": str(state_dir),
        "MLOPS_TARGET": "moto",
        "MLOPS_STACK": "local",
        "MLOPS_DATASETS_DIR": str(datasets),
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == expect, result.output
    return json.loads(result.stdout)


def test_train_runs_the_pipeline_then_promote_makes_its_model_champion(
    platform: Platform, emulator_state_dir: Path, tmp_path: Path
) -> None:
    spec = definition(f"cli_{secrets.token_hex(3)}")
    publish_dataset(platform, spec, feature_frame(1200))
    (tmp_path / f"{spec.name}.yaml").write_text(definition_yaml(spec))

    trained = _mlops(emulator_state_dir, tmp_path, "train", spec.name, *FAST, "--json")
    assert (trained["status"], trained["pipeline"]) == ("Succeeded", platform.outputs.training_pipeline_name)
    assert [s["name"] for s in trained["steps"]] == ["Prepare", "Train", "Evaluate", "QualityBar", "Register"]
    assert trained["mlflow_version"] == 1
    assert trained["parameters"]["MaxIter"] == "30"
    assert trained["metrics"]["validation_pr_auc"] > 0.5

    promoted = _mlops(emulator_state_dir, tmp_path, "model", "promote", spec.name, "--json")
    assert (promoted["challenger_version"], promoted["champion_version"]) == (1, None)
    listed = _mlops(emulator_state_dir, tmp_path, "model", "list", spec.name, "--json")
    assert [(row["version"], row["aliases"], row["approval"]) for row in listed] == [(1, ["champion"], "Approved")]

    refused = _mlops(emulator_state_dir, tmp_path, "train", spec.name, *FAST, "--min-skill", "0.99", "--json", expect=1)
    assert (refused["status"], refused["steps"][-1]["name"]) == ("Failed", "QualityBarNotMet")
    assert refused["failure_reason"].endswith("is below MinQualitySkill 0.99")
    assert "mlflow_version" not in refused
    versions = _mlops(emulator_state_dir, tmp_path, "model", "list", spec.name, "--json")
    assert [row["version"] for row in versions] == [1]
