"""PSI, KS and the dataset drift score on constructed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import UNSEEN, dataset_drift, ks_statistic, numeric_bins, psi, psi_from_shares


def test_psi_of_known_shares() -> None:
    # (0.5-0.25)ln(0.5/0.25) + (0.5-0.75)ln(0.5/0.75) = 0.25 ln 2 + 0.25 ln 1.5
    assert psi_from_shares({"a": 0.25, "b": 0.75}, {"a": 0.5, "b": 0.5}) == pytest.approx(
        0.25 * np.log(2) + 0.25 * np.log(1.5)
    )


def test_quantile_bins_are_cut_on_the_reference() -> None:
    assert numeric_bins(pd.Series(range(1, 101)), bins=4).edges == (25.75, 50.5, 75.25)


def test_identical_distributions_do_not_drift() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", "c"], 5000)})
    current = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", "c"], 5000)})
    result = dataset_drift(reference, current, ["x", "c"], categorical=["c"])
    assert result.drift_score == 0.0
    assert result.max_psi < 0.02
    assert result.drifted_features == []


def test_shifted_numeric_feature_drifts_by_psi_and_ks() -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 5000), "y": rng.normal(0, 1, 5000)})
    current = pd.DataFrame({"x": rng.normal(1.5, 1, 5000), "y": rng.normal(0, 1, 5000)})
    result = dataset_drift(reference, current, ["x", "y"])
    assert result.drifted_features == ["x"]
    assert result.drift_score == 0.5
    x = result.features[0]
    assert x.psi > 1.0
    assert x.ks == pytest.approx(ks_statistic(reference["x"], current["x"]))
    assert x.ks is not None and x.ks > 0.5


def test_unseen_categories_raise_psi_and_are_counted() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 50)
    current = pd.Series(["a"] * 50 + ["z"] * 50)
    result = dataset_drift(reference.to_frame("c"), current.to_frame("c"), ["c"], categorical=["c"])
    (feature,) = result.features
    assert feature.unseen_share == 0.5
    # b: 0.5 -> eps, UNSEEN: eps -> 0.5
    expected = 2 * (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    assert feature.psi == pytest.approx(expected)
    assert feature.drifted
    assert UNSEEN == "__unseen__"


def test_nulls_appearing_count_as_drift() -> None:
    reference = pd.Series(np.arange(1000, dtype=float))
    current = reference.copy()
    current[:500] = np.nan
    assert psi(reference, current, categorical=False) > 0.2


def test_ks_statistic_exact() -> None:
    assert ks_statistic(pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Series([3.0, 4.0, 5.0, 6.0])) == 0.5
    assert ks_statistic(pd.Series([1.0]), pd.Series([], dtype=float)) == 0.0


def test_empty_current_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="the current window holds no rows"):
        dataset_drift(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": []}), ["x"])
    with pytest.raises(KeyError, match="missing from the reference or current window: z"):
        dataset_drift(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), ["x", "z"])
