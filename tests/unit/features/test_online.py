from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlops.errors import DatasetError
from mlops.features.online import aggregate, online_features
from tests.unit.features.synthetic import START, definition

T = START


def row(
    tid: str, when: datetime, amount: float | None = 10.0, customer: str = "c1", items: int | None = 1
) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "customer_id": customer,
        "event_time": when,
        "amount": amount,
        "items": items,
        "channel": "online",
        "is_fraud": 0,
    }


def test_an_event_exactly_one_window_earlier_is_outside_and_one_microsecond_later_is_inside() -> None:
    event = row("now", T, amount=5.0)
    on_bound = row("bound", T - timedelta(hours=1), amount=100.0)
    inside = row("inside", T - timedelta(hours=1) + timedelta(microseconds=1), amount=7.0)
    got = online_features(definition(), event, [on_bound, inside])
    assert got["count_1h"] == 2
    assert got["sum_1h"] == 12.0
    assert got["mean_6h"] == pytest.approx((5.0 + 100.0 + 7.0) / 3, abs=1e-12)


def test_ties_count_each_other_and_give_zero_seconds_since_last() -> None:
    event = row("b", T, amount=2.0)
    tie = row("a", T, amount=4.0)
    earlier = row("e", T - timedelta(seconds=90), amount=None)
    got = online_features(definition(), event, [earlier, tie])
    assert got["count_1h"] == 2  # the null amount is not counted
    assert got["seconds_since_last"] == 0.0
    alone = online_features(definition(), event, [earlier])
    assert alone["seconds_since_last"] == 90.0
    first = online_features(definition(), event, [])
    assert first["seconds_since_last"] is None
    assert first["std_1d"] is None


def test_later_history_rows_and_the_event_itself_are_ignored() -> None:
    event = row("now", T, amount=3.0)
    got = online_features(definition(), event, [event, row("later", T + timedelta(seconds=1), amount=50.0)])
    assert got["count_1h"] == 1
    assert got["max_1d"] == 3.0
    assert got["items_sum_2h"] == 1
    assert isinstance(got["items_sum_2h"], int)


def test_calendar_parts_are_utc_with_monday_zero() -> None:
    # 2026-03-01 is a Sunday; 22:30 UTC is 23:30 in Paris, which must not leak in.
    got = online_features(definition(), row("now", datetime(2026, 3, 1, 22, 30, tzinfo=UTC)), [])
    assert (got["hour_of_day"], got["day_of_week"], got["day_of_month"], got["month"]) == (22, 6, 1, 3)


def test_std_is_the_sample_standard_deviation() -> None:
    assert aggregate("std", [2.0, 4.0, None, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(2.138089935299395)
    assert aggregate("mean", [None, float("nan")]) is None
    assert aggregate("count", [None, float("nan")]) == 0


def test_history_of_another_entity_is_refused_by_name() -> None:
    with pytest.raises(DatasetError, match=r"history row 0: customer_id 'c2' is not the event's 'c1'"):
        online_features(definition(), row("now", T), [row("x", T, customer="c2")])


def test_an_event_without_a_source_field_names_it() -> None:
    event = row("now", T)
    del event["amount"]
    with pytest.raises(DatasetError, match=r"event has no field 'amount'"):
        online_features(definition(), event, [])


def test_timed_history_gives_the_same_features_as_rows_as_they_come() -> None:
    """The stream consumer's path (history already timed, kept per entity) matches the checked one on every event
    of a synthetic stream: windows, ties, the event itself and later rows in the history."""
    from mlops.features.online import online_features_timed, to_micros
    from tests.unit.features.synthetic import events

    spec = definition()
    rows = events(entities=1, per_entity=60)
    assert len({r["customer_id"] for r in rows}) == 1
    timed = [(to_micros(r["event_time"], "event_time"), r) for r in rows]
    for event in rows:
        assert online_features_timed(spec, event, timed) == online_features(spec, event, rows)
