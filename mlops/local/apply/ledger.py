"""The ledger: what one local apply did to each declared resource, written next to the outputs file."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops.errors import LocalApplyError
from mlops.local.apply.base import OUTCOMES, Outcome
from mlops.private_files import write_private


@dataclass(frozen=True)
class LedgerEntry:
    """One applied resource: its type token, logical name, physical id and what the apply did."""

    type: str
    name: str
    physical_id: str
    outcome: Outcome
    seconds: float


def ledger_path(outputs_file: Path) -> Path:
    """``<dir>/<stack>.json`` -> ``<dir>/<stack>.resources.json``."""
    return outputs_file.with_name(f"{outputs_file.stem}.resources.json")


class Ledger:
    """Thread-safe record of an apply in progress (handlers run on the mocks' executor threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return sorted(self._entries, key=lambda e: (e.type, e.name))

    def counts(self) -> dict[str, int]:
        """Resources per outcome (``created``, ``reused``, ``updated``), every outcome present."""
        counted = Counter(entry.outcome for entry in self.entries)
        return {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}

    def write(self, path: Path, stack: str, endpoint_url: str | None, notes: dict[str, str] | None = None) -> None:
        """``notes``: per type token, what the emulator did not honour or why nothing was sent (the GCP apply)."""
        payload: dict[str, Any] = {
            "stack": stack,
            "endpoint_url": endpoint_url,
            "applied_at": time.time(),
            "counts": self.counts(),
            "resources": [asdict(entry) for entry in self.entries],
        }
        if notes:
            payload["notes"] = notes
        write_private(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_ledger(path: Path) -> dict[str, Any] | None:
    """The last apply's ledger, or ``None`` when no apply has written one."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LocalApplyError(f"ledger {path} is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("resources"), list):
        raise LocalApplyError(f"ledger {path} has no 'resources' list")
    return payload


def count_by_type(resources: list[dict[str, Any]]) -> dict[str, int]:
    """Resources per type token, sorted by token."""
    return dict(sorted(Counter(str(entry["type"]) for entry in resources).items()))
