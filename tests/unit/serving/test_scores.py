"""Classifier scores: positive-class probability (binary), per-class probabilities (multiclass), regression as
before; in JSON, CSV and across a micro-batch shared by several requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.modeling.scores import Scores
from mlops.modeling.scoring import Scorer
from serving.batcher import MicroBatcher
from serving.core import InferenceCore
from serving.model import LoadedModel
from serving.schema import ColumnSpec, InputSchema

SCHEMA = InputSchema((ColumnSpec("amount", "double"),))
BODY = b'{"instances": [[10.0], [250.0]]}'


def _classifier(proba: list[list[float]], classes: tuple[Any, ...]) -> InferenceCore:
    def predict_proba(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        assert frame["amount"].tolist() == [10.0, 250.0]
        return np.array(proba)

    def predict(frame: pd.DataFrame) -> list[Any]:
        raise AssertionError("the label comes from predict_proba's argmax: no second model call")

    model = LoadedModel("models:/m/1", "m", "1", SCHEMA, 0.0, Scorer(predict, predict_proba, classes))
    return InferenceCore(model)


def test_binary_classifier_answers_the_positive_class_probability_in_json_and_csv() -> None:
    core = _classifier([[0.9, 0.1], [0.25, 0.75]], (0, 1))
    answer = core.invocations(BODY, "application/json", "application/json")
    assert json.loads(answer.body) == {"predictions": [0, 1], "probabilities": [0.1, 0.75]}
    csv_answer = core.invocations(BODY, "application/json", "text/csv")
    assert csv_answer.body.decode() == "0,0.1\n1,0.75\n"


def test_multiclass_classifier_answers_one_probability_per_class() -> None:
    core = _classifier([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]], ("low", "mid", "high"))
    answer = core.invocations(BODY, "application/json", None)
    assert json.loads(answer.body) == {
        "predictions": ["low", "high"],
        "probabilities": [[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]],
        "classes": ["low", "mid", "high"],
    }
    csv_answer = core.invocations(BODY, "application/json", "text/csv")
    assert csv_answer.body.decode() == "low,0.5,0.25,0.25\nhigh,0.125,0.125,0.75\n"


def test_regression_answers_predictions_only() -> None:
    model = LoadedModel("models:/m/1", "m", "1", SCHEMA, 0.0, Scorer(lambda frame: (frame["amount"] * 2).to_numpy()))
    answer = InferenceCore(model).invocations(BODY, "application/json", None)
    assert json.loads(answer.body) == {"predictions": [20.0, 500.0]}
    assert InferenceCore(model).invocations(BODY, "application/json", "text/csv").body == b"20.0\n500.0\n"


@pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")
def test_sklearn_estimators_get_probabilities_only_when_they_have_predict_proba() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x = pd.DataFrame({"amount": [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 1.5, 11.5]})
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    logistic = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    scorer = Scorer.of(logistic)
    assert (scorer.classes, scorer.label_is_argmax) == ((0, 1), True)
    model = LoadedModel("models:/m/1", "m", "1", SCHEMA, 0.0, scorer)
    scores = model.score(x)
    assert scores.predictions == logistic.predict(x).tolist()
    assert scores.probabilities == logistic.predict_proba(x)[:, 1].tolist()
    assert not Scorer.of(LinearRegression().fit(x, y)).is_classifier
    assert not Scorer.of(SVC().fit(x, y)).is_classifier  # probability=False: no predict_proba
    svc = Scorer.of(SVC(probability=True, random_state=0).fit(x, y))
    assert svc.label_is_argmax is False


@pytest.mark.timeout(30)
def test_a_shared_micro_batch_hands_each_request_its_own_rows_and_probabilities() -> None:
    calls: list[int] = []

    def predict(rows: list[list[Any]]) -> Scores:
        calls.append(len(rows))
        return Scores([int(row[0] > 1) for row in rows], [row[0] / 10 for row in rows])

    async def scenario() -> list[Scores]:
        batcher = MicroBatcher(predict)
        try:
            return list(await asyncio.gather(batcher.predict([[1.0], [2.0]]), batcher.predict([[3.0]])))
        finally:
            batcher.close()

    # a private loop: asyncio.run() would leave the main thread without a current loop for later fixtures
    loop = asyncio.new_event_loop()
    try:
        first, second = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert calls == [3]
    assert (first, second) == (Scores([0, 1], [0.1, 0.2]), Scores([1], [0.3]))
