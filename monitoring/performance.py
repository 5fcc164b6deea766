"""Model degradation and concept drift maths. Pure: labelled frames and scores in, figures out.

**Task metric per window**: labelled rows are cut into consecutive time windows; each window gets the task's
metrics (:func:`mlops.modeling.metrics.task_metrics`) and what a person needs to see where quality went:
- binary: PR-AUC of the positive class, recall at a fixed precision, positive rate;
- multiclass: log loss, macro/weighted F1, and per class (``per_class``) its recall, precision, support and share
  of the predictions (a class the model stops predicting shows there first);
- regression: RMSE, MAE, R2 and the error distribution (``errors``: mean error (bias), standard deviation and
  quantiles of ``predicted - actual``, and the 90th percentile of the absolute error).

**Degradation** (``ModelQualityDrop``) of the newest window that has enough rows (and two classes):
- binary: ``validation PR-AUC - window PR-AUC`` (absolute, PR-AUC units);
- multiclass and regression: ``(window metric - validation metric) / validation metric`` for the gated metric
  (log loss, RMSE: relative increase of the error).
Negative values (the model does better than at release) are reported as they are.

**Concept drift** (``ConceptDriftScore``): a change of ``P(label | x)`` measured only on inputs whose own
distribution has not moved, so that input drift alone cannot raise it. For every feature whose PSI between the
reference and the current labelled window is below ``stable_psi``, cut bins on the reference (as for PSI) and take

    score_f = sum_b w_b * |mean_cur(y | b) - mean_ref(y | b)| / std_ref(y)

over bins with at least ``min_bin_rows`` rows on both sides, ``w_b`` the current share of the bin among those
bins. ``y`` is the label (for a classifier, the indicator of one class, so ``mean(y | b)`` is ``P(class | b)``;
every class is measured and the largest shift counts). Dividing by the
reference label's standard deviation makes the score unit-free (a rare positive class doubling in every bin
scores about as much as a regression target shifting by the same number of standard deviations). The dataset's
score is the largest ``score_f``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from mlops.modeling.metrics import task_metrics
from mlops.modeling.scoring import Scored
from monitoring.drift import DEFAULT_BINS, PSI_STABLE, bins_for, psi

MIN_WINDOW_ROWS = 30
MIN_BIN_ROWS = 20


@dataclass(frozen=True)
class WindowMetric:
    """The task metrics of one time window of labelled rows."""

    start: str
    end: str
    rows: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] | None = None
    errors: dict[str, float] | None = None


def per_class_metrics(y: np.ndarray[Any, Any], scored: Scored) -> dict[str, dict[str, float]]:
    """Per class of a multiclass model: recall, precision, support (labelled rows of the class) and the share of
    rows predicted as it. Classes are the model's, by their text."""
    classes = [str(c) for c in scored.classes or ()]
    actual = np.asarray([str(v) for v in y.tolist()], dtype=object)
    predicted = np.asarray(classes, dtype=object)[scored.values.argmax(axis=1)] if classes else actual
    out: dict[str, dict[str, float]] = {}
    for name in classes:
        is_class, said = actual == name, predicted == name
        hits = float(np.sum(is_class & said))
        out[name] = {
            "recall": hits / float(is_class.sum()) if is_class.any() else float("nan"),
            "precision": hits / float(said.sum()) if said.any() else float("nan"),
            "support": float(is_class.sum()),
            "predicted_share": float(said.mean()) if said.size else float("nan"),
        }
    return out


def error_distribution(y: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> dict[str, float]:
    """How a regressor's errors (``predicted - actual``) are spread: a bias shows in ``mean``, a heavier tail in
    the quantiles and ``abs_p90``."""
    errors = np.asarray(predicted, dtype=float) - np.asarray(y, dtype=float)
    p05, p25, p50, p75, p95 = np.quantile(errors, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "mean": float(errors.mean()),
        "std": float(errors.std(ddof=0)),
        "p05": float(p05),
        "p25": float(p25),
        "p50": float(p50),
        "p75": float(p75),
        "p95": float(p95),
        "abs_p90": float(np.quantile(np.abs(errors), 0.9)),
    }


def _window(task: str, ys: np.ndarray[Any, Any], scored: Scored, precision: float) -> WindowMetric:
    metrics = task_metrics(task, ys, scored, precision)
    per_class = per_class_metrics(ys, scored) if task == "multiclass" else None
    errors = error_distribution(ys, scored.values) if task == "regression" else None
    return WindowMetric("", "", int(ys.size), metrics, per_class, errors)


def window_metrics(
    times: pd.Series,
    y: np.ndarray[Any, Any],
    scores: Scored | np.ndarray[Any, Any],
    task: str,
    *,
    window: timedelta,
    precision: float = 0.9,
    min_rows: int = MIN_WINDOW_ROWS,
) -> list[WindowMetric]:
    """Metrics of consecutive ``window``-long slices ending at the newest time, oldest first.

    Windows with fewer than ``min_rows`` rows, or (classification) a single class, are skipped: their metric
    would be noise or undefined. ``scores``: :func:`mlops.modeling.scoring.metric_scores` of the rows.
    """
    if len(times) == 0:
        return []
    scored = scores if isinstance(scores, Scored) else Scored(np.asarray(scores))
    stamps = pd.to_datetime(times, utc=True).reset_index(drop=True)
    end = stamps.max() + pd.Timedelta(microseconds=1)
    span = pd.Timedelta(window)
    count = int(np.ceil((end - stamps.min()) / span))
    out: list[WindowMetric] = []
    for i in range(count, 0, -1):
        lo, hi = end - i * span, end - (i - 1) * span
        mask = ((stamps >= lo) & (stamps < hi)).to_numpy()
        ys = y[mask]
        if ys.size < min_rows or (task != "regression" and len({str(v) for v in ys.tolist()}) < 2):
            continue
        found = _window(task, ys, scored[mask], precision)
        out.append(
            WindowMetric(lo.isoformat(), hi.isoformat(), found.rows, found.metrics, found.per_class, found.errors)
        )
    return out


def degradation(task: str, validation_metric: float, current_metric: float) -> float:
    """Quality drop vs the release (validation) metric; see the module docstring for the definitions."""
    if task == "binary":
        return validation_metric - current_metric
    if validation_metric <= 0:
        return current_metric - validation_metric
    return (current_metric - validation_metric) / validation_metric


@dataclass(frozen=True)
class FeatureConceptDrift:
    feature: str
    input_psi: float
    score: float
    bins_compared: int


@dataclass(frozen=True)
class ConceptDriftResult:
    """Per stable feature, the change of the label given its bin; ``score`` is the largest."""

    score: float
    features: tuple[FeatureConceptDrift, ...]
    skipped_drifted: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "features": [asdict(f) for f in self.features],
            "skipped_drifted_inputs": list(self.skipped_drifted),
        }


