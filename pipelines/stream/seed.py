"""Warm the consumer's history from the curated Delta table, so rolling features start with a full window.

Only the rows a window can still reach are kept: those inside the longest window before the table's newest
event, plus each entity's newest row (``time_since_last`` needs it however old it is).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.platform import Platform
from pipelines.stream.history import EntityHistory, longest_window


def seed_rows(frame: pd.DataFrame, definition: DatasetDefinition) -> list[dict[str, Any]]:
    """The rows of a curated frame that can still count for new events, oldest first."""
    if frame.empty:
        return []
    times = pd.to_datetime(frame[definition.event_time], utc=True)
    recent = times > times.max() - longest_window(definition)
    newest = times.groupby(frame[definition.entity_key]).transform("max") == times
    kept = frame.assign(_t=times)[recent | newest].sort_values("_t", kind="stable").drop(columns="_t")
    rows: list[dict[str, Any]] = []
    for record in kept.to_dict(orient="records"):
        rows.append({name: None if _missing(value) else value for name, value in record.items()})
    return rows


def _missing(value: Any) -> bool:
    return not isinstance(value, list | dict) and bool(pd.isna(value))


def seed_from_curated(
    platform: Platform, definition: DatasetDefinition, history: EntityHistory, version: int | None = None
) -> tuple[int, int]:
    """Add the curated table's recent rows (at ``version``, default latest) to ``history``; (rows, version)."""
    uri = platform.layout.table_uri("curated", definition.name)
    table = platform.services.table_store.read(uri, version, columns=definition.column_names)
    return history.extend(seed_rows(table.data.to_pandas(), definition)), table.version
