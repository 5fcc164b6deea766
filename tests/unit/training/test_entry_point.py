"""The SageMaker-contract entry point on bad and good input, run in process against a tmp /opt/ml root."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops.errors import InvalidHyperparameterError
from mlops.modeling.spec import ModelSpec
from pipelines.training import entry_point
from pipelines.training.hyperparameters import parse_hyperparameters, to_strings
from tests.unit.training.synthetic import definition, feature_frame

SPEC = ModelSpec.from_definition(definition("ep_test"))
HP = {"max_iter": "20", "search_learning_rate": "0.2", "search_max_leaf_nodes": "7"}


def _root(tmp_path: Path, train: pd.DataFrame | None, validation: pd.DataFrame | None, hp: dict[str, str]) -> Path:
    for name, frame in (("train", train), ("validation", validation)):
        if frame is not None:
            (tmp_path / "input" / "data" / name).mkdir(parents=True)
            frame.to_parquet(tmp_path / "input" / "data" / name / "part-0.parquet")
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(json.dumps({**to_strings(SPEC), **hp}))
    return tmp_path


def _run(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv(entry_point.ROOT_ENV, str(root))
    code = entry_point.main()
    failure = root / "output" / "failure"
    return code, failure.read_text().strip() if failure.is_file() else ""


def test_trains_saves_model_and_prints_parsable_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = feature_frame(800)
    root = _root(tmp_path, frame.iloc[:600], frame.iloc[600:], HP)
    assert _run(root, monkeypatch) == (0, "")
    assert (root / "model" / "mlflow_model" / "MLmodel").is_file()
    out = capsys.readouterr().out
    from mlops.local.training_runner import parse_metrics

    metrics = parse_metrics(out, entry_point.METRIC_DEFINITIONS)
    assert metrics["validation:rows"] == 200.0
    assert metrics["validation:pr_auc"] > 0.5
    saved = json.loads((root / "model" / "metrics.json").read_text())
    assert saved["best_params"] == {"learning_rate": 0.2, "max_leaf_nodes": 7}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty", "channel 'train' is empty: no labelled rows"),
        ("small", "channel 'train' has 10 labelled rows; at least 50 are needed"),
        (
            "single_class",
            "channel 'train' holds 1 class(es) (0) of label 'is_fraud'; a binary task needs at least 2",
        ),
        ("missing_channel", "input channel 'validation' is missing"),
        ("bad_hp", "hyperparameter 'max_iter'='many': not a valid int"),
        ("unknown_hp", "hyperparameter 'depth'='3': unknown; known:"),
    ],
)
def test_bad_input_fails_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, expected: str
) -> None:
    frame = feature_frame(400)
    train, validation, hp = frame.iloc[:300], frame.iloc[300:], dict(HP)
    if case == "empty":
        train = train.iloc[:0]
    elif case == "small":
        train = train.iloc[:10]
    elif case == "single_class":
        train = train.assign(is_fraud=0)
    elif case == "missing_channel":
        validation = None
    elif case == "bad_hp":
        hp["max_iter"] = "many"
    else:
        hp["depth"] = "3"
    code, reason = _run(_root(tmp_path, train, validation, hp), monkeypatch)
    assert code == 1
    assert reason.startswith(expected)
    assert not (tmp_path / "model" / "metrics.json").exists()


def test_hyperparameters_parse_strings_and_reject_out_of_range_values() -> None:
    params = parse_hyperparameters({"learning_rate": "0.3", "search_max_leaf_nodes": "7, 9", "seed": "1"})
    assert (params.learning_rate, params.search_max_leaf_nodes, params.seed) == (0.3, (7, 9), 1)
    with pytest.raises(InvalidHyperparameterError, match=r"'learning_rate'='2': must be between 1e-06 and 1"):
        parse_hyperparameters({"learning_rate": "2"})
