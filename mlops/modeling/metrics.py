"""The metrics a model is selected, gated and monitored on, per task. Pure: labels and scores in, figures out."""

from __future__ import annotations

from typing import Any

import numpy as np


def primary_metric(task: str) -> tuple[str, bool]:
    """The metric models are selected and gated on, and whether greater is better."""
    return ("pr_auc", True) if task == "classification" else ("rmse", False)


def beats(challenger: float, champion: float, task: str, margin: float) -> bool:
    """Whether the challenger's primary metric beats the champion's by at least ``margin`` (absolute)."""
    _, greater = primary_metric(task)
    return challenger >= champion + margin if greater else challenger <= champion - margin


def recall_at_precision(y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], precision: float) -> float:
    """The highest recall over thresholds whose precision is at least ``precision`` (0 if none reaches it)."""
    from sklearn.metrics import precision_recall_curve

    precisions, recalls, _ = precision_recall_curve(y, scores)
    reaching = recalls[precisions >= precision]
    return float(reaching.max()) if reaching.size else 0.0


def task_metrics(
    task: str, y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], precision: float = 0.9
) -> dict[str, float]:
    """Classification: PR-AUC, ROC-AUC, recall at ``precision``, positive rate (``scores`` are positive-class
    probabilities). Regression: RMSE, MAE, R2 (``scores`` are predicted values). Always ``rows``."""
    from sklearn import metrics

    if task == "classification":
        return {
            "pr_auc": float(metrics.average_precision_score(y, scores)),
            "roc_auc": float(metrics.roc_auc_score(y, scores)),
            "recall_at_precision": recall_at_precision(y, scores, precision),
            "positive_rate": float(np.mean(y)),
            "rows": float(len(y)),
        }
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, scores))),
        "mae": float(metrics.mean_absolute_error(y, scores)),
        "r2": float(metrics.r2_score(y, scores)) if len(y) > 1 else float("nan"),
        "rows": float(len(y)),
    }
