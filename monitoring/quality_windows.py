"""Model quality on labelled windows sized by evidence, each figure with a bootstrap confidence interval. Pure.

**Windows**: labelled rows in time order are cut into consecutive windows; a window closes when it holds at least
``min_labelled`` rows and (binary) ``min_positives`` positives. A day with four frauds is not a window: its
PR-AUC would swing from 0 to 1 on one ranking. Rows left after the last full window wait for the next run.

**Intervals**: a Poisson bootstrap (each row weighed by a Poisson(1) draw, ``resamples`` times, vectorised) gives
the percentile interval at ``confidence`` of the window's metric: PR-AUC (average precision) for binary tasks,
RMSE for regression.

**Degradation** (``drop``, as :func:`monitoring.performance.degradation`): binary ``validation - PR-AUC``,
regression ``(RMSE - validation) / validation``; its interval follows from the metric's. The alarm decision
``degraded`` is true only when the *whole* interval is above the threshold (the drop's lower bound clears it) in
``sustain`` consecutive windows, so a window that merely could be worse does not page anyone.

Why 99% and two windows: a monitor judges hundreds of windows, and an interval that misses 2.5% of the time on
the low side raises a false alarm every 40 windows by construction. Fraud also comes in bursts (one card, several
transactions), so neighbouring rows are not independent and a row bootstrap is somewhat too narrow. Measured with
``benchmarks/monitoring.py`` (docs/monitoring.md): 95% on one window gave 10 false alarms in 231 windows without
drift. The published ``ModelQualityDrop`` is the smallest lower bound of the last ``sustain`` windows, so the
``model_degradation`` alarm sees exactly this decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_RESAMPLES = 300
DEFAULT_CONFIDENCE = 0.99
DEFAULT_SUSTAIN = 2
MIN_LABELLED = 400
MIN_POSITIVES = 25


@dataclass(frozen=True)
class WindowQuality:
    """One evidence-sized window: its span, size, metric with interval and the degradation verdict."""

    start: str
    end: str
    rows: int
    positives: int
    metric: str
    value: float
    low: float
    high: float
    drop: float
    drop_low: float
    drop_high: float
    degraded: bool
    sustained_drop_low: float
    """The smallest ``drop_low`` of this window and the ``sustain - 1`` before it (what is published)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evidence_windows(
    labels: np.ndarray[Any, Any], *, binary: bool, min_labelled: int = MIN_LABELLED, min_positives: int = MIN_POSITIVES
) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges of consecutive windows holding enough labelled rows (and positives)."""
    windows: list[tuple[int, int]] = []
    start, positives = 0, 0
    for i, y in enumerate(labels):
        positives += int(binary and y == 1)
        size = i + 1 - start
        if size >= min_labelled and (not binary or positives >= min_positives):
            windows.append((start, i + 1))
            start, positives = i + 1, 0
    return windows


def _poisson_weights(n: int, resamples: int, seed: int) -> np.ndarray[Any, Any]:
    weights: np.ndarray[Any, Any] = np.random.default_rng(seed).poisson(1.0, size=(resamples, n)).astype(float)
    return weights


def weighted_average_precision(y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], weights: Any) -> Any:
    """Average precision of each weight row (rows of ``weights`` are resamples): ``sum_k w_k y_k P@k / sum w y``
    with rows ranked by descending score (ties in rank order, as the point estimate takes them)."""
    order = np.argsort(-scores, kind="stable")
    y_sorted = y[order].astype(float)
    w = np.atleast_2d(weights)[:, order]
    true_positive = np.cumsum(w * y_sorted, axis=1)
    seen = np.cumsum(w, axis=1)
    precision = np.divide(true_positive, seen, out=np.zeros_like(true_positive), where=seen > 0)
    positives = (w * y_sorted).sum(axis=1)
    ap = np.divide((w * y_sorted * precision).sum(axis=1), positives, out=np.zeros(len(w)), where=positives > 0)
    return ap


def weighted_rmse(y: np.ndarray[Any, Any], predictions: np.ndarray[Any, Any], weights: Any) -> Any:
    w = np.atleast_2d(weights)
    squared = (y.astype(float) - predictions.astype(float)) ** 2
    total = w.sum(axis=1)
    return np.sqrt(np.divide((w * squared).sum(axis=1), total, out=np.zeros(len(w)), where=total > 0))


def bootstrap_metric(
    y: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    *,
    binary: bool,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The metric (PR-AUC or RMSE) and its percentile bootstrap interval."""
    metric = weighted_average_precision if binary else weighted_rmse
    point = float(metric(y, scores, np.ones((1, len(y))))[0])
    values = metric(y, scores, _poisson_weights(len(y), resamples, seed))
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return point, float(low), float(high)


def drop_interval(binary: bool, validation: float, value: float, low: float, high: float) -> tuple[float, float, float]:
    """The degradation and its interval from the metric's (a higher PR-AUC or a lower RMSE is a smaller drop)."""
    if binary:
        return validation - value, validation - high, validation - low
    scale = validation if validation > 0 else 1.0
    return (value - validation) / scale, (low - validation) / scale, (high - validation) / scale


def window_quality(
    frame: pd.DataFrame,
    *,
    label: str,
    score: str,
    time: str,
    binary: bool,
    validation: float,
    threshold: float,
    min_labelled: int = MIN_LABELLED,
    min_positives: int = MIN_POSITIVES,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    sustain: int = DEFAULT_SUSTAIN,
) -> list[WindowQuality]:
    """Every evidence-sized window of ``frame`` (labelled rows) with its quality and verdict, oldest first."""
    ordered = frame.sort_values(time, kind="stable").reset_index(drop=True)
    y = ordered[label].to_numpy()
    s = ordered[score].to_numpy(dtype=float)
    times = ordered[time].astype(str).to_numpy()
    out: list[WindowQuality] = []
    for n, (lo, hi) in enumerate(
        evidence_windows(y, binary=binary, min_labelled=min_labelled, min_positives=min_positives)
    ):
        value, low, high = bootstrap_metric(
            y[lo:hi], s[lo:hi], binary=binary, resamples=resamples, confidence=confidence, seed=n
        )
        drop, drop_low, drop_high = drop_interval(binary, validation, value, low, high)
        recent = [w.drop_low for w in out[len(out) - sustain + 1 :]] if sustain > 1 else []
        sustained = min([drop_low, *recent]) if len(recent) == sustain - 1 else -np.inf
        out.append(
            WindowQuality(
                start=str(times[lo]),
                end=str(times[hi - 1]),
                rows=hi - lo,
                positives=int((y[lo:hi] == 1).sum()) if binary else 0,
                metric="pr_auc" if binary else "rmse",
                value=value,
                low=low,
                high=high,
                drop=drop,
                drop_low=drop_low,
                drop_high=drop_high,
                degraded=bool(sustained > threshold),
                sustained_drop_low=float(sustained),
            )
        )
    return out
