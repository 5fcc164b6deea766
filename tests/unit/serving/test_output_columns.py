"""Batch inference names its answer's columns from the model's MLmodel metadata (task, classes) without loading the
model (2.2 s of a 442-row batch run); a model that does not declare them is loaded, as before. The names must be
those the loaded model's scorer gives, for every task and class type."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

from mlops.modeling.scoring import Scorer, json_ready
from serving.batch import declared_output_columns, output_columns
from serving.model import LoadedModel
from serving.schema import InputSchema


def _loaded(estimator: Any) -> LoadedModel:
    return LoadedModel("models:/m/1", "m", "1", InputSchema(()), 0.0, Scorer.of(estimator))


@pytest.mark.parametrize(
    ("task", "labels"),
    [
        ("binary", [0, 1, 1, 0]),
        ("binary", ["healthy", "cancer", "cancer", "healthy"]),
        ("binary", [False, True, True, False]),
        ("multiclass", [1, 2, 3, 2]),
        ("multiclass", ["setosa", "versicolor", "virginica", "setosa"]),
        ("multiclass", [0.5, 1.5, 2.5, 0.5]),
    ],
)
def test_a_classifiers_declared_columns_are_its_scorers(task: str, labels: list[Any]) -> None:
    model = DummyClassifier().fit(np.zeros((len(labels), 1)), labels)
    metadata = {"task": task, "label": "y", "classes": json_ready(model.classes_)}  # what the trainer writes
    assert declared_output_columns(metadata) == output_columns(_loaded(model))


def test_a_regressors_declared_column_is_the_prediction() -> None:
    model = DummyRegressor().fit(np.zeros((3, 1)), [1.0, 2.0, 3.0])
    assert (
        declared_output_columns({"task": "regression", "label": "y"})
        == output_columns(_loaded(model))
        == ["prediction"]
    )


@pytest.mark.parametrize(
    "metadata", [None, {}, {"task": "binary"}, {"task": "binary", "classes": [1]}, {"task": "ranking"}]
)
def test_a_model_that_does_not_declare_its_classes_is_loaded_to_know(metadata: dict[str, Any] | None) -> None:
    assert declared_output_columns(metadata) is None
