"""Load the online store from the offline one: the latest feature row of every entity at a table version."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.datasets import DatasetDefinition
from mlops.platform import Platform
from mlops.ports.online_store import OnlineStore
from pipelines.feature_store.offline import latest_per_entity, load_features

BATCH_ROWS = 500


@dataclass(frozen=True)
class MaterializeResult:
    """What a materialization wrote."""

    dataset: str
    table_version: int
    entities: int
    online_table: str


def online_rows(frame: Any, definition: DatasetDefinition, table_version: int) -> list[dict[str, Any]]:
    """Items for the online store: entity, every feature, the event time they are as of, the table version."""
    latest = latest_per_entity(frame, definition)
    rows: list[dict[str, Any]] = []
    for record in latest.to_dict(orient="records"):
        row = {name: _plain(record[name]) for name in definition.feature_names}
        row[definition.entity_key] = str(record[definition.entity_key])
        row["feature_time"] = record[definition.event_time].isoformat()
        row["feature_table_version"] = table_version
        rows.append(row)
    return rows


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def materialize(
    platform: Platform,
    definition: DatasetDefinition,
    version: int | None = None,
    store: OnlineStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MaterializeResult:
    """Write the latest row per entity of the feature table (at ``version``) to the online store (the
    platform's, unless ``store`` is given)."""
    snapshot = load_features(platform, definition, version)
    rows = online_rows(snapshot.frame, definition, snapshot.version)
    target = store or platform.services.online_store
    written = 0
    for start in range(0, len(rows), BATCH_ROWS):
        written += target.write(definition.name, rows[start : start + BATCH_ROWS], definition.entity_key)
        if progress is not None:
            progress(written, len(rows))
    return MaterializeResult(
        dataset=definition.name,
        table_version=snapshot.version,
        entities=written,
        online_table=platform.outputs.online_feature_table,
    )
