"""Features of one new event from the entity's recent history: the serving and streaming path.

Pure Python (no pandas or Spark needed), so the serving image stays small. The semantics are those of
:mod:`mlops.features.spec`, the same as the batch job's; ``tests/unit/features`` holds the two to the same values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from mlops.datasets import DatasetDefinition, Feature
from mlops.errors import DatasetError
from mlops.features.spec import MICROS_PER_SECOND, window_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_utc(value: Any, field: str) -> datetime:
    """An event time as an aware UTC datetime (naive values are taken as UTC, dates as midnight UTC)."""
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise DatasetError(f"{field}: {value!r} is not an ISO-8601 time") from exc
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise DatasetError(f"{field}: expected a timestamp, got {type(value).__name__} {value!r}")


def to_micros(value: Any, field: str) -> int:
    """An event time as whole microseconds since the epoch (exact, so window bounds compare exactly)."""
    delta = to_utc(value, field) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _sum(values: list[Any]) -> Any:
    return sum(values) if all(isinstance(v, int) for v in values) else math.fsum(values)


def _std(values: list[Any]) -> float | None:
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


_AGGREGATIONS: dict[str, Callable[[list[Any]], Any]] = {
    "min": min,
    "max": max,
    "sum": _sum,
    "mean": lambda values: math.fsum(values) / len(values),
    "std": _std,
}


def aggregate(aggregation: str, values: Sequence[Any]) -> Any:
    """One rolling aggregation over a window's values; missing values (None, NaN) are skipped."""
    present = [v for v in values if not _is_missing(v)]
    if aggregation == "count":
        return len(present)
    if aggregation not in _AGGREGATIONS:
        raise DatasetError(f"unknown aggregation {aggregation!r}")
    return _AGGREGATIONS[aggregation](present) if present else None


def _calendar(part: str, moment: datetime) -> int:
    parts = {"hour": moment.hour, "day_of_week": moment.weekday(), "day_of_month": moment.day, "month": moment.month}
    return parts[part]


def _field(row: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in row:
        raise DatasetError(f"{what} has no field {name!r} (fields: {', '.join(sorted(row)) or 'none'})")
    return row[name]


class _History:
    """The entity's events at or before the new event, as (microseconds, row), the new event itself excluded."""

    def __init__(self, time: int, rows: list[tuple[int, Mapping[str, Any]]]) -> None:
        self.time = time
        self.rows = rows

    @classmethod
    def of(
        cls, definition: DatasetDefinition, event: Mapping[str, Any], history: Iterable[Mapping[str, Any]]
    ) -> _History:
        """From rows as they come: each checked to be the event's entity, its time converted."""
        entity = _field(event, definition.entity_key, "event")
        timed = []
        for number, row in enumerate(history):
            what = f"history row {number}"
            if _field(row, definition.entity_key, what) != entity:
                raise DatasetError(
                    f"{what}: {definition.entity_key} {row[definition.entity_key]!r} is not the event's {entity!r}"
                )
            timed.append((to_micros(_field(row, definition.event_time, what), definition.event_time), row))
        return cls.timed(definition, event, timed)

    @classmethod
    def timed(
        cls, definition: DatasetDefinition, event: Mapping[str, Any], history: Iterable[tuple[int, Mapping[str, Any]]]
    ) -> _History:
        """From (microseconds, row) pairs of the event's entity."""
        time = to_micros(_field(event, definition.event_time, "event"), definition.event_time)
        key = tuple(_field(event, k, "event") for k in definition.primary_key)
        rows = []
        for moment, row in history:
            if tuple(row[k] for k in definition.primary_key) == key:
                continue  # the event itself, already stored by the caller
            # Events after the new one are not history (late-arriving data must not leak into the past).
            if moment <= time:
                rows.append((moment, row))
        return cls(time, rows)


def _feature(feature: Feature, event: Mapping[str, Any], past: _History, moment: datetime) -> Any:
    if feature.kind == "column":
        assert feature.source is not None  # guaranteed by Feature's validator
        return _field(event, feature.source, "event")
    if feature.kind == "calendar":
        assert feature.part is not None
        return _calendar(feature.part, moment)
    if feature.kind == "time_since_last":
        if not past.rows:
            return None
        return (past.time - max(t for t, _ in past.rows)) / MICROS_PER_SECOND
    assert feature.source is not None and feature.window is not None and feature.aggregation is not None
    start = past.time - window_micros(feature.window)  # exclusive: the window is (t - window, t]
    values = [_field(event, feature.source, "event")]
    values += [_field(row, feature.source, "history row") for t, row in past.rows if t > start]
    return aggregate(feature.aggregation, values)


def online_features(
    definition: DatasetDefinition, event: Mapping[str, Any], history: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The features of ``event`` (a row with the definition's columns) given its entity's ``history``.

    ``history`` holds the entity's earlier events (at least the longest rolling window's worth); a row with the
    event's own primary key is skipped and rows later than the event are ignored. Returns ``{feature: value}``.
    """
    return _features(definition, event, _History.of(definition, event, history))


def online_features_timed(
    definition: DatasetDefinition, event: Mapping[str, Any], history: Iterable[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """:func:`online_features` over history its keeper has already timed and kept to the event's entity:
    ``(microseconds since the epoch, row)`` pairs (the stream consumer's memory), converted once, not per event."""
    return _features(definition, event, _History.timed(definition, event, history))


def _features(definition: DatasetDefinition, event: Mapping[str, Any], past: _History) -> dict[str, Any]:
    moment = to_utc(event[definition.event_time], definition.event_time)
    return {feature.name: _feature(feature, event, past, moment) for feature in definition.features}
