"""Consume the event stream into the online store: each event's features, computed as serving computes them.

Per poll of the subscription: parse and check each delivery (bad ones go to quarantine with the reason), add it
to the entity's in-memory history (:class:`EntityHistory`), compute its features with
:mod:`mlops.features.online`, then write the newest features per entity to the online store in one batch and
only then commit each partition's last position (at-least-once: a crash in between replays the deliveries, and
the replay rewrites the same items). The subscription leases the partitions, so a second consumer of the same
dataset reads none of the partitions this one holds.

A run is bounded: it stops after ``max_records`` records or once no partition has returned a record for
``idle_seconds``. The next run resumes from the checkpoints with the per-entity history saved before each commit
(:mod:`pipelines.stream.history_store`: a crash loses no history), optionally seeded from the curated Delta table
(:func:`seed_from_curated`); see ``docs/stream.md``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.features.online import to_micros, to_utc
from mlops.platform import Platform
from mlops.ports.events import Delivery, Subscription
from mlops.ports.online_store import OnlineStore
from pipelines.stream.events import EventError, parse_event
from pipelines.stream.history import EntityHistory
from pipelines.stream.history_store import HistoryStore
from pipelines.stream.quarantine import Quarantine
from pipelines.stream.seed import seed_from_curated

POLL_SECONDS = 0.25  # Kinesis allows 5 GetRecords per second per shard
# Deliveries per poll (Kinesis's GetRecords maximum): each poll writes its entities' newest features once, saves
# the history and commits. A consumer catching up on a backlog writes each entity once per poll: the main job's
# 29,032 events of 750 customers were 5,437 item writes in polls of 1,000, 1,109 in polls of 10,000 (7.8 -> 5.2 s
# on moto), the same items in the end. A steady stream is polled every POLL_SECONDS and yields far fewer per poll.
POLL_LIMIT = 10_000


def consumer_name(dataset: str) -> str:
    """The checkpoint store's consumer of the online-feature consumer of ``dataset``."""
    return f"online-features-{dataset}"


def owner_id() -> str:
    """This process as a lease owner: host and PID say who holds a partition, the suffix keeps runs apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class PartitionCounts:
    """One partition's progress in a run."""

    records: int = 0  # read in this run
    checkpoint: str | None = None
    committed_records: int = 0  # committed in all runs (the checkpoint's count)
    lag_millis: int = 0


@dataclass
class ConsumeResult:
    """What a consume run did. ``leased`` lists the partitions it held when it started (empty: another owner
    of the same consumer holds every lease)."""

    dataset: str
    consumer: str
    owner: str = ""
    read: int = 0
    written: int = 0
    quarantined: int = 0
    seeded: int = 0
    restored: int = 0  # events of the history saved by earlier runs
    seed_version: int | None = None
    seconds: float = 0.0
    leased: list[str] = field(default_factory=list)
    partitions: dict[str, PartitionCounts] = field(default_factory=dict)
    quarantine_keys: list[str] = field(default_factory=list)


@dataclass
class StreamConsumer:
    """Turns deliveries into online-store writes; says which positions may then be committed."""

    definition: DatasetDefinition
    store: OnlineStore
    quarantine: Quarantine
    history: EntityHistory
    result: ConsumeResult
    saved: HistoryStore | None = None

    def online_row(self, row: dict[str, Any], position: str) -> dict[str, Any]:
        """The store item of an event: its features, entity, the time they are as of, the record they came from."""
        definition = self.definition
        features = self.history.features(row)
        features[definition.entity_key] = str(row[definition.entity_key])
        features["feature_time"] = to_utc(row[definition.event_time], definition.event_time).isoformat()
        features["stream_position"] = position
        return features

    def process(self, deliveries: list[Delivery]) -> dict[str, str]:
        """Features, one store write, quarantine; returns each partition's last position (to commit next).

        Each entity's features are computed once per poll, for its newest event, once the whole poll is in the
        history: a late event of the same poll within the window counts in them, as it counts in the batch job's.
        """
        definition = self.definition
        newest: dict[str, tuple[dict[str, Any], str]] = {}
        last: dict[str, str] = {}
        for delivery in deliveries:
            last[delivery.partition] = delivery.position
            self.result.partitions.setdefault(delivery.partition, PartitionCounts()).records += 1
            try:
                row = parse_event(delivery.data, definition)
            except EventError as exc:
                raw = delivery.data.decode("utf-8", errors="replace")
                self.quarantine.add(str(exc), raw, partition=delivery.partition, position=delivery.position)
                continue
            entity = str(row[definition.entity_key])
            if self.saved is not None:
                self.saved.note(entity, delivery.partition)
            seen = self.history.newest(entity)
            self.history.add(row)
            # A late event joins the history but does not replace features of a newer event in the store.
            if seen is None or to_micros(row[definition.event_time], definition.event_time) >= seen:
                newest[entity] = (row, delivery.position)
        if newest:
            items = [self.online_row(row, position) for row, position in newest.values()]
            self.result.written += self.store.write(definition.name, items, definition.entity_key)
        self.quarantine.flush()
        self.result.read += len(deliveries)
        return last


