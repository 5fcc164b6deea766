"""``OnlineStore`` in memory: the latest row per (dataset, entity), missing numbers stored as ``None``."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from mlops.ports.online_store import OnlineStoreError


class MemoryOnlineStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def write(self, dataset: str, rows: Sequence[Mapping[str, Any]], entity_key: str) -> int:
        items: list[tuple[tuple[str, str], dict[str, Any]]] = []
        for row in rows:
            if row.get(entity_key) is None:
                raise OnlineStoreError(f"row for dataset {dataset!r} has no value for entity key {entity_key!r}")
            values = {name: _plain(value) for name, value in row.items() if name != entity_key}
            items.append(((dataset, str(row[entity_key])), values))
        with self._lock:
            self._items.update(items)
        return len(items)

    def read(self, dataset: str, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {e: dict(self._items[(dataset, e)]) for e in entities if (dataset, e) in self._items}


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value
