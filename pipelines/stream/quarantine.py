"""Events that are not valid rows go to the quarantine zone, one JSON line each with the reason.

Layout: ``<dataset>/stream/<UTC timestamp>.jsonl`` in the quarantine zone (:func:`mlops.layout.stream_quarantine_key`);
each line holds ``_reason``, ``_stage`` (``produce`` or ``consume``), where the event came from (``_row_number`` of
the file, or the stream's ``_partition`` and ``_position``) and the event as read, whole (``_raw``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops.layout import stream_quarantine_key
from mlops.ports.object_store import ObjectStore


@dataclass
class Quarantine:
    """Collects bad events and writes them as one object per ``flush``."""

    store: ObjectStore
    bucket: str
    dataset: str
    stage: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    pending: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    keys: list[str] = field(default_factory=list)

    def add(self, reason: str, raw: str, **where: Any) -> None:
        """Hold one bad event; ``where`` says where it came from (row number, or partition and position)."""
        self.pending.append(
            {"_reason": reason, "_stage": self.stage, **{f"_{k}": v for k, v in where.items()}, "_raw": raw}
        )
        self.count += 1

    def flush(self) -> str | None:
        """Write the held events (if any) and return the object's key."""
        if not self.pending:
            return None
        key = stream_quarantine_key(self.dataset, self.clock())
        body = "".join(json.dumps(line, sort_keys=True, default=str) + "\n" for line in self.pending)
        self.store.put(self.bucket, key, body.encode(), content_type="application/x-ndjson")
        self.pending = []
        self.keys.append(key)
        return key