def run(
    consumer: StreamConsumer,
    subscription: Subscription,
    max_records: int | None,
    idle_seconds: float,
    *,
    progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll until ``max_records`` are read, no partition is left, or none yields for ``idle_seconds``.

    After a poll that returned records, the next poll runs in a thread while they are processed and saved (the
    emulator's or the service's answer arrives meanwhile); their commit waits for it, so the subscription is
    never called from two threads at once. What a run that fails had polled ahead is not committed: the next run
    reads it again."""
    result = consumer.result

    def room(taken: int) -> int:  # how many records the next poll may take
        return POLL_LIMIT if max_records is None else min(POLL_LIMIT, max_records - taken)

    last_record = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-ahead") as poller:
        ahead: Future[list[Delivery]] | None = None
        # records polled ahead are processed even when that poll ended the last partition
        while ahead is not None or (subscription.partitions and room(result.read) > 0):
            deliveries = ahead.result() if ahead is not None else subscription.poll(room(result.read))
            ahead = None
            if deliveries:
                if subscription.partitions and room(result.read + len(deliveries)) > 0:
                    ahead = poller.submit(subscription.poll, room(result.read + len(deliveries)))
                _process(consumer, subscription, deliveries, ahead)
            for partition, lag in subscription.lag.items():
                result.partitions.setdefault(partition, PartitionCounts()).lag_millis = lag
            if progress is not None:
                progress(result.read)
            if deliveries:
                last_record = time.monotonic()
            elif time.monotonic() - last_record >= idle_seconds:
                break
            else:
                sleep(POLL_SECONDS)


def _process(
    consumer: StreamConsumer,
    subscription: Subscription,
    deliveries: list[Delivery],
    ahead: Future[list[Delivery]] | None,
) -> None:
    """Write the deliveries' features, save the history, then commit (once the poll ahead has returned)."""
    positions = consumer.process(deliveries)
    if consumer.saved is not None:  # before the commit: a crash after it must find this history
        consumer.saved.save(consumer.history, positions)
    if ahead is not None:
        wait([ahead])  # its error, if any, is raised when its result is taken
    subscription.commit(positions)  # only now: every delivery up to these positions is in the store
    for partition, position in positions.items():
        consumer.result.partitions[partition].checkpoint = position


def consume(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    max_records: int | None = None,
    idle_seconds: float = 5.0,
    seed_curated: bool = False,
    seed_version: int | None = None,
    owner: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ConsumeResult:
    """Consume the platform's event stream into its online store, resuming from the consumer's checkpoints."""
    if max_records is not None and max_records < 1:
        raise DatasetError(f"--max-records must be at least 1, got {max_records}")
    if idle_seconds < 0:
        raise DatasetError(f"--idle-seconds must not be negative, got {idle_seconds}")
    started = time.monotonic()
    services = platform.services
    name = consumer_name(definition.name)
    result = ConsumeResult(dataset=definition.name, consumer=name, owner=owner or owner_id())
    history = EntityHistory(definition)
    if seed_curated:
        result.seeded, result.seed_version = seed_from_curated(platform, definition, history, seed_version)
    bucket = platform.layout.bucket("quarantine")
    quarantine = Quarantine(services.object_store, bucket, definition.name, "consume")
    saved = HistoryStore(services.object_store, platform.layout.bucket("features"), name, definition)
    consumer = StreamConsumer(definition, services.online_store, quarantine, history, result, saved)
    with services.events.subscribe(name, result.owner) as subscription:
        result.leased = subscription.partitions
        result.restored = saved.load(history, subscription.partitions)
        run(consumer, subscription, max_records, idle_seconds, progress=progress)
        for partition, checkpoint in subscription.committed.items():
            counts = result.partitions.setdefault(partition, PartitionCounts())
            counts.checkpoint = checkpoint.position
            counts.committed_records = checkpoint.records
    result.quarantined = quarantine.count
    result.quarantine_keys = [platform.layout.uri(bucket, key) for key in quarantine.keys]
    result.seconds = round(time.monotonic() - started, 3)
    return result
