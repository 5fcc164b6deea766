"""Windowed task metrics, degradation and concept drift on constructed labelled data."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from monitoring.performance import concept_drift, degradation, window_metrics


def _labelled(rng: np.random.Generator, n: int, slope: float, shift: float = 0.0) -> pd.DataFrame:
    x = rng.uniform(0, 1, n)
    p = np.clip(0.1 + slope * x, 0, 1)
    return pd.DataFrame({"x": x + shift, "z": rng.uniform(0, 1, n), "y": (rng.uniform(0, 1, n) < p).astype(int)})


def test_same_concept_does_not_fire() -> None:
    rng = np.random.default_rng(3)
    result = concept_drift(_labelled(rng, 4000, 0.6), _labelled(rng, 4000, 0.6), ["x", "z"], "y")
    assert result.score < 0.1
    assert result.skipped_drifted == ()


def test_changed_label_given_stable_inputs_fires() -> None:
    rng = np.random.default_rng(4)
    # Same input distribution, but P(y=1 | x) goes from rising with x to flat-high.
    reference, current = _labelled(rng, 4000, 0.6), _labelled(rng, 4000, 0.0)
    current["y"] = (rng.uniform(0, 1, 4000) < 0.7).astype(int)
    result = concept_drift(reference, current, ["x", "z"], "y")
    assert result.score > 0.5
    assert {f.feature for f in result.features} == {"x", "z"}


def test_drifted_inputs_are_left_out_of_concept_drift() -> None:
    rng = np.random.default_rng(5)
    result = concept_drift(_labelled(rng, 3000, 0.6), _labelled(rng, 3000, 0.6, shift=5.0), ["x", "z"], "y")
    assert result.skipped_drifted == ("x",)
    assert [f.feature for f in result.features] == ["z"]


def test_degradation_definitions() -> None:
    assert degradation("binary", 0.8, 0.7) == pytest.approx(0.1)
    assert degradation("binary", 0.8, 0.9) == pytest.approx(-0.1)
    assert degradation("regression", 10.0, 12.0) == pytest.approx(0.2)


def test_window_metrics_skip_thin_and_single_class_windows() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-08", "2026-01-09"] * 25, utc=True))
    y = np.array([0, 1, 0, 0] * 25)
    scores = np.array([0.1, 0.9, 0.2, 0.3] * 25)
    windows = window_metrics(times, y, scores, "binary", window=timedelta(days=7), min_rows=10)
    # The newest 7 days hold only class 0: skipped. The older window holds both classes, perfectly ranked.
    (only,) = windows
    assert only.rows == 50
    assert only.metrics["pr_auc"] == pytest.approx(1.0)
    assert only.metrics["recall_at_precision"] == 1.0


def test_regression_window_metrics() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-01"] * 40, utc=True))
    (w,) = window_metrics(times, np.zeros(40), np.full(40, 2.0), "regression", window=timedelta(days=1))
    assert (w.metrics["rmse"], w.metrics["mae"], w.rows) == (2.0, 2.0, 40)
