"""Benchmark: saving the stream consumer's history with every commit - each event encoded once (the kit) vs
re-encoded on every save (the baseline: how ``HistoryStore.save`` worked before, reproduced here).

    .venv/bin/python benchmarks/stream_history.py [--entities 3000] [--events 10] [--saves 30] [--partitions 4]

A history like the demo's after ``--seed-from-curated``: ``--entities`` customers with ``--events`` events each
inside the 30-day window, spread over ``--partitions`` partitions, saved ``--saves`` times (one save per commit,
one commit per poll of up to 1,000 deliveries) into the in-memory object store. Prints seconds per save and in
all, side by side.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.datasets import DatasetDefinition, find_definition
from mlops.layout import stream_history_key
from pipelines.stream.events import encode_event, parse_event
from pipelines.stream.history import EntityHistory
from pipelines.stream.history_store import HistoryStore

REPO = Path(__file__).resolve().parents[1]
CONSUMER = "online-features-card_transactions"


def _history(
    definition: DatasetDefinition, entities: int, events: int, partitions: int
) -> tuple[HistoryStore, EntityHistory]:
    store = MemoryObjectStore(buckets=("features",))
    saved = HistoryStore(store, "features", CONSUMER, definition)
    history = EntityHistory(definition)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for entity in range(entities):
        for number in range(events):
            row = {
                "transaction_id": f"t{entity}-{number}",
                "customer_id": f"c{entity}",
                "merchant_id": "m1",
                "event_time": (start + timedelta(days=number * 2, minutes=entity)).isoformat(),
                "amount": 10.5 + number,
                "category": "grocery",
                "channel": "online",
                "country": "US",
            }
            history.add(parse_event(encode_event(row), definition))
            saved.note(f"c{entity}", f"p{entity % partitions}")
    return saved, history


def _baseline_save(saved: HistoryStore, history: EntityHistory, positions: dict[str, str]) -> None:
    """The previous implementation: every event re-encoded, parsed back and dumped again on every save."""
    entities: dict[str, list[str]] = {partition: [] for partition in positions}
    for entity, partition in saved.partition_of.items():
        if partition in entities:
            entities[partition].append(entity)
    for partition, position in positions.items():
        rows = [json.loads(encode_event(row)) for entity in entities[partition] for row in history.events(entity)]
        body = json.dumps({"partition": partition, "position": position, "rows": rows}, separators=(",", ":"))
        saved.store.put(saved.bucket, stream_history_key(saved.consumer, partition), body.encode(), "application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=3000)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    definition = find_definition("card_transactions", REPO / "pipelines" / "datasets")
    saved, history = _history(definition, args.entities, args.events, args.partitions)
    positions = {f"p{p}": str(p) for p in range(args.partitions)}
    timings: dict[str, float] = {}
    runs: dict[str, Callable[[], None]] = {
        "baseline: re-encoded per save": lambda: _baseline_save(saved, history, positions),
        "kit: encoded once": lambda: saved.save(history, positions),
    }
    for label, save in runs.items():
        started = time.perf_counter()
        for _ in range(args.saves):
            save()
        timings[label] = time.perf_counter() - started
    print(
        f"{len(history):,} events of {history.entities:,} entities in {args.partitions} partitions, {args.saves} saves"
    )
    print(f"{'':34}{'s per save':>12}{'s in all':>10}")
    for label, seconds in timings.items():
        print(f"{label:34}{seconds / args.saves:12.3f}{seconds:10.2f}")
    base, kit = timings.values()
    print(f"{'speed-up':34}{base / kit:12.1f}x")


if __name__ == "__main__":
    main()
