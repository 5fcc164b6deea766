"""A current frame judged against a baseline (``statistics.json`` + ``constraints.json``). Pure.

Violations use Model Monitor's six check types and shape (``{"feature_name", "constraint_check_type",
"description"}``):

- ``missing_column_check``: a baseline feature is not a column of the current data;
- ``extra_column_check``: a current column the baseline does not know;
- ``data_type_check``: the share of present values of the baseline's type is below ``datatype_check_threshold``
  (a whole number is a ``Fractional`` too; anything is a ``String``); a negative value in a feature whose
  constraint is ``is_non_negative`` is reported here too, since it is a constraint on the numeric type;
- ``completeness_check``: the current completeness is below the baseline's by more than three binomial standard
  errors of the current window (a window of 500 rows missing one value more than training is noise, not a fault);
- ``categorical_values_check``: the share of present values inside the domain is below
  ``domain_content_threshold``;
- ``baseline_drift_check``: Model Monitor's distance (L-infinity between distribution functions; KS for numbers)
  exceeds the comparison threshold (``Robust``: and the KS critical value for the two sample sizes).

Drift per feature, against the reference rebuilt from the baseline statistics (numbers from the quantile sketch,
strings from the category counts): PSI (bins cut on the reference's deciles, plus null and unseen bins, as
:mod:`monitoring.drift`), Jensen-Shannon divergence (base 2, 0..1) on the same bins, Model Monitor's distance, and
a status from the PSI bands: ``stable`` / ``watch`` / ``drift``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitoring.drift import NULL_BIN, UNSEEN, NumericBins, psi_from_shares, shares
from monitoring.modelmonitor.constraints import MonitoringThresholds, thresholds_of
from monitoring.modelmonitor.statistics import by_name, completeness, dataset_statistics, sketch_values

Status = Literal["stable", "watch", "drift"]
CheckType = Literal[
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
]
NUMERIC = ("Integral", "Fractional")
DECILES = np.linspace(0.1, 0.9, 9)


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: CheckType
    description: str


@dataclass(frozen=True)
class FeatureDriftStatus:
    """One feature's drift against the baseline; ``distance`` is Model Monitor's (``feature_baseline_drift_``)."""

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float
    js: float
    distance: float
    status: Status
    reference_shares: dict[str, float]
    current_shares: dict[str, float]
    current_rows: int
    excluded: bool = False
    """Measured and shown, but not part of the drift score nor a ``baseline_drift_check``."""
    edges: tuple[float, ...] = ()
    """Numeric features: the cut points of bins ``"0"``..``"k"`` (bin ``i`` is ``[edges[i-1], edges[i])``)."""


@dataclass(frozen=True)
class CheckResult:
    """A run's statistics, violations and per-feature drift."""

    statistics: dict[str, Any]
    violations: tuple[Violation, ...]
    drift: tuple[FeatureDriftStatus, ...]

    def violations_json(self) -> dict[str, Any]:
        """``constraint_violations.json``."""
        return {"violations": [asdict(v) for v in self.violations]}

    @property
    def drift_score(self) -> float:
        """Share of features in the ``drift`` band (the kit's ``DataDriftScore``)."""
        judged = [f for f in self.drift if not f.excluded]
        return sum(f.status == "drift" for f in judged) / len(judged) if judged else 0.0


def status_of(psi: float, thresholds: MonitoringThresholds) -> Status:
    if psi > thresholds.psi_drift:
        return "drift"
    return "watch" if psi > thresholds.psi_watch else "stable"