def conditional_shift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature: str,
    label: str,
    *,
    categorical: bool,
    bins: int = DEFAULT_BINS,
    min_bin_rows: int = MIN_BIN_ROWS,
) -> tuple[float, int]:
    """``score_f`` of the module docstring and the number of bins it compared. A label that is not numeric (a
    class name) is measured per class, as that class's indicator, and the largest shift counts."""
    if not pd.api.types.is_numeric_dtype(reference[label]) or not pd.api.types.is_numeric_dtype(current[label]):
        classes = sorted({str(v) for v in reference[label].tolist()})
        shifts = [
            _shift(
                reference,
                current,
                feature,
                reference[label].astype(str) == name,
                current[label].astype(str) == name,
                categorical=categorical,
                bins=bins,
                min_bin_rows=min_bin_rows,
            )
            for name in classes
        ]
        return max(shifts, default=(0.0, 0))
    return _shift(
        reference,
        current,
        feature,
        reference[label],
        current[label],
        categorical=categorical,
        bins=bins,
        min_bin_rows=min_bin_rows,
    )


def _shift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature: str,
    ref_y: pd.Series,
    cur_y: pd.Series,
    *,
    categorical: bool,
    bins: int,
    min_bin_rows: int,
) -> tuple[float, int]:
    binning = bins_for(reference[feature], categorical, bins)
    ref = pd.DataFrame({"bin": binning.assign(reference[feature]), "y": ref_y.astype(float).to_numpy()})
    cur = pd.DataFrame({"bin": binning.assign(current[feature]), "y": cur_y.astype(float).to_numpy()})
    scale = float(ref["y"].std(ddof=0))
    if not np.isfinite(scale) or scale == 0.0:
        return 0.0, 0
    ref_stats = ref.groupby("bin")["y"].agg(["mean", "size"])
    cur_stats = cur.groupby("bin")["y"].agg(["mean", "size"])
    both = ref_stats.join(cur_stats, lsuffix="_ref", rsuffix="_cur", how="inner")
    both = both[(both["size_ref"] >= min_bin_rows) & (both["size_cur"] >= min_bin_rows)]
    if both.empty:
        return 0.0, 0
    weights = both["size_cur"] / both["size_cur"].sum()
    gap = (both["mean_cur"] - both["mean_ref"]).abs() / scale
    return float((weights * gap).sum()), len(both)


def concept_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    label: str,
    *,
    categorical: Sequence[str] = (),
    stable_psi: float = PSI_STABLE,
    bins: int = DEFAULT_BINS,
    min_bin_rows: int = MIN_BIN_ROWS,
) -> ConceptDriftResult:
    """Concept drift between two labelled frames (module docstring); inputs that drifted are left out."""
    ref = reference[reference[label].notna()]
    cur = current[current[label].notna()]
    measured: list[FeatureConceptDrift] = []
    skipped: list[str] = []
    for feature in features:
        is_categorical = feature in categorical
        input_psi = psi(ref[feature], cur[feature], is_categorical, bins)
        if input_psi >= stable_psi:
            skipped.append(feature)
            continue
        score, compared = conditional_shift(
            ref, cur, feature, label, categorical=is_categorical, bins=bins, min_bin_rows=min_bin_rows
        )
        measured.append(FeatureConceptDrift(feature, input_psi, score, compared))
    top = max((f.score for f in measured), default=0.0)
    return ConceptDriftResult(score=top, features=tuple(measured), skipped_drifted=tuple(skipped))
