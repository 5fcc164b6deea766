"""The weighted binning that sorts each feature once (mlops/modeling/binning.py) gives scikit-learn's thresholds,
bit for bit, and the same fitted model."""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from mlops.modeling import binning


def _column(rng: np.random.Generator, kind: str, rows: int) -> np.ndarray:
    if kind == "continuous":
        return rng.normal(size=rows)
    if kind == "ties":  # many repeated values, more distinct ones than bins
        return np.round(rng.exponential(50.0, size=rows), 0)
    if kind == "few":  # fewer distinct values than bins: midpoints, no percentiles
        return rng.integers(0, 24, size=rows).astype(float)
    return np.where(rng.random(rows) < 0.1, np.nan, rng.lognormal(size=rows))  # "missing"


def _weights(rng: np.random.Generator, kind: str, rows: int) -> np.ndarray:
    if kind == "recency":
        return np.exp(-rng.uniform(0, 4, size=rows))
    if kind == "zeros":  # some rows weigh nothing: scikit-learn drops them first
        return np.where(rng.random(rows) < 0.2, 0.0, rng.uniform(0.1, 3.0, size=rows))
    return np.ones(rows)  # "unit"


@pytest.mark.parametrize("kind", ["continuous", "ties", "few", "missing"])
@pytest.mark.parametrize("weights", ["recency", "zeros", "unit", None])
@pytest.mark.parametrize("max_bins", [255, 16])
def test_the_thresholds_are_scikit_learns_bit_for_bit(kind: str, weights: str | None, max_bins: int) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{kind}/{weights}/{max_bins}".encode()))
    column = _column(rng, kind, 3_000)
    weight = None if weights is None else _weights(rng, weights, 3_000)
    ours = binning.find_binning_thresholds(column, max_bins, weight)
    theirs = binning.original_thresholds(column, max_bins, weight)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_a_weighted_fit_with_it_is_the_fit_without_it() -> None:
    from sklearn.ensemble._hist_gradient_boosting import binning as sklearn_binning

    rng = np.random.default_rng(7)
    x = np.column_stack([rng.normal(size=4_000), rng.exponential(size=4_000), rng.integers(0, 7, size=4_000)])
    y = (x[:, 0] + rng.normal(scale=0.5, size=4_000) > 0.8).astype(int)
    weight = np.exp(-rng.uniform(0, 3, size=4_000))
    assert binning.install()
    with_it = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y, sample_weight=weight)
    sklearn_binning._find_binning_thresholds = binning.original_thresholds
    try:
        without = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y, sample_weight=weight)
    finally:
        sklearn_binning._find_binning_thresholds = binning.find_binning_thresholds
    for mine, theirs in zip(with_it._bin_mapper.bin_thresholds_, without._bin_mapper.bin_thresholds_, strict=True):
        assert np.array_equal(mine, theirs)
    assert np.array_equal(with_it.predict_proba(x), without.predict_proba(x))


def test_a_release_it_was_not_checked_against_is_left_alone() -> None:
    code = (
        "import sklearn; sklearn.__version__ = '1.8.2'; from mlops.modeling import binning; "
        "from sklearn.ensemble._hist_gradient_boosting import binning as theirs; "
        "before = theirs._find_binning_thresholds; print(binning.install(), theirs._find_binning_thresholds is before)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("kind", ["continuous", "ties", "few", "missing"])
@pytest.mark.parametrize("weights", ["recency", "zeros", "unit", "trailing zeros"])
def test_every_percentile_at_once_is_scikit_learns_one_at_a_time_bit_for_bit(kind: str, weights: str) -> None:
    from sklearn.utils.stats import _weighted_percentile

    rng = np.random.default_rng(zlib.crc32(f"percentiles/{kind}/{weights}".encode()))
    column = _column(rng, kind, 2_000)
    if weights == "trailing zeros":  # the largest values weigh nothing: the "next row" search of the average
        weight = np.where(column > np.nanquantile(column, 0.9), 0.0, 1.0)
    else:
        weight = _weights(rng, weights, 2_000)
    ranks = np.concatenate([[0.0, 100.0], np.linspace(0, 100, num=256)[1:-1], rng.uniform(0, 100, size=50)])
    ours = binning.weighted_percentiles(column, weight, ranks)
    theirs = np.asarray(_weighted_percentile(column, weight, ranks, average=True))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs, equal_nan=True)


def test_no_weight_at_all_has_no_percentile() -> None:
    assert np.isnan(binning.weighted_percentiles(np.arange(5.0), np.zeros(5), [10.0, 50.0]))
