"""``EventStream`` in memory, with the Kinesis adapter's semantics: keys hash to partitions, puts go in batches
of at most 500 with failed entries retried, reads are ordered per partition, checkpoints and leases live in a
:class:`MemoryCheckpoints` with the same conditional rules as the DynamoDB table.

:class:`MemoryEventStreams` plays the service (streams exist once created, as the infra program creates them);
``faults`` lets a test refuse chosen entries of a batch, as PutRecords does under throttling.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from mlops.adapters.eventlog import (
    DEFAULT_LEASE_SECONDS,
    EntryFailure,
    LeasedSubscription,
    Page,
    put_with_retry,
)
from mlops.contracts import backoff
from mlops.ports.events import (
    Checkpoint,
    Delivery,
    EventStreamError,
    LeaseHeldError,
    OutgoingEvent,
    PutOutcome,
    StreamNotFoundError,
)

MAX_BATCH_RECORDS = 500  # as PutRecords
MAX_RECORD_BYTES = 1024 * 1024  # as Kinesis

Fault = Callable[[OutgoingEvent], EntryFailure | None]


class MemoryCheckpoints:
    """``CheckpointStore`` in a dict: the DynamoDB table's rows and conditional writes, in process."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Checkpoint] = {}
        self._lock = threading.Lock()

    def load(self, consumer: str) -> dict[str, Checkpoint]:
        with self._lock:
            return {p: row for (c, p), row in self._rows.items() if c == consumer}

    def acquire(self, consumer: str, partition: str, owner: str, now: float, until: float) -> Checkpoint:
        with self._lock:
            row = self._rows.get((consumer, partition), Checkpoint(partition))
            expires = row.lease_expires
            if row.lease_owner not in (None, owner) and expires is not None and expires >= now:
                raise LeaseHeldError(
                    f"checkpoints of consumer {consumer!r} partition {partition!r}: leased by {row.lease_owner!r} "
                    f"until {expires:.3f} (now {now:.3f})"
                )
            row = Checkpoint(partition, row.position, row.records, owner, until)
            self._rows[(consumer, partition)] = row
            return row

    def save(self, consumer: str, partition: str, owner: str, *, position: str, records: int, until: float) -> None:
        with self._lock:
            row = self._rows.get((consumer, partition))
            if row is None or row.lease_owner != owner:
                holder = None if row is None else row.lease_owner
                raise LeaseHeldError(
                    f"checkpoints of consumer {consumer!r} partition {partition!r}: owner {owner!r} holds no lease "
                    f"(held by {holder!r})"
                )
            self._rows[(consumer, partition)] = Checkpoint(partition, position, records, owner, until)

    def release(self, consumer: str, partition: str, owner: str) -> None:
        with self._lock:
            row = self._rows.get((consumer, partition))
            if row is not None and row.lease_owner == owner:
                self._rows[(consumer, partition)] = Checkpoint(partition, row.position, row.records)


@dataclass
class _Log:
    """One stream's partitions: (key, data, put time) per record; a record's position is its index."""

    partitions: dict[str, list[tuple[str, bytes, float]]]
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Reader:
    log: _Log
    partition: str
    next_index: int

    def read(self, limit: int) -> Page:
        with self.log.lock:
            records = self.log.partitions[self.partition]
            chunk = records[self.next_index : self.next_index + limit]
            newest = records[-1][2] if records else None
        deliveries = [
            Delivery(self.partition, str(self.next_index + n), key, data) for n, (key, data, _) in enumerate(chunk)
        ]
        self.next_index += len(chunk)
        lag = 0
        if chunk and newest is not None:
            lag = max(0, round((newest - chunk[-1][2]) * 1000))
        return Page(deliveries, ended=False, lag_millis=lag)


class MemoryEventStreams:
    """The in-memory service: named streams with a fixed number of partitions, one checkpoint store."""

    def __init__(self, clock: Callable[[], float] = time.time, checkpoints: MemoryCheckpoints | None = None) -> None:
        self.clock = clock
        self.checkpoints = checkpoints or MemoryCheckpoints()
        self._logs: dict[str, _Log] = {}
        self._lock = threading.Lock()

    def create(self, name: str, partitions: int = 2) -> None:
        if partitions < 1:
            raise ValueError(f"stream {name!r} needs at least one partition, got {partitions}")
        with self._lock:
            if name not in self._logs:
                self._logs[name] = _Log({f"partition-{n:04d}": [] for n in range(partitions)})

    def log(self, name: str) -> _Log:
        with self._lock:
            if name not in self._logs:
                raise StreamNotFoundError(f"stream {name!r} does not exist")
            return self._logs[name]

    def stream(
        self, name: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS, faults: Fault | None = None
    ) -> MemoryEventStream:
        """A handle on stream ``name`` (created or not: using a missing one raises ``StreamNotFoundError``)."""
        return MemoryEventStream(self, name, lease_seconds=lease_seconds, faults=faults)


@dataclass
class MemoryEventStream:
    """``EventStream`` on a :class:`MemoryEventStreams` stream."""

    service: MemoryEventStreams
    name: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    faults: Fault | None = None
    max_attempts: int = 8
    sleep: Callable[[int], None] = field(default=backoff, repr=False)

    def put(self, records: Sequence[OutgoingEvent]) -> PutOutcome:
        log = self.service.log(self.name)
        return put_with_retry(
            self.name, _batches(self.name, records), lambda b: self._append(log, b), self.max_attempts, self.sleep
        )

    def _append(self, log: _Log, batch: list[OutgoingEvent]) -> list[EntryFailure | None]:
        results: list[EntryFailure | None] = []
        now = self.service.clock()
        names = sorted(log.partitions)
        with log.lock:
            for record in batch:
                failure = self.faults(record) if self.faults is not None else None
                if failure is None:
                    log.partitions[names[_partition_index(record.key, len(names))]].append(
                        (record.key, record.data, now)
                    )
                results.append(failure)
        return results

    def subscribe(self, consumer: str, owner: str) -> LeasedSubscription:
        return LeasedSubscription(
            _MemoryLog(self.name, self.service),
            self.service.checkpoints,
            consumer,
            owner,
            self.lease_seconds,
            self.service.clock,
        )


@dataclass
class _MemoryLog:
    name: str
    service: MemoryEventStreams

    def partitions(self) -> list[str]:
        return sorted(self.service.log(self.name).partitions)

    def reader(self, partition: str, after: str | None) -> _Reader:
        log = self.service.log(self.name)
        if partition not in log.partitions:
            raise EventStreamError(f"stream {self.name!r} has no partition {partition!r}")
        return _Reader(log, partition, 0 if after is None else int(after) + 1)


def _partition_index(key: str, count: int) -> int:
    """MD5 of the key, as Kinesis maps partition keys to hash ranges (stable across processes, unlike hash())."""
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big") % count


def _batches(stream: str, records: Sequence[OutgoingEvent]) -> Iterator[list[OutgoingEvent]]:
    for number, record in enumerate(records):
        if record.size > MAX_RECORD_BYTES:
            raise EventStreamError(
                f"stream {stream!r}: record {number} (partition key {record.key!r}) is {record.size} bytes; "
                f"a stream record holds at most {MAX_RECORD_BYTES}"
            )
    for start in range(0, len(records), MAX_BATCH_RECORDS):
        yield list(records[start : start + MAX_BATCH_RECORDS])
