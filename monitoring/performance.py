"""Model degradation and concept drift maths. Pure: labelled frames and scores in, figures out.

**Task metric per window**: labelled rows are cut into consecutive time windows; each window gets PR-AUC and
recall at a fixed precision (classification, from predicted probabilities) or RMSE and MAE (regression).

**Degradation** (``ModelQualityDrop``) of the newest window that has enough rows (and both classes):
- classification: ``validation PR-AUC - window PR-AUC`` (absolute, PR-AUC units);
- regression: ``(window RMSE - validation RMSE) / validation RMSE`` (relative increase of the error).
Negative values (the model does better than at release) are reported as they are.

**Concept drift** (``ConceptDriftScore``): a change of ``P(label | x)`` measured only on inputs whose own
distribution has not moved, so that input drift alone cannot raise it. For every feature whose PSI between the
reference and the current labelled window is below ``stable_psi``, cut bins on the reference (as for PSI) and take

    score_f = sum_b w_b * |mean_cur(y | b) - mean_ref(y | b)| / std_ref(y)

over bins with at least ``min_bin_rows`` rows on both sides, ``w_b`` the current share of the bin among those
bins. ``y`` is the label (0/1 for classification, so ``mean(y | b)`` is ``P(y=1 | b)``). Dividing by the
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


def window_metrics(
    times: pd.Series,
    y: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    task: str,
    *,
    window: timedelta,
    precision: float = 0.9,
    min_rows: int = MIN_WINDOW_ROWS,
) -> list[WindowMetric]:
    """Metrics of consecutive ``window``-long slices ending at the newest time, oldest first.

    Windows with fewer than ``min_rows`` rows, or (classification) a single class, are skipped: their metric
    would be noise or undefined.
    """
    if len(times) == 0:
        return []
    stamps = pd.to_datetime(times, utc=True).reset_index(drop=True)
    end = stamps.max() + pd.Timedelta(microseconds=1)
    span = pd.Timedelta(window)
    count = int(np.ceil((end - stamps.min()) / span))
    out: list[WindowMetric] = []
    for i in range(count, 0, -1):
        lo, hi = end - i * span, end - (i - 1) * span
        mask = ((stamps >= lo) & (stamps < hi)).to_numpy()
        ys = y[mask]
        if ys.size < min_rows or (task == "classification" and np.unique(ys).size < 2):
            continue
        metrics = task_metrics(task, ys, scores[mask], precision)
        out.append(WindowMetric(lo.isoformat(), hi.isoformat(), int(ys.size), metrics))
    return out


def degradation(task: str, validation_metric: float, current_metric: float) -> float:
    """Quality drop vs the release (validation) metric; see the module docstring for the two definitions."""
    if task == "classification":
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
    """``score_f`` of the module docstring and the number of bins it compared."""
    binning = bins_for(reference[feature], categorical, bins)
    ref = pd.DataFrame({"bin": binning.assign(reference[feature]), "y": reference[label].astype(float)})
    cur = pd.DataFrame({"bin": binning.assign(current[feature]), "y": current[label].astype(float)})
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
