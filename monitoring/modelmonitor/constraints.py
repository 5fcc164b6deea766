"""``constraints.json`` in Model Monitor's schema, suggested from baseline statistics. Pure.

Per feature: ``name``, ``inferred_type``, ``completeness`` (the baseline's share of present values),
``num_constraints.is_non_negative`` (numbers whose baseline minimum is >= 0), ``string_constraints.domains``
(the observed values of a string feature with at most :data:`DOMAIN_LIMIT` of them) and an empty
``monitoringConfigOverrides``. ``monitoring_config`` holds Model Monitor's switches and thresholds:

- ``datatype_check_threshold``: the least share of present values that must have the baseline's type;
- ``domain_content_threshold``: the least share of present values that must lie in the domain (0.99: a value
  training never saw, arriving in under 1% of rows, is not a violation; a new category that takes more is);
- ``distribution_constraints``: ``comparison_threshold`` (numeric) and ``categorical_comparison_threshold`` on
  Model Monitor's distance (L-infinity between the baseline's and the current distribution functions: the KS
  statistic for numbers), ``comparison_method`` ``Simple`` (distance above the threshold) or ``Robust`` (above
  the threshold *and* above the two-sample KS critical value at ``robust_alpha`` for the sample sizes, so small
  windows do not flag sampling noise), ``categorical_drift_method`` ``LInfinity``;
- ``drift_bands`` (the kit's addition, allowed by the schema's bring-your-own-container rule): the PSI bounds of
  the three-band status, ``stable`` below ``watch``, ``watch`` up to ``drift``, ``drift`` above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from monitoring.drift import PSI_DRIFT, PSI_STABLE
from monitoring.modelmonitor.statistics import VERSION, completeness

DOMAIN_LIMIT = 100


@dataclass(frozen=True)
class MonitoringThresholds:
    """The ``monitoring_config`` values written into suggested constraints."""

    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 0.99
    comparison_threshold: float = 0.1
    categorical_comparison_threshold: float = 0.1
    comparison_method: Literal["Simple", "Robust"] = "Robust"
    robust_alpha: float = 0.001
    psi_watch: float = PSI_STABLE
    psi_drift: float = PSI_DRIFT


def monitoring_config(thresholds: MonitoringThresholds) -> dict[str, Any]:
    return {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": thresholds.datatype_check_threshold,
        "domain_content_threshold": thresholds.domain_content_threshold,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": thresholds.comparison_threshold,
            "comparison_method": thresholds.comparison_method,
            "categorical_comparison_threshold": thresholds.categorical_comparison_threshold,
            "categorical_drift_method": "LInfinity",
            "robust_alpha": thresholds.robust_alpha,
        },
        "drift_bands": {"metric": "psi", "watch": thresholds.psi_watch, "drift": thresholds.psi_drift},
    }


def feature_constraint(entry: dict[str, Any]) -> dict[str, Any]:
    """The suggested constraint of one statistics entry."""
    constraint: dict[str, Any] = {
        "name": entry["name"],
        "inferred_type": entry["inferred_type"],
        "completeness": completeness(entry),
    }
    numbers = entry.get("numerical_statistics")
    if numbers is not None:
        constraint["num_constraints"] = {"is_non_negative": bool(numbers["min"] >= 0)}
    strings = entry.get("string_statistics")
    if strings is not None and strings["distinct_count"] <= DOMAIN_LIMIT:
        values = [b["value"] for b in strings["distribution"]["categorical"]["buckets"]]
        constraint["string_constraints"] = {"domains": values}
    constraint["monitoringConfigOverrides"] = {}
    return constraint


def suggest_constraints(statistics: dict[str, Any], thresholds: MonitoringThresholds | None = None) -> dict[str, Any]:
    """``constraints.json`` for the baseline ``statistics``."""
    return {
        "version": VERSION,
        "features": [feature_constraint(f) for f in statistics["features"]],
        "monitoring_config": monitoring_config(thresholds or MonitoringThresholds()),
    }


def thresholds_of(constraints: dict[str, Any]) -> MonitoringThresholds:
    """The thresholds a constraints file carries (defaults for what it omits, e.g. a file from Model Monitor)."""
    config = constraints.get("monitoring_config", {})
    distribution = config.get("distribution_constraints", {})
    bands = config.get("drift_bands", {})
    default = MonitoringThresholds()
    method = distribution.get("comparison_method", default.comparison_method)
    return MonitoringThresholds(
        datatype_check_threshold=float(config.get("datatype_check_threshold", default.datatype_check_threshold)),
        domain_content_threshold=float(config.get("domain_content_threshold", default.domain_content_threshold)),
        comparison_threshold=float(distribution.get("comparison_threshold", default.comparison_threshold)),
        categorical_comparison_threshold=float(
            distribution.get("categorical_comparison_threshold", default.categorical_comparison_threshold)
        ),
        comparison_method="Simple" if method == "Simple" else "Robust",
        robust_alpha=float(distribution.get("robust_alpha", default.robust_alpha)),
        psi_watch=float(bands.get("watch", default.psi_watch)),
        psi_drift=float(bands.get("drift", default.psi_drift)),
    )
