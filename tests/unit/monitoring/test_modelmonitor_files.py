"""Model Monitor's files as the kit writes them: statistics.json and constraints.json of a baseline, and the
checks of a current frame (each of the six violation types, drift bands, the Robust comparison)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.modelmonitor.checks import check, js_divergence, ks_critical
from monitoring.modelmonitor.constraints import MonitoringThresholds, suggest_constraints, thresholds_of
from monitoring.modelmonitor.statistics import dataset_statistics, inferred_type, sketch, sketch_values

FEATURES = ("amount", "count", "category")


def frame(rows: int, seed: int, *, scale: float = 1.0, new_share: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    category = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]).astype(object)
    category[rng.random(rows) < new_share] = "zzz"
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 0.5, rows) * scale,
            "count": rng.integers(0, 10, rows),
            "category": category,
        }
    )


@pytest.fixture(scope="module")
def baseline() -> tuple[dict, dict]:  # type: ignore[type-arg]
    statistics = dataset_statistics(frame(5000, 1), FEATURES, ("category",))
    return statistics, suggest_constraints(statistics)


def test_statistics_follow_model_monitors_schema(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    statistics, _ = baseline
    assert statistics["version"] == 0.0
    assert statistics["dataset"] == {"item_count": 5000}
    amount, count, category = statistics["features"]
    assert (amount["inferred_type"], count["inferred_type"], category["inferred_type"]) == (
        "Fractional",
        "Integral",
        "String",
    )
    numbers = amount["numerical_statistics"]
    assert set(numbers) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert numbers["common"] == {"num_present": 5000, "num_missing": 0}
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10
    assert sum(b["count"] for b in kll["buckets"]) == 5000
    assert set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048}
    strings = category["string_statistics"]
    assert strings["distinct_count"] == 3
    assert sorted(b["value"] for b in strings["distribution"]["categorical"]["buckets"]) == ["a", "b", "c"]


def test_the_sketch_keeps_weighted_ranks_when_it_compacts() -> None:
    values = np.arange(10_000, dtype=float)
    items, weights = sketch_values({"sketch": sketch(values, k=1000)})
    assert items.size < 2000
    assert weights.sum() == pytest.approx(10_000, rel=0.01)
    median = items[np.searchsorted(np.cumsum(weights), weights.sum() / 2)]
    assert median == pytest.approx(5000, abs=50)


def test_inferred_types() -> None:
    assert inferred_type(pd.Series([1, 2, None])) == "Integral"
    assert inferred_type(pd.Series([1.5, 2.0])) == "Fractional"
    assert inferred_type(pd.Series(["x", "1"])) == "String"
    assert inferred_type(pd.Series([None, None])) == "Unknown"


def test_constraints_follow_model_monitors_schema(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    _, constraints = baseline
    amount, _, category = constraints["features"]
    assert amount == {
        "name": "amount",
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
        "monitoringConfigOverrides": {},
    }
    assert category["string_constraints"] == {"domains": ["a", "b", "c"]}
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == config["emit_metrics"] == "Enabled"
    assert set(config["distribution_constraints"]) >= {
        "perform_comparison",
        "comparison_threshold",
        "comparison_method",
        "categorical_comparison_threshold",
        "categorical_drift_method",
    }
    assert thresholds_of(constraints) == MonitoringThresholds()


def test_an_undrifted_window_is_stable_with_no_violation(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    result = check(frame(800, 2), *baseline)
    assert result.violations == ()
    assert {f.status for f in result.drift} == {"stable"}
    assert result.drift_score == 0.0


def test_shifted_amounts_and_a_new_category_are_drift_and_violations(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    result = check(frame(800, 3, scale=1.8, new_share=0.08), *baseline)
    status = {f.feature: f.status for f in result.drift}
    assert status == {"amount": "drift", "count": "stable", "category": "drift"}
    kinds = {(v.feature_name, v.constraint_check_type) for v in result.violations}
    assert kinds == {
        ("amount", "baseline_drift_check"),
        ("category", "categorical_values_check"),
    }
    assert result.drift_score == pytest.approx(2 / 3)
    assert result.violations_json()["violations"][0].keys() == {"feature_name", "constraint_check_type", "description"}


def test_missing_extra_type_completeness_and_sign_violations(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    current = frame(800, 4).drop(columns=["count"]).assign(extra=1)
    current["amount"] = current["amount"].astype(object)
    current.loc[:99, "amount"] = None
    current.loc[100:109, "amount"] = "not a number"
    current.loc[110, "amount"] = -5.0
    kinds = sorted((v.feature_name, v.constraint_check_type) for v in check(current, *baseline).violations)
    assert kinds == [
        ("amount", "completeness_check"),
        ("amount", "data_type_check"),
        ("amount", "data_type_check"),
        ("count", "missing_column_check"),
        ("extra", "extra_column_check"),
    ]


def test_robust_comparison_ignores_a_small_windows_noise(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    statistics, constraints = baseline
    small = frame(60, 5)
    simple = {**constraints, "monitoring_config": {**constraints["monitoring_config"]}}
    simple["monitoring_config"]["distribution_constraints"] = {
        **constraints["monitoring_config"]["distribution_constraints"],
        "comparison_method": "Simple",
    }
    robust_flags = [
        v for v in check(small, statistics, constraints).violations if v.constraint_check_type == "baseline_drift_check"
    ]
    simple_flags = [
        v for v in check(small, statistics, simple).violations if v.constraint_check_type == "baseline_drift_check"
    ]
    assert robust_flags == []
    assert simple_flags, "a 60-row window's KS distance exceeds 0.1 by chance; Simple flags it"
    assert ks_critical(0.001, 5000, 60) > 0.1


def test_excluded_features_are_measured_but_not_judged(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    result = check(frame(800, 6, scale=3.0), *baseline, exclude_from_drift=("amount",))
    amount = next(f for f in result.drift if f.feature == "amount")
    assert (amount.status, amount.excluded) == ("drift", True)
    assert result.drift_score == 0.0
    assert not [v for v in result.violations if v.constraint_check_type == "baseline_drift_check"]


def test_jensen_shannon_bounds() -> None:
    assert js_divergence({"a": 1.0}, {"a": 1.0}) == 0.0
    assert js_divergence({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)


def test_history_keeps_the_newest_runs_whatever_their_schedule() -> None:
    """Runs sorted by their time path, not by minute-second alone (an hourly run at 10:59 is older than 11:00)."""
    import json
    from datetime import UTC, datetime

    from mlops.layout import model_monitor_prefix
    from mlops.outputs import parse_outputs
    from mlops.wiring import memory_platform
    from monitoring.modelmonitor.job import history
    from tests.unit.test_outputs import complete_outputs

    raw = {k: v for k, v in complete_outputs().items() if k != "rollback_on_degradation"}
    platform = memory_platform(parse_outputs(raw, "unit"))
    bucket = platform.layout.bucket("monitoring")
    runs = [("a", datetime(2026, 1, 1, 10, 59, tzinfo=UTC)), ("b", datetime(2026, 1, 1, 11, 0, tzinfo=UTC))]
    runs.append(("a", datetime(2026, 1, 1, 12, 30, tzinfo=UTC)))
    for schedule, when in runs:
        document = {"generated_at": when.isoformat(), "drift_score": 0.0, "features": []}
        key = model_monitor_prefix("hist", "endpoint", schedule, when) + "drift.json"
        platform.services.object_store.put(bucket, key, json.dumps(document).encode())
    newest = [h["generated_at"] for h in history(platform, "hist", limit=2)]
    assert newest == [runs[1][1].isoformat(), runs[2][1].isoformat()]


def test_the_report_names_numeric_bins_by_their_range(baseline: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    from monitoring.report_html import bin_name

    amount = next(f for f in check(frame(800, 2), *baseline).drift if f.feature == "amount")
    assert len(amount.edges) == 9 and list(amount.edges) == sorted(amount.edges)
    assert bin_name("0", (1.5, 20.0)) == "<1.5"
    assert bin_name("2", (1.5, 20.0)) == "20+"
    assert bin_name("__unseen__", ()) == "unseen"
    assert bin_name("grocery", ()) == "grocery"
