"""The pipeline's processing entry points run locally on small data through ``MLOPS_PROCESSING_ROOT``:
Prepare -> (the training entry point) -> Evaluate, each reusing the local workflow's pure functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from deltalake import write_deltalake

from mlops.datasets import TrainingWindow
from mlops.modeling.spec import ModelSpec
from pipelines.feature_store.offline import labelled_rows
from pipelines.training import entry_point, evaluate, prepare, steps
from pipelines.training.graph import EXECUTION_START
from pipelines.training.hyperparameters import to_strings
from pipelines.training.processing import ROOT_ENV
from tests.unit.training.synthetic import definition, definition_yaml, end_time, feature_frame

DEF = definition("proc_test")
SPEC = ModelSpec.from_definition(DEF)
SPEC_ARGS = [
    *("--task", SPEC.task, "--label", SPEC.label, "--event-time", SPEC.event_time),
    *("--features", ",".join(SPEC.features), "--categorical", ",".join(SPEC.categorical)),
    *("--positive-class", SPEC.positive_class),
]
REPO = Path(__file__).resolve().parents[3]


def _inputs(root: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """``input/definition`` and a two-version Delta table in ``input/features``; returns version 0's rows."""
    (root / "input" / "definition").mkdir(parents=True)
    (root / "input" / "definition" / "proc_test.yaml").write_text(definition_yaml(DEF))
    first, second = frame.iloc[:500], frame.iloc[500:]
    write_deltalake(str(root / "input" / "features"), first)
    write_deltalake(str(root / "input" / "features"), second, mode="append")
    return first


def _run(module: Any, argv: list[str], root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(ROOT_ENV, str(root))
    code: int = module.main(argv)
    return code


def test_prepare_splits_the_pinned_version_exactly_as_the_local_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = feature_frame(800)
    first = _inputs(tmp_path, frame)
    cutoff = end_time(frame).isoformat()
    argv = ["--dataset-version", "0", "--cutoff", cutoff, "--execution-start", "2030-01-01T00:00:00Z", *SPEC_ARGS]
    assert _run(prepare, argv, tmp_path, monkeypatch) == 0

    expected = steps.time_split(labelled_rows(first, DEF, end_time(frame)), SPEC, 0.2)
    train = pd.read_parquet(tmp_path / "output" / "train" / "part-0.parquet")
    validation = pd.read_parquet(tmp_path / "output" / "validation" / "part-0.parquet")
    assert train["transaction_id"].tolist() == expected.train["transaction_id"].tolist()
    assert validation["transaction_id"].tolist() == expected.validation["transaction_id"].tolist()
    assert train["event_time"].max() < validation["event_time"].min()
    assert list(train.columns) == ["transaction_id", "event_time", *SPEC.features, SPEC.label]
    split = json.loads((tmp_path / "output" / "split" / "split.json").read_text())
    assert split == {
        "dataset": "proc_test",
        "dataset_version": "0",
        "cutoff": cutoff,
        "boundary": expected.boundary.isoformat(),
        "train_rows": len(expected.train),
        "validation_rows": len(expected.validation),
        # the definition sets no `training` section: the plain split, recorded as such
        "holdout_span": None,
        "window": None,
        "recency_half_life": None,
        "train_start": expected.train["event_time"].min().isoformat(),
    }


def test_prepare_applies_the_definitions_training_window_and_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = feature_frame(800, days=120)
    _inputs(tmp_path, frame)
    windowed = DEF.model_copy(update={"training": TrainingWindow(holdout="14d", window="30d", recency_half_life="7d")})
    (tmp_path / "input" / "definition" / "proc_test.yaml").write_text(definition_yaml(windowed))
    argv = ["--dataset-version", "0", "--cutoff", end_time(frame).isoformat(), *SPEC_ARGS]
    assert _run(prepare, argv, tmp_path, monkeypatch) == 0

    train = pd.read_parquet(tmp_path / "output" / "train" / "part-0.parquet")
    validation = pd.read_parquet(tmp_path / "output" / "validation" / "part-0.parquet")
    split = json.loads((tmp_path / "output" / "split" / "split.json").read_text())
    boundary = pd.Timestamp(split["boundary"])
    assert validation["event_time"].min() >= boundary == validation["event_time"].max() - pd.Timedelta(days=14)
    assert (
        train["event_time"].min()
        >= boundary - pd.Timedelta(days=30)
        > train["event_time"].max() - pd.Timedelta(days=30)
    )
    assert train[steps.WEIGHT_COLUMN].mean() == pytest.approx(1.0)
    assert train.sort_values("event_time")[steps.WEIGHT_COLUMN].is_monotonic_increasing
    assert steps.WEIGHT_COLUMN not in validation.columns
    assert (split["holdout_span"], split["window"], split["recency_half_life"]) == (
        "14 days, 0:00:00",
        "30 days, 0:00:00",
        "7 days, 0:00:00",
    )


def test_prepare_as_a_module_reads_latest_and_cuts_off_at_the_execution_start(tmp_path: Path) -> None:
    frame = feature_frame(800)
    _inputs(tmp_path, frame)
    start = (frame["event_time"].max() + pd.Timedelta(days=31)).isoformat()
    argv = ["--dataset-version", "latest", "--cutoff", EXECUTION_START, "--execution-start", start]
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.training.prepare", *argv, *SPEC_ARGS],
        cwd=REPO,
        env={**os.environ, ROOT_ENV: str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    split = json.loads((tmp_path / "output" / "split" / "split.json").read_text())
    assert (split["dataset_version"], split["cutoff"]) == ("1", start)
    assert split["train_rows"] + split["validation_rows"] == 800


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (["--label", "amount"], "prepare failed: pipeline parameter for 'label' is 'amount' but dataset 'proc_test' "),
        (["--dataset-version", "7"], "prepare failed: cannot read feature table "),
        (["--dataset-version", "v2"], "prepare failed: dataset version 'v2' is neither 'latest' nor a non-negative"),
        (["--cutoff", "yesterday"], "prepare failed: --cutoff 'yesterday' is not an ISO 8601 time"),
        (["--cutoff", "2025-01-02T00:00:00Z"], "prepare failed: dataset 'proc_test': no labelled rows at feature"),
    ],
)
def test_prepare_fails_with_a_reason_naming_the_bad_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: list[str],
    expected: str,
) -> None:
    _inputs(tmp_path, feature_frame(800))
    argv = ["--dataset-version", "latest", "--cutoff", "2030-01-01T00:00:00Z", *SPEC_ARGS, *change]
    assert _run(prepare, argv, tmp_path, monkeypatch) == 1
    assert capsys.readouterr().err.startswith(expected)
    assert not (tmp_path / "output" / "split" / "split.json").exists()


