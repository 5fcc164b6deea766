"""THE scoring function: training's evaluation, the server, batch inference and monitoring all score through it.

A :class:`Scorer` wraps a fitted model. Classifiers exposing ``predict_proba`` are scored with ONE
``predict_proba`` call per batch: the label is the argmax (true for sklearn's trees, boosting and linear models;
not for SVMs' Platt scaling, which keep their own ``predict``) and the probabilities come with it. Regressors and
models without probabilities answer ``predict`` only. Having one function keeps a served probability, a
monitored PR-AUC and a gated PR-AUC the same number for the same rows.

How a model computes is not this module's concern: a compiled model (:mod:`mlops.modeling.compiled`, ONNX) answers
``predict``/``predict_proba``/``classes_`` like the estimator it was compiled from and is scored here the same way.

A binary classifier's ``probability`` is that of the definition's positive class (``positive_class``, matched
against the model's classes by its text), not of whichever class sklearn happens to sort second.
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
    positive_index: int = 1

    @classmethod
    def of(cls, estimator: Any, positive_class: Any = None) -> Scorer:
        """A scorer for a fitted sklearn estimator (or pipeline) or any object with ``predict``.

        ``positive_class`` (a binary classifier's positive class, or its text) picks the served probability; by
        default the second of the model's classes.
        """
        if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
            return cls(predict_frame=estimator.predict)
        from sklearn.pipeline import Pipeline
        from sklearn.svm import SVC, NuSVC

        final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        classes = tuple(estimator.classes_)
        return cls(
            predict_frame=estimator.predict,
            predict_proba_frame=estimator.predict_proba,
            classes=classes,
            label_is_argmax=not isinstance(final, SVC | NuSVC),
            positive_index=positive_index(classes, positive_class),
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
        if proba.shape[1] == 2:  # binary: the positive class's probability
            positive = json_ready([self.classes[self.positive_index]])[0]
            return Scores(
                predictions, proba[:, self.positive_index].tolist(), positive_class=positive, class_probabilities=proba
            )
        return Scores(predictions, proba.tolist(), json_ready(self.classes), class_probabilities=proba)


def positive_index(classes: Sequence[Any], positive_class: Any) -> int:
    """Index of the positive class among a binary model's ``classes`` (by value, else by text); 1 when none is
    given or the model is not binary. A positive class the model never saw is an error naming both."""
    if positive_class is None or positive_class == "" or len(classes) != 2:
        return 1
    for index, value in enumerate(classes):
        if value == positive_class or str(value) == str(positive_class):
            return index
    raise ValueError(f"positive class {positive_class!r} is not one of the model's classes {list(classes)}")


def score(model: Any, frame: Any, positive_class: Any = None) -> Scores:
    """Score ``frame`` (feature columns only) with a fitted model: see :class:`Scorer`."""
    return Scorer.of(model, positive_class).score(frame)


@dataclass(frozen=True)
class Scored:
    """What metrics are computed on: a binary classifier's positive-class probabilities (one per row), a
    multiclass classifier's probability matrix (a row per row, columns in the order of ``classes``), or a
    regressor's values. Indexable by a row mask, so a monitoring window takes its share."""

    values: np.ndarray[Any, Any]
    classes: tuple[Any, ...] | None = None
    positive_class: Any = None

    def __getitem__(self, rows: Any) -> Scored:
        return Scored(self.values[rows], self.classes, self.positive_class)

    def __len__(self) -> int:
        return len(self.values)


def metric_scores(scores: Scores) -> Scored:
    """The metrics' input from one scoring call (:class:`Scored`)."""
    if scores.probabilities is None:
        return Scored(np.asarray(scores.predictions))
    if scores.classes is None:
        return Scored(np.asarray(scores.probabilities, dtype=float), positive_class=scores.positive_class)
    return Scored(np.asarray(scores.probabilities, dtype=float), tuple(scores.classes))


def json_ready(result: Any) -> list[Any]:
    values = np.asarray(result)
    if values.ndim > 1 and values.shape[1] == 1:
        values = values[:, 0]
    return [item.tolist() if hasattr(item, "tolist") else item for item in values]
