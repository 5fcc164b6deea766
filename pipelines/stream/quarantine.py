"""Events that are not valid rows go to the quarantine zone, one JSON line each with the reason.

Layout: ``s3://<quarantine>/<dataset>/stream/<UTC timestamp>.jsonl``; each line holds ``_reason``, ``_stage``
(``produce`` or ``consume``), where the event came from (``_row_number`` of the file, or ``_shard_id`` and
``_sequence_number``) and the event as read (``_raw``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops.adapters.object_store import ObjectStore


def quarantine_key(dataset: str, moment: datetime) -> str:
    """``<dataset>/stream/<YYYYMMDDTHHMMSSffffffZ>.jsonl``."""
    return f"{dataset}/stream/{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"


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
        """Hold one bad event; ``where`` says where it came from (row number, shard and sequence number)."""
        self.pending.append(
            {"_reason": reason, "_stage": self.stage, **{f"_{k}": v for k, v in where.items()}, "_raw": raw[:2000]}
        )
        self.count += 1

    def flush(self) -> str | None:
        """Write the held events (if any) and return the object's key."""
        if not self.pending:
            return None
        key = quarantine_key(self.dataset, self.clock())
        body = "".join(json.dumps(line, sort_keys=True, default=str) + "\n" for line in self.pending)
        self.store.put(self.bucket, key, body.encode(), content_type="application/x-ndjson")
        self.pending = []
        self.keys.append(key)
        return key
