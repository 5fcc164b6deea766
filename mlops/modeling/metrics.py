"""The metrics a model is selected, gated and monitored on, per task. Pure: labels and scores in, figures out.

- binary: PR-AUC (gated), ROC-AUC, recall at a precision, positive rate, all about the declared positive class
  (the scores are its probabilities, :func:`mlops.modeling.scoring.metric_scores`);
- multiclass: log loss (gated, lower is better), macro and weighted F1, accuracy, recall per class
  (``recall_<class>``) and the log loss of predicting the class frequencies (``log_loss_prior``, the constant
  model the skill compares with);
- regression: RMSE (gated, lower is better), MAE, R2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlops.modeling.scoring import Scored

PRIMARY: dict[str, tuple[str, bool]] = {
    "binary": ("pr_auc", True),
    "multiclass": ("log_loss", False),
    "regression": ("rmse", False),
}


def primary_metric(task: str) -> tuple[str, bool]:
    """The metric models are selected and gated on, and whether greater is better."""
    if task not in PRIMARY:
        raise ValueError(f"task {task!r} is not one of {', '.join(PRIMARY)}")
    return PRIMARY[task]


def beats(challenger: float, champion: float, task: str, margin: float) -> bool:
    """Whether the challenger's primary metric beats the champion's by at least ``margin`` (absolute)."""
    _, greater = primary_metric(task)
    return challenger >= champion + margin if greater else challenger <= champion - margin


def skill(task: str, metrics: Mapping[str, float]) -> float:
    """The primary metric's improvement over a constant model, 0 (no better) to 1 (perfect): binary
    ``(PR-AUC - positive rate) / (1 - positive rate)`` (a random ranking's PR-AUC is the positive rate),
    multiclass ``1 - log loss / log loss of the class frequencies``, regression R2."""
    if task == "binary":
        base = metrics["positive_rate"]
        return (metrics["pr_auc"] - base) / (1.0 - base)
    if task == "multiclass":
        prior = metrics["log_loss_prior"]
        return 1.0 - metrics["log_loss"] / prior if prior > 0 else 0.0
    return metrics["r2"]


def recall_at_precision(y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], precision: float) -> float:
    """The highest recall over thresholds whose precision is at least ``precision`` (0 if none reaches it)."""
    from sklearn.metrics import precision_recall_curve

    precisions, recalls, _ = precision_recall_curve(y, scores)
    reaching = recalls[precisions >= precision]
    return float(reaching.max()) if reaching.size else 0.0


def class_metric_name(prefix: str, value: Any) -> str:
    """``recall_<class>`` with the class's text reduced to the characters every metric store accepts."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_.-]', '_', str(value))}"


def task_metrics(
    task: str,
    y: np.ndarray[Any, Any],
    scores: Scored | np.ndarray[Any, Any],
    precision: float = 0.9,
    *,
    positive_class: Any = None,
) -> dict[str, float]:
    """The task's metrics (module docstring) of labels ``y`` and ``scores``; always ``rows``.

    Binary: the scores are the probabilities of ``positive_class``, which :func:`metric_scores` records; given
    here it wins (for bare arrays); with neither, the larger of the two labels (``1`` for 0/1 labels).
    """
    scored = scores if isinstance(scores, Scored) else Scored(np.asarray(scores))
    if task == "binary":
        positive = positive_class if positive_class not in (None, "") else scored.positive_class
        return binary_metrics(y, scored.values, precision, positive)
    if task == "multiclass":
        return multiclass_metrics(y, scored)
    return regression_metrics(y, scored.values)


def positive_labels(y: np.ndarray[Any, Any], positive_class: Any) -> np.ndarray[Any, Any]:
    """``y == positive class`` as 0/1 (by value or by text: the class may have travelled as text)."""
    if positive_class is None or positive_class == "":
        values = sorted(set(y.tolist()))
        positive_class = values[-1] if values else 1
    return np.asarray([v == positive_class or str(v) == str(positive_class) for v in y.tolist()], dtype=int)


def binary_metrics(
    y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], precision: float, positive_class: Any
) -> dict[str, float]:
    from sklearn import metrics

    hits = positive_labels(y, positive_class)
    return {
        "pr_auc": float(metrics.average_precision_score(hits, scores)),
        "roc_auc": float(metrics.roc_auc_score(hits, scores)),
        "recall_at_precision": recall_at_precision(hits, scores, precision),
        "positive_rate": float(np.mean(hits)),
        "rows": float(len(y)),
    }


def multiclass_metrics(y: np.ndarray[Any, Any], scored: Scored) -> dict[str, float]:
    """Log loss over the model's classes (a label the model never saw is an error naming it), F1, accuracy and
    recall per class."""
    from sklearn import metrics

    if scored.classes is None or scored.values.ndim != 2:
        raise ValueError("multiclass metrics need the probability matrix and its classes (metric_scores)")
    classes = list(scored.classes)
    index = {str(c): i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in y.tolist()} - set(index))
    if unknown:
        raise ValueError(f"label value(s) {', '.join(unknown)} are not among the model's classes {classes}")
    codes = np.asarray([index[str(v)] for v in y.tolist()], dtype=int)
    proba = scored.values
    predicted = proba.argmax(axis=1)
    labels = list(range(len(classes)))
    recalls = metrics.recall_score(codes, predicted, labels=labels, average=None, zero_division=0.0)
    frequencies = np.bincount(codes, minlength=len(classes)) / max(len(codes), 1)
    return {
        "log_loss": float(metrics.log_loss(codes, proba, labels=labels)),
        "log_loss_prior": float(metrics.log_loss(codes, np.tile(frequencies, (len(codes), 1)), labels=labels)),
        "f1_macro": float(metrics.f1_score(codes, predicted, labels=labels, average="macro", zero_division=0.0)),
        "f1_weighted": float(metrics.f1_score(codes, predicted, labels=labels, average="weighted", zero_division=0.0)),
        "accuracy": float(np.mean(codes == predicted)),
        **{class_metric_name("recall", c): float(r) for c, r in zip(classes, recalls, strict=True)},
        "rows": float(len(y)),
    }


def regression_metrics(y: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> dict[str, float]:
    from sklearn import metrics

    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, predicted))),
        "mae": float(metrics.mean_absolute_error(y, predicted)),
        "r2": float(metrics.r2_score(y, predicted)) if len(y) > 1 else float("nan"),
        "rows": float(len(y)),
    }