def _train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Prepare, then the training entry point on its outputs; returns the processing root holding both."""
    frame = feature_frame(900)
    _inputs(tmp_path, frame)
    argv = ["--dataset-version", "latest", "--cutoff", end_time(frame).isoformat(), *SPEC_ARGS]
    assert _run(prepare, argv, tmp_path, monkeypatch) == 0
    sm = tmp_path / "sm"
    for channel in ("train", "validation"):
        (sm / "input" / "data" / channel).mkdir(parents=True)
        (tmp_path / "output" / channel / "part-0.parquet").rename(sm / "input" / "data" / channel / "part-0.parquet")
    (sm / "input" / "config").mkdir(parents=True)
    hp = {"max_iter": "20", "search_learning_rate": "0.2", "search_max_leaf_nodes": "7"}
    (sm / "input" / "config" / "hyperparameters.json").write_text(json.dumps({**to_strings(SPEC), **hp}))
    entry_point.train(sm)
    (tmp_path / "input" / "model").mkdir()
    with tarfile.open(tmp_path / "input" / "model" / "model.tar.gz", "w:gz") as tar:
        for item in (sm / "model").iterdir():
            tar.add(item, arcname=item.name)
    (sm / "input" / "data" / "validation").rename(tmp_path / "input" / "validation")
    return tmp_path


def test_evaluate_scores_the_trained_artifact_on_the_holdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _train(tmp_path, monkeypatch)
    assert _run(evaluate, SPEC_ARGS, root, monkeypatch) == 0
    report = json.loads((root / "output" / "evaluation" / "evaluation.json").read_text())
    holdout = pd.read_parquet(root / "input" / "validation")
    model = evaluate.load_model(root / "input" / "model", tmp_path / "unpacked")
    metrics = steps.evaluate(model, holdout, SPEC, 0.9)
    assert report["metrics"] == metrics
    assert report["primary_metric"] == {"name": "pr_auc", "value": metrics["pr_auc"], "greater_is_better": True}
    base = metrics["positive_rate"]
    assert report["quality"] == {"skill": pytest.approx((metrics["pr_auc"] - base) / (1 - base))}
    assert report["quality"]["skill"] > 0.3  # the synthetic signal is learnable: well above the default bar 0.1


def test_skill_is_r2_for_regression_and_zero_for_a_random_ranking() -> None:
    assert evaluate.skill("regression", {"r2": 0.42, "rmse": 3.0}) == 0.42
    assert evaluate.skill("binary", {"pr_auc": 0.2, "positive_rate": 0.2}) == 0.0
    assert evaluate.skill("binary", {"pr_auc": 1.0, "positive_rate": 0.2}) == 1.0


def test_evaluate_without_a_model_artifact_fails_naming_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "input" / "validation").mkdir(parents=True)
    feature_frame(100).to_parquet(tmp_path / "input" / "validation" / "part-0.parquet")
    (tmp_path / "input" / "model").mkdir()
    assert _run(evaluate, SPEC_ARGS, tmp_path, monkeypatch) == 1
    assert capsys.readouterr().err.startswith("evaluate failed: processing input 'model' holds no model.tar.gz under ")
    assert not (tmp_path / "output" / "evaluation" / "evaluation.json").exists()