def js_divergence(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence in bits (0 identical, 1 disjoint) over the union of bins."""
    total = 0.0
    for label in set(reference) | set(current):
        p, q = reference.get(label, 0.0), current.get(label, 0.0)
        m = (p + q) / 2
        if p > 0:
            total += 0.5 * p * math.log2(p / m)
        if q > 0:
            total += 0.5 * q * math.log2(q / m)
    return max(0.0, total)


def ks_critical(alpha: float, n: float, m: float) -> float:
    """The two-sample KS statistic's critical value at level ``alpha`` (asymptotic)."""
    if n <= 0 or m <= 0:
        return math.inf
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def _weighted_cdf(items: np.ndarray[Any, Any], weights: np.ndarray[Any, Any], points: np.ndarray[Any, Any]) -> Any:
    cumulative = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    return cumulative[np.searchsorted(items, points, side="right")]


def _numeric_drift(
    entry: dict[str, Any], current: pd.Series
) -> tuple[dict[str, float], dict[str, float], float, tuple[float, ...]]:
    """Reference and current bin shares, the KS distance and the bins' cut points of one numeric feature."""
    stats = entry["numerical_statistics"]
    items, weights = sketch_values(stats["distribution"]["kll"])
    numbers = pd.to_numeric(current, errors="coerce")
    present = np.sort(numbers.dropna().to_numpy(dtype=float))
    if items.size == 0:
        return {NULL_BIN: 1.0}, shares(numbers.isna().map({True: NULL_BIN, False: "0"})), 0.0, ()
    cdf = np.cumsum(weights) / weights.sum()
    edges = tuple(float(e) for e in np.unique(items[np.searchsorted(cdf, DECILES, side="left")]))
    binning = NumericBins(edges)
    ref_present = completeness(entry)
    ref_labels = binning.assign(pd.Series(items))
    ref_shares: dict[str, float] = {}
    for label, weight in zip(ref_labels, weights, strict=True):
        ref_shares[label] = ref_shares.get(label, 0.0) + weight / weights.sum() * ref_present
    if ref_present < 1.0:
        ref_shares[NULL_BIN] = 1.0 - ref_present
    cur_shares = shares(binning.assign(numbers))
    distance = 0.0
    if present.size:
        points = np.concatenate([items, present])
        ecdf = np.searchsorted(present, points, side="right") / present.size
        distance = float(np.max(np.abs(_weighted_cdf(items, weights, points) - ecdf)))
    return ref_shares, cur_shares, distance, edges


def _categorical_drift(
    entry: dict[str, Any], current: pd.Series
) -> tuple[dict[str, float], dict[str, float], float, dict[str, float]]:
    """Reference and current bin shares (unseen values pooled), the L-infinity distance over every value, and the
    current shares per raw value."""
    stats = entry["string_statistics"]
    counts = {b["value"]: float(b["count"]) for b in stats["distribution"]["categorical"]["buckets"]}
    total = sum(counts.values()) + stats["common"]["num_missing"]
    ref_shares = {v: c / total for v, c in counts.items()} if total else {}
    if total and stats["common"]["num_missing"]:
        ref_shares[NULL_BIN] = stats["common"]["num_missing"] / total
    text = current.map(lambda v: NULL_BIN if pd.isna(v) else str(v))
    raw = shares(text)
    pooled: dict[str, float] = {}
    for value, share in raw.items():
        key = value if value in ref_shares or value == NULL_BIN else UNSEEN
        pooled[key] = pooled.get(key, 0.0) + share
    present_ref = {k: v for k, v in ref_shares.items() if k != NULL_BIN}
    present_cur = {k: v for k, v in raw.items() if k != NULL_BIN}
    norm_ref, norm_cur = sum(present_ref.values()) or 1.0, sum(present_cur.values()) or 1.0
    distance = max(
        (
            abs(present_ref.get(k, 0.0) / norm_ref - present_cur.get(k, 0.0) / norm_cur)
            for k in set(present_ref) | set(present_cur)
        ),
        default=0.0,
    )
    return ref_shares, pooled, distance, raw


def feature_drift(entry: dict[str, Any], current: pd.Series, thresholds: MonitoringThresholds) -> FeatureDriftStatus:
    """Drift of one feature against its baseline statistics entry."""
    numeric = entry["inferred_type"] in NUMERIC
    edges: tuple[float, ...] = ()
    if numeric:
        ref_shares, cur_shares, distance, edges = _numeric_drift(entry, current)
    else:
        ref_shares, cur_shares, distance, _ = _categorical_drift(entry, current)
    value = psi_from_shares(ref_shares, cur_shares)
    return FeatureDriftStatus(
        feature=str(entry["name"]),
        kind="numeric" if numeric else "categorical",
        psi=value,
        js=js_divergence(ref_shares, cur_shares),
        distance=distance,
        status=status_of(value, thresholds),
        reference_shares=ref_shares,
        current_shares=cur_shares,
        current_rows=len(current),
        edges=edges,
    )


def _conforming_share(values: pd.Series, kind: str) -> float:
    present = values.dropna()
    if present.empty or kind in ("String", "Unknown"):
        return 1.0
    numbers = pd.to_numeric(present, errors="coerce")
    ok = numbers.notna()
    if kind == "Integral":
        ok &= numbers.fillna(0.5) == np.round(numbers.fillna(0.5))
    return float(ok.mean())


def _type_violations(
    name: str, constraint: dict[str, Any], values: pd.Series, t: MonitoringThresholds
) -> list[Violation]:
    found: list[Violation] = []
    kind = str(constraint.get("inferred_type", "Unknown"))
    share = _conforming_share(values, kind)
    if share < t.datatype_check_threshold:
        found.append(
            Violation(
                name,
                "data_type_check",
                f"Data type match requirement is not met. Expected data type: {kind}, expected match: "
                f"{t.datatype_check_threshold * 100:.0f}%. Observed: only {share * 100:.2f}% of data is {kind}.",
            )
        )
    if constraint.get("num_constraints", {}).get("is_non_negative"):
        negative = int((pd.to_numeric(values, errors="coerce") < 0).sum())
        if negative:
            found.append(
                Violation(
                    name,
                    "data_type_check",
                    f"Constraint is_non_negative is not met: {negative} value(s) below 0 in a feature the "
                    "baseline holds non-negative.",
                )
            )
    return found


def _completeness_violation(name: str, constraint: dict[str, Any], values: pd.Series) -> list[Violation]:
    expected = float(constraint.get("completeness", 0.0))
    if len(values) == 0:
        return []
    observed = float(values.notna().mean())
    tolerance = 3 * math.sqrt(max(expected * (1 - expected), 1e-12) / len(values))
    if observed >= expected - tolerance:
        return []
    return [
        Violation(
            name,
            "completeness_check",
            f"Data completeness requirement is not met. Expected completeness: {expected * 100:.2f}%. "
            f"Observed completeness: {observed * 100:.2f}% ({len(values)} rows).",
        )
    ]


def _domain_violation(
    name: str, constraint: dict[str, Any], values: pd.Series, t: MonitoringThresholds
) -> list[Violation]:
    domain = constraint.get("string_constraints", {}).get("domains")
    present = values.dropna().astype(str)
    if domain is None or present.empty:
        return []
    inside = present.isin(set(domain))
    share = float(inside.mean())
    if share >= t.domain_content_threshold:
        return []
    unknown = sorted(set(present[~inside]))[:5]
    return [
        Violation(
            name,
            "categorical_values_check",
            f"Data content requirement is not met. Expected: {t.domain_content_threshold * 100:.0f}% of values in "
            f"the baseline domain; observed {share * 100:.2f}%. Values outside it include {unknown}.",
        )
    ]


def _drift_violation(drift: FeatureDriftStatus, reference_rows: float, t: MonitoringThresholds) -> list[Violation]:
    threshold = t.comparison_threshold if drift.kind == "numeric" else t.categorical_comparison_threshold
    limit = threshold
    if t.comparison_method == "Robust":
        limit = max(threshold, ks_critical(t.robust_alpha, reference_rows, drift.current_rows))
    if drift.distance <= limit:
        return []
    return [
        Violation(
            drift.feature,
            "baseline_drift_check",
            f"Baseline drift distance: {drift.distance:.4f} exceeds threshold: {limit:.4f} "
            f"({t.comparison_method}; PSI {drift.psi:.3f}, status {drift.status}).",
        )
    ]


def check(
    current: pd.DataFrame,
    baseline_statistics: dict[str, Any],
    constraints: dict[str, Any],
    *,
    ignore_columns: tuple[str, ...] = (),
    exclude_from_drift: tuple[str, ...] = (),
) -> CheckResult:
    """Statistics of ``current``, its violations and per-feature drift against the baseline files.

    ``ignore_columns`` are not features (ids, times, the inference); ``exclude_from_drift`` are features checked
    for type, completeness and domain but not for drift (Model Monitor's ``ExcludeFeaturesAttribute``): calendar
    features such as the day of the week move by construction in any window shorter than their cycle.
    """
    t = thresholds_of(constraints)
    baseline = by_name(baseline_statistics)
    known = {str(c["name"]): c for c in constraints["features"]}
    columns = [c for c in current.columns if c not in ignore_columns]
    violations: list[Violation] = [
        Violation(f, "missing_column_check", f"Baseline feature {f!r} is not a column of the current data.")
        for f in known
        if f not in columns
    ]
    violations += [
        Violation(c, "extra_column_check", f"Column {c!r} of the current data is not in the baseline.")
        for c in columns
        if c not in known
    ]
    present = [f for f in known if f in columns]
    categorical = [f for f in present if known[f].get("inferred_type") == "String"]
    statistics = dataset_statistics(current, present, categorical)
    drift: list[FeatureDriftStatus] = []
    reference_rows = float(baseline_statistics["dataset"]["item_count"])
    for name in present:
        values = current[name]
        violations += _type_violations(name, known[name], values, t)
        violations += _completeness_violation(name, known[name], values)
        violations += _domain_violation(name, known[name], values, t)
        if name in baseline and len(values):
            status = feature_drift(baseline[name], values, t)
            if name in exclude_from_drift:
                status = replace(status, excluded=True)
            else:
                violations += _drift_violation(status, reference_rows, t)
            drift.append(status)
    return CheckResult(statistics, tuple(violations), tuple(drift))
