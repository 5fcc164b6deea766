"""Every supervised task trains, is scored, gated, served and monitored: binary with string labels and a declared
positive class that sorts first, multiclass, regression. Definitions the trainer cannot handle fail at load."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.dataset_draft import draft
from mlops.datasets import DatasetDefinition, parse_definition
from mlops.errors import ConfigError, InvalidHyperparameterError
from mlops.modeling.metrics import primary_metric, skill, task_metrics
from mlops.modeling.scoring import metric_scores, score
from mlops.modeling.spec import ModelSpec, features_of, target_of
from monitoring.performance import concept_drift, degradation, window_metrics
from pipelines.registry.promotion import primary_score
from pipelines.training import entry_point, steps
from pipelines.training.hyperparameters import parse_hyperparameters, parse_spec, to_strings
from serving.model import load_model
from tests.support.task_datasets import LABELS, TASKS, sample

HP = {"max_iter": "30", "search_learning_rate": "0.2", "search_max_leaf_nodes": "7", "min_train_rows": "20"}


def _definition(name: str, rows: int = 400) -> tuple[DatasetDefinition, pd.DataFrame]:
    frame = sample(name, rows)
    definition = draft(name, frame, LABELS[name]).definition
    frame[definition.event_time] = pd.to_datetime(frame[definition.event_time], utc=True)
    return definition, frame


def _train(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], ModelSpec, Path]:
    definition, frame = _definition(name)
    spec = ModelSpec.from_definition(definition)
    split = steps.time_split(frame, spec, 0.25)
    for channel, part in (("train", split.train), ("validation", split.validation)):
        (tmp_path / "input" / "data" / channel).mkdir(parents=True)
        part.to_parquet(tmp_path / "input" / "data" / channel / "part-0.parquet")
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(json.dumps({**to_strings(spec), **HP}))
    monkeypatch.setenv(entry_point.ROOT_ENV, str(tmp_path))
    failure = tmp_path / "output" / "failure"
    assert entry_point.main() == 0, failure.read_text() if failure.is_file() else ""
    return json.loads((tmp_path / "model" / "metrics.json").read_text()), spec, tmp_path / "model" / "mlflow_model"


# --- definitions the trainer cannot handle fail at load, naming the field ----------------------------------------


def _raw(task: str, label_type: str, allowed: list[Any] | None, positive: Any = None) -> dict[str, Any]:
    label: dict[str, Any] = {"column": "y"}
    if positive is not None:
        label["positive_class"] = positive
    return {
        "name": "bad",
        "task": task,
        "entity_key": "id",
        "event_time": "at",
        "primary_key": ["id"],
        "label": label,
        "columns": [
            {"name": "id", "type": "string"},
            {"name": "at", "type": "timestamp"},
            {"name": "x", "type": "double"},
            {"name": "y", "type": label_type, **({"allowed": allowed} if allowed is not None else {})},
        ],
        "features": [{"name": "x", "kind": "column", "source": "x"}],
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_raw("classification", "int", [0, 1], 1), "task: Value error, 'classification' is no longer a task"),
        (_raw("binary", "string", ["a", "b"]), "label.positive_class: a binary task must declare it"),
        (_raw("binary", "string", ["a", "b"], "c"), "label.positive_class: 'c' is not one of the classes"),
        (_raw("binary", "int", [0, 1], "1"), "label.positive_class: '1' is not one of the classes"),
        (_raw("binary", "string", None, "a"), "columns.y.allowed: a binary label must list its classes"),
        (_raw("binary", "string", ["a", "b", "c"], "a"), "columns.y.allowed: a binary label has exactly two"),
        (_raw("binary", "double", [0, 1], 1), "columns.y.type: a binary label must be string, int or bool"),
        (_raw("binary", "int", [0, "1"], 0), "columns.y.allowed: '1' is not a int"),
        (_raw("multiclass", "string", ["a", "b"]), "columns.y.allowed: a multiclass label has at least three"),
        (_raw("multiclass", "string", ["a", "b", "c"], "a"), "label.positive_class: only a binary task"),
        (_raw("regression", "string", None), "columns.y.type: a regression label must be int or double"),
    ],
)
def test_a_definition_the_trainer_cannot_handle_fails_at_load_naming_the_field(
    raw: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_definition(raw, "<test>")
    assert expected in str(caught.value)


def test_a_timestamp_column_feature_or_a_mean_of_strings_fails_at_load() -> None:
    raw = _raw("regression", "double", None)
    raw["features"] = [{"name": "at_value", "kind": "column", "source": "at"}]
    with pytest.raises(ConfigError, match=r"features\.at_value\.source: 'at' is a timestamp"):
        parse_definition(raw, "<test>")
    raw["features"] = [{"name": "id_mean", "kind": "rolling", "source": "id", "aggregation": "mean", "window": "1d"}]
    with pytest.raises(ConfigError, match=r"features\.id_mean\.aggregation: 'mean' needs a numeric source"):
        parse_definition(raw, "<test>")


def test_the_spec_carries_the_positive_class_as_text_and_refuses_it_where_it_does_not_belong() -> None:
    definition, _ = _definition("tumours", 100)
    spec = ModelSpec.from_definition(definition)
    assert (spec.task, spec.positive_class) == ("binary", "cancer")
    assert parse_spec(to_strings(spec)) == spec
    strings = {**to_strings(spec), "positive_class": ""}
    with pytest.raises(InvalidHyperparameterError, match=r"positive_class.*required for a binary task"):
        parse_spec(strings)


# --- labels keep their declared type; the positive class is the declared one ------------------------------------


def test_string_labels_keep_their_type_in_the_target() -> None:
    definition, frame = _definition("tumours", 60)
    target = target_of(frame, ModelSpec.from_definition(definition))
    assert set(target.tolist()) == {"cancer", "healthy"}


def test_integer_classes_read_back_as_floats_become_ints_again() -> None:
    spec = ModelSpec("binary", "y", "at", ("x",), (), "1")
    target = target_of(pd.DataFrame({"y": [0.0, 1.0, 1.0], "x": [1, 2, 3]}), spec)
    assert target.dtype == np.int64 and target.tolist() == [0, 1, 1]


def test_binary_with_string_labels_trains_and_serves_the_declared_positive_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, spec, model_dir = _train(tmp_path, "tumours", monkeypatch)
    assert summary["metrics"]["pr_auc"] > summary["metrics"]["positive_rate"] + 0.1

    served = load_model(str(model_dir), None)
    assert served.scorer.classes == ("cancer", "healthy")  # sklearn sorts: the positive class is first
    _, frame = _definition("tumours")
    x = features_of(frame.head(50), spec)
    scores = served.score(x)
    raw = served.scorer.predict_proba_frame(x)  # type: ignore[misc]
    assert scores.positive_class == "cancer"
    assert np.allclose(np.asarray(scores.probabilities), np.asarray(raw)[:, 0])
    assert set(scores.predictions) <= {"cancer", "healthy"}

    # the gate scores the same class: PR-AUC of "cancer", equal to the training job's figure on its holdout
    import mlflow.sklearn

    holdout = pd.read_parquet(tmp_path / "input" / "data" / "validation")
    model = mlflow.sklearn.load_model(str(model_dir))
    assert primary_score(model, holdout, spec) == pytest.approx(summary["metrics"]["pr_auc"])


def test_multiclass_trains_with_its_metrics_and_serves_one_probability_per_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, spec, model_dir = _train(tmp_path, "plants", monkeypatch)
    metrics = summary["metrics"]
    for name in ("log_loss", "log_loss_prior", "f1_macro", "f1_weighted", "accuracy"):
        assert name in metrics
    assert {f"recall_{c}" for c in ("setosa", "versicolor", "virginica")} <= set(metrics)
    assert metrics["f1_macro"] > 0.7 and metrics["log_loss"] < metrics["log_loss_prior"]
    assert summary["job_metrics"]["validation:log_loss"] == metrics["log_loss"]
    assert primary_metric("multiclass") == ("log_loss", False)
    assert 0.3 < skill("multiclass", metrics) <= 1.0

    served = load_model(str(model_dir), None)
    _, frame = _definition("plants")
    scores = served.score(features_of(frame.head(5), spec))
    assert scores.classes == ["setosa", "versicolor", "virginica"]
    assert all(len(row) == 3 and abs(sum(row) - 1.0) < 1e-9 for row in scores.probabilities or [])
    document = scores.to_json()
    assert document["classes"] == ["setosa", "versicolor", "virginica"] and len(document["probabilities"]) == 5


def test_regression_trains_and_is_scored_by_its_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary, _, model_dir = _train(tmp_path, "houses", monkeypatch)
    assert summary["metrics"]["r2"] > 0.8
    assert load_model(str(model_dir), None).scorer.is_classifier is False


def test_multiclass_metrics_name_a_label_the_model_never_saw() -> None:
    scored = metric_scores(score(_FixedModel(("a", "b", "c")), pd.DataFrame({"x": [1, 2]})))
    with pytest.raises(ValueError, match="label value"):
        task_metrics("multiclass", np.asarray(["a", "z"], dtype=object), scored)


class _FixedModel:
    def __init__(self, classes: tuple[str, ...]) -> None:
        self.classes_ = np.asarray(classes, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.full((len(frame), len(self.classes_)), 1.0 / len(self.classes_))

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray([self.classes_[0]] * len(frame), dtype=object)


def test_a_positive_class_the_model_never_saw_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="positive class 'maybe' is not one of the model's classes"):
        score(_FixedModel(("no", "yes")), pd.DataFrame({"x": [1]}), "maybe")


# --- monitoring per task -----------------------------------------------------------------------------------------


def _times(rows: int) -> pd.Series:
    return pd.Series(pd.date_range("2025-01-01", periods=rows, freq="h", tz="UTC"))


def test_multiclass_is_monitored_per_class() -> None:
    classes = ("a", "b", "c")
    rng = np.random.default_rng(0)
    y = np.asarray(rng.choice(classes, 300), dtype=object)
    proba = np.full((300, 3), 0.1)
    proba[np.arange(300), [classes.index(v) for v in y]] = 0.8
    proba[250:] = [0.8, 0.1, 0.1]  # the last rows: the model says "a" whatever the truth
    scored = metric_scores(_scores(proba, classes))
    windows = window_metrics(_times(300), y, scored, "multiclass", window=timedelta(hours=50), min_rows=20)
    assert len(windows) == 6
    first, last = windows[0], windows[-1]
    assert first.per_class is not None and last.per_class is not None
    assert first.per_class["b"]["recall"] == 1.0 and last.per_class["b"]["recall"] == 0.0
    assert last.per_class["a"]["predicted_share"] == 1.0
    assert last.metrics["log_loss"] > first.metrics["log_loss"]
    assert degradation("multiclass", first.metrics["log_loss"], last.metrics["log_loss"]) > 1.0


def _scores(proba: np.ndarray[Any, Any], classes: tuple[str, ...]) -> Any:
    from mlops.modeling.scores import Scores

    predictions = [classes[i] for i in proba.argmax(axis=1)]
    return Scores(predictions, proba.tolist(), list(classes))


def test_regression_is_monitored_with_its_error_distribution() -> None:
    y = np.linspace(0, 100, 200)
    predicted = y + np.where(np.arange(200) < 100, 0.0, 10.0)  # the newer half over-predicts by 10
    windows = window_metrics(_times(200), y, predicted, "regression", window=timedelta(hours=100), min_rows=20)
    assert [w.errors["mean"] for w in windows if w.errors] == [pytest.approx(0.0), pytest.approx(10.0)]
    assert windows[-1].errors is not None and windows[-1].errors["p50"] == pytest.approx(10.0)
    assert windows[-1].per_class is None


def test_concept_drift_measures_string_classes_per_class() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 2000)
    reference = pd.DataFrame({"x": x[:1000], "y": np.where(x[:1000] > 0, "up", "down")})
    flipped = pd.DataFrame({"x": x[1000:], "y": np.where(x[1000:] > 0, "down", "up")})
    same = pd.DataFrame({"x": x[1000:], "y": np.where(x[1000:] > 0, "up", "down")})
    assert concept_drift(reference, flipped, ["x"], "y").score > 1.0
    assert concept_drift(reference, same, ["x"], "y").score < 0.2


def test_binary_task_metrics_are_about_the_positive_class_whatever_its_sort_order() -> None:
    y = np.asarray(["cancer", "healthy", "healthy", "cancer"], dtype=object)
    p_cancer = np.asarray([0.9, 0.2, 0.3, 0.8])
    metrics = task_metrics("binary", y, p_cancer, positive_class="cancer")
    assert metrics["pr_auc"] == pytest.approx(1.0) and metrics["positive_rate"] == 0.5


def test_every_task_has_a_gate_metric_and_hyperparameters_parse() -> None:
    assert {task: primary_metric(task)[0] for task in TASKS.values()} == {
        "binary": "pr_auc",
        "multiclass": "log_loss",
        "regression": "rmse",
    }
    assert parse_hyperparameters(HP).min_train_rows == 20
