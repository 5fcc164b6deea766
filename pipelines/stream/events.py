"""Stream events: one JSON object per record holding a dataset row, checked against the dataset definition.

On the wire an event is a JSON object with the definition's columns: strings, numbers, booleans, timestamps and
dates as ISO-8601 strings (UTC). A nullable column may be absent (a label is rarely known when the event
happens); the entity key, the event time, the primary key and every non-nullable column must be present and
non-null. A value of the wrong type fails the event, and so does a value batch validation would quarantine
(``allowed`` values, ``min``/``max``: the same rules and reasons, :mod:`pipelines.validation.rules`), so the
online store never serves features of a row the curated table would not hold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from mlops.datasets import Column, DatasetDefinition
from mlops.errors import DatasetError
from mlops.features.online import to_utc
from pipelines.validation.rules import row_violations


class EventError(DatasetError):
    """An event is not a valid row of its dataset; the message is the quarantine reason."""


def required_columns(definition: DatasetDefinition) -> list[str]:
    """Columns every event must carry a value for, in definition order."""
    always = {definition.entity_key, definition.event_time, *definition.primary_key}
    return [c.name for c in definition.columns if c.name in always or not c.nullable]


def _typed(value: Any, column: Column) -> Any:
    """``value`` as the column's Python type; :class:`EventError` naming the column when it does not fit."""
    kind = column.type
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("int", "double") and isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "double" and math.isfinite(value):
            return float(value)
        if kind == "int" and (isinstance(value, int) or value.is_integer()):
            return int(value)
    if kind in ("timestamp", "date") and isinstance(value, str):
        try:
            moment = to_utc(value, column.name)
        except DatasetError as exc:
            raise EventError(str(exc)) from exc
        return moment if kind == "timestamp" else moment.date()
    raise EventError(f"{column.name}: {value!r} is not of type {kind}"[:200])


def check_event(raw: Mapping[str, Any], definition: DatasetDefinition) -> dict[str, Any]:
    """The event's row typed per the definition (every column, absent nullable ones as ``None``)."""
    missing = [name for name in required_columns(definition) if raw.get(name) is None]
    if missing:
        raise EventError(f"missing required field(s): {', '.join(missing)}")
    row: dict[str, Any] = {}
    for column in definition.columns:
        value = raw.get(column.name)
        row[column.name] = None if value is None else _typed(value, column)
    broken = row_violations(row, definition)
    if broken:
        raise EventError("; ".join(broken))
    return row


def parse_event(data: bytes, definition: DatasetDefinition) -> dict[str, Any]:
    """Decode one stream record into a typed row; :class:`EventError` says why it is not one."""
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventError(f"a JSON {type(raw).__name__}, not an object")
    return check_event(raw, definition)


def _wire(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar -> Python scalar
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return to_utc(value, "time").isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def encode_event(row: Mapping[str, Any]) -> bytes:
    """A typed row as the JSON the stream carries (times in UTC ISO-8601, missing values as null)."""
    return json.dumps({name: _wire(value) for name, value in row.items()}, separators=(",", ":")).encode()
