"""Consume the event stream into the online store: each event's features, computed as serving computes them.

Per shard page: parse and check each event (bad ones go to quarantine with the reason), add it to the entity's
in-memory history (:class:`EntityHistory`), compute its features with :mod:`mlops.features.online`, then write
the newest features per entity to the online store in one batch and only then checkpoint the shard's last
sequence number (at-least-once: a crash in between replays the page, and the replay rewrites the same items).

A run is bounded: it stops after ``max_records`` records or once no shard has returned a record for
``idle_seconds``. The next run resumes from the checkpoints. History starts empty each run unless seeded from
the curated Delta table (:func:`seed_from_curated`); see ``docs/stream.md`` for the warm-up this implies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops.adapters.feature_store import DynamoDBOnlineStore, OnlineStore
from mlops.adapters.object_store import S3ObjectStore
from mlops.adapters.stream import EventStream, KinesisStream, ShardPage, ShardReader
from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.features.online import to_micros, to_utc
from mlops.local.platform import Platform
from pipelines.stream.checkpoints import Checkpoints, DynamoDBCheckpoints
from pipelines.stream.events import EventError, parse_event
from pipelines.stream.history import EntityHistory
from pipelines.stream.quarantine import Quarantine
from pipelines.stream.seed import seed_from_curated

POLL_SECONDS = 0.25  # Kinesis allows 5 GetRecords per second per shard


def consumer_name(dataset: str) -> str:
    """The checkpoint table's ``consumer`` key of the online-feature consumer of ``dataset``."""
    return f"online-features-{dataset}"


@dataclass
class ShardCounts:
    """One shard's progress in a run."""

    records: int = 0
    checkpoint: str | None = None
    lag_millis: int = 0


@dataclass
class ConsumeResult:
    """What a consume run did."""

    dataset: str
    consumer: str
    read: int = 0
    written: int = 0
    quarantined: int = 0
    seeded: int = 0
    seed_version: int | None = None
    seconds: float = 0.0
    shards: dict[str, ShardCounts] = field(default_factory=dict)
    quarantine_keys: list[str] = field(default_factory=list)


@dataclass
class StreamConsumer:
    """Turns shard pages into online-store writes and checkpoints (see the module docstring)."""

    definition: DatasetDefinition
    store: OnlineStore
    checkpoints: Checkpoints
    quarantine: Quarantine
    consumer: str
    history: EntityHistory
    result: ConsumeResult

    def online_row(self, row: dict[str, Any], sequence_number: str) -> dict[str, Any]:
        """The store item of an event: its features, entity, the time they are as of, the record they came from."""
        definition = self.definition
        features = self.history.features(row)
        features[definition.entity_key] = str(row[definition.entity_key])
        features["feature_time"] = to_utc(row[definition.event_time], definition.event_time).isoformat()
        features["stream_sequence_number"] = sequence_number
        return features

    def process(self, page: ShardPage) -> None:
        """Handle one page of one shard: features, one store write, quarantine, then the checkpoint."""
        if not page.records:
            return
        definition = self.definition
        shard = page.records[0].shard_id
        counts = self.result.shards.setdefault(shard, ShardCounts())
        newest: dict[str, dict[str, Any]] = {}
        for record in page.records:
            try:
                row = parse_event(record.data, definition)
            except EventError as exc:
                raw = record.data.decode("utf-8", errors="replace")
                self.quarantine.add(str(exc), raw, shard_id=shard, sequence_number=record.sequence_number)
                continue
            entity = str(row[definition.entity_key])
            seen = self.history.newest(entity)
            self.history.add(row)
            # A late event joins the history but does not replace features of a newer event in the store.
            if seen is None or to_micros(row[definition.event_time], definition.event_time) >= seen:
                newest[entity] = self.online_row(row, record.sequence_number)
        if newest:
            self.result.written += self.store.write(definition.name, list(newest.values()), definition.entity_key)
        self.quarantine.flush()
        last = page.records[-1].sequence_number
        counts.records += len(page.records)
        counts.checkpoint = last
        self.checkpoints.save(self.consumer, shard, last, counts.records)
        self.result.read += len(page.records)


def run(
    consumer: StreamConsumer,
    reader: ShardReader,
    max_records: int | None,
    idle_seconds: float,
    *,
    progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every shard until ``max_records`` are read, the shards close, or none yields for ``idle_seconds``."""
    result = consumer.result
    last_record = time.monotonic()
    while reader.open_shards and (max_records is None or result.read < max_records):
        pages = reader.poll(None if max_records is None else max_records - result.read)
        for page in pages:
            consumer.process(page)
        for shard, lag in reader.lag.items():
            result.shards.setdefault(shard, ShardCounts()).lag_millis = lag
        if progress is not None:
            progress(result.read)
        if any(page.records for page in pages):
            last_record = time.monotonic()
        elif time.monotonic() - last_record >= idle_seconds:
            break
        else:
            sleep(POLL_SECONDS)


def consume(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    max_records: int | None = None,
    idle_seconds: float = 5.0,
    seed_curated: bool = False,
    seed_version: int | None = None,
    stream: EventStream | None = None,
    store: OnlineStore | None = None,
    progress: Callable[[int], None] | None = None,
) -> ConsumeResult:
    """Consume ``outputs.stream_name`` into ``outputs.online_feature_table``, resuming from the checkpoints."""
    if max_records is not None and max_records < 1:
        raise DatasetError(f"--max-records must be at least 1, got {max_records}")
    if idle_seconds < 0:
        raise DatasetError(f"--idle-seconds must not be negative, got {idle_seconds}")
    started = time.monotonic()
    outputs = platform.outputs
    name = consumer_name(definition.name)
    result = ConsumeResult(dataset=definition.name, consumer=name)
    history = EntityHistory(definition)
    if seed_curated:
        result.seeded, result.seed_version = seed_from_curated(platform, definition, history, seed_version)
    checkpoints = DynamoDBCheckpoints(platform.clients, outputs.checkpoint_table)
    quarantine = Quarantine(S3ObjectStore(platform.clients), outputs.quarantine_bucket, definition.name, "consume")
    consumer = StreamConsumer(
        definition=definition,
        store=store or DynamoDBOnlineStore(platform.clients, outputs.online_feature_table),
        checkpoints=checkpoints,
        quarantine=quarantine,
        consumer=name,
        history=history,
        result=result,
    )
    reader = ShardReader(stream or KinesisStream(platform.clients, outputs.stream_name), checkpoints.load(name))
    run(consumer, reader, max_records, idle_seconds, progress=progress)
    result.quarantined = quarantine.count
    result.quarantine_keys = [f"s3://{quarantine.bucket}/{key}" for key in quarantine.keys]
    result.seconds = round(time.monotonic() - started, 3)
    return result
