"""Zone-less timestamps are UTC whatever the other rows of the batch hold (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from mlops.datasets import Column
from pipelines.validation.coerce import coerce_column

STAMP = Column(name="event_time", type="timestamp")


def test_a_zone_less_time_after_an_offset_row_is_utc_not_the_earlier_rows_offset() -> None:
    values = pd.Series(["2024-01-01T10:00:00+05:30", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z", None])
    typed, reasons = coerce_column(values, STAMP)
    assert list(typed[:3]) == [
        pd.Timestamp("2024-01-01 04:30:00", tz="UTC"),
        pd.Timestamp("2024-01-01 10:00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 10:00:00", tz="UTC"),
    ]
    assert pd.isna(typed[3]) and list(reasons) == ["", "", "", ""]


def test_zone_less_first_then_offset_rows_keep_their_own_meaning() -> None:
    values = pd.Series(["2024-01-01 10:00:00", "2024-01-01T10:00:00-02:00", "not a time"])
    typed, reasons = coerce_column(values, STAMP)
    assert list(typed[:2]) == [pd.Timestamp("2024-01-01 10:00", tz="UTC"), pd.Timestamp("2024-01-01 12:00", tz="UTC")]
    assert reasons[2] == "event_time: 'not a time' is not of type timestamp"


def test_datetime_objects_naive_and_aware_are_both_placed_correctly() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    values = pd.Series([datetime(2024, 1, 1, 10, tzinfo=ist), datetime(2024, 1, 1, 10)], dtype=object)
    typed, _ = coerce_column(values, STAMP)
    assert list(typed) == [datetime(2024, 1, 1, 4, 30, tzinfo=UTC), datetime(2024, 1, 1, 10, tzinfo=UTC)]
