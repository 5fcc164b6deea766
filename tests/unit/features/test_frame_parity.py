from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from mlops.datasets import parse_definition
from mlops.features.frame import frame_features
from tests.unit.features.synthetic import DEFINITION, definition, events, mismatches, online_reference


def _frame_by_id(df: pd.DataFrame) -> dict[str, dict[str, object]]:
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    return {str(r["transaction_id"]): r for r in records}


def test_the_pandas_batch_engine_matches_the_online_path() -> None:
    rows = events()
    spec = definition()
    expected = online_reference(spec, rows)
    got = _frame_by_id(frame_features(spec, pd.DataFrame(rows)))
    assert mismatches(expected, got, spec.feature_names) == []


def test_the_generated_events_put_ties_and_window_bounds_to_the_test() -> None:
    rows = events()
    times: dict[str, list[datetime]] = {}
    for r in rows:
        times.setdefault(r["customer_id"], []).append(r["event_time"])
    ties = sum(len(t) - len(set(t)) for t in times.values())
    on_hour_bound = len([a for t in times.values() for a in t if a - timedelta(hours=1) in t])
    assert ties >= 10
    assert on_hour_bound >= 10


def test_a_window_one_second_wider_would_be_caught() -> None:
    rows = events()
    wider = {
        **DEFINITION,
        "features": [f if f["name"] != "count_1h" else {**f, "window": 3601} for f in DEFINITION["features"]],
    }
    expected = online_reference(parse_definition(wider, "wider"), rows)
    got = _frame_by_id(frame_features(definition(), pd.DataFrame(rows)))
    assert mismatches(expected, got, ["count_1h"]) != []
