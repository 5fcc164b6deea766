"""The consumer's history survives a crash: saved per partition with every commit, loaded when a run starts.

Rolling features need each entity's recent events, which only the consumer's memory holds (the online store
keeps the latest features). A run that starts from a checkpoint without that memory computes rolling features
over partial history. So before each commit the consumer saves, per partition it read from, the events of that
partition's entities still inside the longest window (``<features>/stream-state/<consumer>/<partition>.json``,
with the position read up to); a run loads the saved history of every partition it leases.

The save happens before the commit: a crash in between leaves a history a little ahead of the checkpoint, and
the replayed deliveries replace their own events (history is keyed by primary key), so nothing counts twice.
An entity's events go to one partition (the entity key is the partition key), so partitions' histories never
overlap and two consumers holding different partitions never write the same object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mlops.datasets import DatasetDefinition
from mlops.errors import StreamError
from mlops.layout import stream_history_key
from mlops.ports.object_store import ObjectStore, ObjectStoreError
from pipelines.stream.events import EventError, check_event
from pipelines.stream.history import EntityHistory


@dataclass
class HistoryStore:
    """Saves and loads an :class:`EntityHistory` by partition in ``bucket`` of ``store``."""

    store: ObjectStore
    bucket: str
    consumer: str
    definition: DatasetDefinition
    partition_of: dict[str, str] = field(default_factory=dict)  # entity -> the partition its events came from

    def note(self, entity: str, partition: str) -> None:
        """``entity``'s events come from ``partition``."""
        self.partition_of[entity] = partition

    def save(self, history: EntityHistory, positions: Mapping[str, str]) -> None:
        """Write the history of each partition in ``positions``, read up to its position."""
        entities: dict[str, list[str]] = {partition: [] for partition in positions}
        for entity, partition in self.partition_of.items():
            if partition in entities:
                entities[partition].append(entity)
        for partition, position in positions.items():
            rows = b",".join(event for entity in entities[partition] for event in history.encoded(entity))
            head = json.dumps({"partition": partition, "position": position}, separators=(",", ":"))[:-1]
            body = head.encode() + b',"rows":[' + rows + b"]}"
            key = stream_history_key(self.consumer, partition)
            self.store.put(self.bucket, key, body, "application/json")

    def load(self, history: EntityHistory, partitions: Iterable[str]) -> int:
        """Add the saved history of ``partitions`` to ``history``; returns how many events it held."""
        count = 0
        for partition in partitions:
            key = stream_history_key(self.consumer, partition)
            if not self.store.exists(self.bucket, key):
                continue
            for row in self._rows(key):
                history.add(row)
                self.note(str(row[self.definition.entity_key]), partition)
                count += 1
        return count

    def _rows(self, key: str) -> list[dict[str, object]]:
        where = f"saved stream history {self.bucket}/{key}"
        try:
            saved = json.loads(self.store.get(self.bucket, key))
            return [check_event(row, self.definition) for row in saved["rows"]]
        except (ObjectStoreError, ValueError, KeyError, TypeError, EventError) as exc:
            raise StreamError(f"{where} cannot be read ({exc}); delete it to start from an empty history") from exc
