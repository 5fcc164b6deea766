"""THE scoring function: training's evaluation, the server, batch inference and monitoring all score through it.

A :class:`Scorer` wraps a fitted model. Classifiers exposing ``predict_proba`` are scored with ONE
``predict_proba`` call per batch: the label is the argmax (true for sklearn's trees, boosting and linear models;
not for SVMs' Platt scaling, which keep their own ``predict``) and the probabilities come with it. Regressors and
models without probabilities answer ``predict`` only. Having one function keeps a served probability, a
monitored PR-AUC and a gated PR-AUC the same number for the same rows.

How a model computes is not this module's concern: a compiled model (:mod:`mlops.modeling.compiled`, ONNX) answers
``predict``/``predict_proba``/``classes_`` like the estimator it was compiled from and is scored here the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.modeling.scores import Scores


@dataclass(frozen=True)
class Scorer:
    """How to score a fitted model: its ``predict``, and for classifiers its ``predict_proba`` and classes."""

    predict_frame: Callable[[Any], Sequence[Any]]
    predict_proba_frame: Callable[[Any], Any] | None = None
    classes: tuple[Any, ...] = ()
    label_is_argmax: bool = True

    @classmethod
    def of(cls, estimator: Any) -> Scorer:
        """A scorer for a fitted sklearn estimator (or pipeline) or any object with ``predict``."""
        if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
            return cls(predict_frame=estimator.predict)
        from sklearn.pipeline import Pipeline
        from sklearn.svm import SVC, NuSVC

        final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        return cls(
            predict_frame=estimator.predict,
            predict_proba_frame=estimator.predict_proba,
            classes=tuple(estimator.classes_),
            label_is_argmax=not isinstance(final, SVC | NuSVC),
        )

    @property
    def is_classifier(self) -> bool:
        return self.predict_proba_frame is not None

    def predict(self, frame: Any) -> list[Any]:
        """Predictions as JSON-ready Python values, one per row."""
        return json_ready(self.predict_frame(frame))

    def score(self, frame: Any) -> Scores:
        """Predictions, plus class probabilities for a classifier (one ``predict_proba`` call, no second pass)."""
        if self.predict_proba_frame is None:
            return Scores(self.predict(frame))
        proba = np.asarray(self.predict_proba_frame(frame), dtype=float)
        if self.label_is_argmax:
            predictions = np.asarray(self.classes)[proba.argmax(axis=1)].tolist()
        else:
            predictions = self.predict(frame)
        if proba.shape[1] == 2:  # binary: the positive class, classes[1]
            return Scores(predictions, proba[:, 1].tolist(), class_probabilities=proba)
        return Scores(predictions, proba.tolist(), json_ready(self.classes), class_probabilities=proba)


def score(model: Any, frame: Any) -> Scores:
    """Score ``frame`` (feature columns only) with a fitted model: see :class:`Scorer`."""
    return Scorer.of(model).score(frame)


def metric_scores(scores: Scores) -> np.ndarray[Any, Any]:
    """What metrics are computed on: the positive-class probability of a binary classifier, else the values."""
    if scores.probabilities is not None and scores.classes is None:
        return np.asarray(scores.probabilities, dtype=float)
    return np.asarray(scores.predictions)


def json_ready(result: Any) -> list[Any]:
    values = np.asarray(result)
    if values.ndim > 1 and values.shape[1] == 1:
        values = values[:, 0]
    return [item.tolist() if hasattr(item, "tolist") else item for item in values]
