"""Data drift maths: PSI and KS per feature, and one dataset-level score. Pure: arrays in, figures out.

- **PSI** (population stability index) ``sum((c - r) * ln(c / r))`` over bins, ``r``/``c`` the reference/current
  share of a bin (floored at ``EPSILON`` so an empty bin stays finite).
  - numeric: ``bins`` quantile bins cut on the *reference* (duplicate edges from ties collapse), plus one bin
    for nulls, so a feature that starts arriving null drifts too;
  - categorical: one bin per reference category, one for nulls and one ``UNSEEN`` bin for every category the
    reference never held (its reference share is 0, so new categories raise the PSI).
- **KS**: the two-sample Kolmogorov-Smirnov statistic ``max |F_ref(x) - F_cur(x)|`` on non-null numeric values.
- **Drift score** of the dataset: the share of features whose PSI exceeds ``psi_threshold`` (0.2 by convention:
  below 0.1 stable, 0.1-0.2 moderate, above 0.2 significant).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

EPSILON = 1e-4
DEFAULT_BINS = 10
PSI_DRIFT = 0.2
PSI_STABLE = 0.1
NULL_BIN = "__null__"
UNSEEN = "__unseen__"


@dataclass(frozen=True)
class NumericBins:
    """Interior cut points from the reference; bin ``i`` holds values in ``[edges[i-1], edges[i])``."""

    edges: tuple[float, ...]

    def assign(self, values: pd.Series) -> pd.Series:
        """Bin label of each value (``"0"``..``"k"``), ``NULL_BIN`` for nulls."""
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        index = np.searchsorted(np.asarray(self.edges, dtype=float), numbers.to_numpy(), side="right")
        labels = pd.Series(index.astype(str), index=values.index, dtype=object)
        return labels.where(numbers.notna(), NULL_BIN)


@dataclass(frozen=True)
class CategoricalBins:
    """One bin per reference category; anything else is ``UNSEEN``."""

    categories: frozenset[str]

    def assign(self, values: pd.Series) -> pd.Series:
        text = values.astype(object).where(values.notna(), None)
        labels = text.map(lambda v: NULL_BIN if v is None else (str(v) if str(v) in self.categories else UNSEEN))
        return labels.astype(object)


Bins = NumericBins | CategoricalBins


def numeric_bins(reference: pd.Series, bins: int = DEFAULT_BINS) -> NumericBins:
    """Quantile cut points of the reference's non-null values (none for an empty or constant reference)."""
    values = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    if values.size == 0:
        return NumericBins(())
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, bins + 1))
    return NumericBins(tuple(float(q) for q in np.unique(quantiles[1:-1])))


def categorical_bins(reference: pd.Series) -> CategoricalBins:
    return CategoricalBins(frozenset(str(v) for v in reference.dropna().unique()))


def bins_for(reference: pd.Series, categorical: bool, bins: int = DEFAULT_BINS) -> Bins:
    return categorical_bins(reference) if categorical else numeric_bins(reference, bins)


def shares(labels: pd.Series) -> dict[str, float]:
    """Share of rows in each bin label."""
    if len(labels) == 0:
        return {}
    counts = labels.value_counts()
    return {str(k): float(v) / len(labels) for k, v in counts.items()}


def psi_from_shares(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """PSI over the union of bins; shares below ``EPSILON`` are floored to it."""
    total = 0.0
    for label in set(reference) | set(current):
        r = max(reference.get(label, 0.0), EPSILON)
        c = max(current.get(label, 0.0), EPSILON)
        total += (c - r) * np.log(c / r)
    return float(total)


def psi(reference: pd.Series, current: pd.Series, categorical: bool, bins: int = DEFAULT_BINS) -> float:
    """PSI of ``current`` against ``reference`` with bins cut on the reference."""
    binning = bins_for(reference, categorical, bins)
    return psi_from_shares(shares(binning.assign(reference)), shares(binning.assign(current)))


def ks_statistic(reference: pd.Series, current: pd.Series) -> float:
    """Two-sample KS statistic on non-null values (0 when either side has none)."""
    a = np.sort(pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float))
    b = np.sort(pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float))
    if a.size == 0 or b.size == 0:
        return 0.0
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature. ``unseen_share``: share of current rows in categories the reference lacks."""

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float
    ks: float | None
    unseen_share: float | None
    reference_rows: int
    current_rows: int
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Every feature's drift and the dataset score (share of drifted features)."""

    features: tuple[FeatureDrift, ...]
    drift_score: float
    max_psi: float
    psi_threshold: float

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def stable_features(self, below: float = PSI_STABLE) -> list[str]:
        """Features whose PSI is under ``below`` (inputs whose distribution has not moved)."""
        return [f.feature for f in self.features if f.psi < below]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_score": self.drift_score,
            "max_psi": self.max_psi,
            "psi_threshold": self.psi_threshold,
            "drifted_features": self.drifted_features,
            "features": [asdict(f) for f in self.features],
        }


def feature_drift(
    name: str, reference: pd.Series, current: pd.Series, *, categorical: bool, psi_threshold: float, bins: int
) -> FeatureDrift:
    value = psi(reference, current, categorical, bins)
    unseen: float | None = None
    ks: float | None = None
    if categorical:
        labels = categorical_bins(reference).assign(current)
        unseen = float((labels == UNSEEN).mean()) if len(labels) else 0.0
    else:
        ks = ks_statistic(reference, current)
    return FeatureDrift(
        feature=name,
        kind="categorical" if categorical else "numeric",
        psi=value,
        ks=ks,
        unseen_share=unseen,
        reference_rows=len(reference),
        current_rows=len(current),
        drifted=value > psi_threshold,
    )


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    psi_threshold: float = PSI_DRIFT,
    bins: int = DEFAULT_BINS,
) -> DriftResult:
    """Drift of every feature in ``features`` (columns of both frames) and the dataset's drift score."""
    if not features:
        raise ValueError("no features to compare")
    missing = [f for f in features if f not in reference.columns or f not in current.columns]
    if missing:
        raise KeyError(f"feature column(s) missing from the reference or current window: {', '.join(missing)}")
    if reference.empty:
        raise ValueError("the reference window holds no rows")
    if current.empty:
        raise ValueError("the current window holds no rows")
    per_feature = tuple(
        feature_drift(f, reference[f], current[f], categorical=f in categorical, psi_threshold=psi_threshold, bins=bins)
        for f in features
    )
    drifted = sum(1 for f in per_feature if f.drifted)
    return DriftResult(
        features=per_feature,
        drift_score=drifted / len(per_feature),
        max_psi=max(f.psi for f in per_feature),
        psi_threshold=psi_threshold,
    )
