"""What every event-stream adapter over a partitioned log with an external checkpoint store shares.

Kinesis keeps no consumer state, so its adapter (and the in-memory fake, which has the same semantics) supplies
only a :class:`PartitionLog`: list the partitions, read one from a position. This module adds the rest of the
:class:`~mlops.ports.events.Subscription` contract once: leases and checkpoints in a
:class:`~mlops.ports.events.CheckpointStore`, lease renewal and takeover, commit bookkeeping; and the put loop
that sends only the entries a batch answer marks failed again, with backoff. A service that keeps consumer state
itself (Kafka's group coordinator, Pub/Sub's acks) implements the port directly instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mlops.ports.events import (
    Checkpoint,
    CheckpointStore,
    Delivery,
    EventStreamError,
    LeaseHeldError,
    OutgoingEvent,
    PutOutcome,
    StreamThrottledError,
)

DEFAULT_LEASE_SECONDS = 30.0
RENEW_FRACTION = 1 / 3  # renew once a third of the lease has passed: two renewals may fail before it expires


def poll_order(partitions: list[str], turn: int) -> tuple[list[str], int]:
    """The held partitions rotated by ``turn``, and the next turn: each poll starts at a different partition, so a
    small limit does not starve the last ones."""
    if not partitions:
        return partitions, turn
    turn %= len(partitions)
    return partitions[turn:] + partitions[:turn], turn + 1


@dataclass(frozen=True)
class Page:
    """One read of one partition: the deliveries, whether the partition has ended, and the lag."""

    deliveries: list[Delivery]
    ended: bool
    lag_millis: int


class PartitionReader(Protocol):
    """Reads one partition forward from where it was opened, keeping the service's cursor to itself."""

    def read(self, limit: int) -> Page: ...


class PartitionLog(Protocol):
    """A partitioned log without consumer state: what an adapter supplies to :class:`LeasedSubscription`."""

    @property
    def name(self) -> str: ...

    def partitions(self) -> list[str]:
        """Every partition, in the service's order; ``StreamNotFoundError`` when the stream is absent."""
        ...

    def reader(self, partition: str, after: str | None) -> PartitionReader:
        """A reader starting just after ``after``, or at the oldest record when it is ``None``."""
        ...


@dataclass(frozen=True)
class EntryFailure:
    """A batch entry the service refused: its error code and message (the code decides throttled or not)."""

    code: str
    message: str


THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "Throttled",
        # Google's errors, by class name (Pub/Sub: HTTP 429 / gRPC RESOURCE_EXHAUSTED)
        "TooManyRequests",
        "ResourceExhausted",
    }
)


def put_with_retry(
    stream: str,
    batches: Iterable[list[OutgoingEvent]],
    send: Callable[[list[OutgoingEvent]], list[EntryFailure | None]],
    max_attempts: int,
    sleep: Callable[[int], None],
) -> PutOutcome:
    """Send each batch; resend only the entries ``send`` reports failed (one result per entry, in order).

    Batch calls are not atomic (Kinesis PutRecords, Kafka produce): resending a whole batch would duplicate the
    entries that landed. After ``max_attempts`` the error names the stream and the first failed record; it is a
    :class:`StreamThrottledError` when every remaining failure is a throttling code."""
    outcome = PutOutcome()
    for batch in batches:
        pending = batch
        failed: list[tuple[OutgoingEvent, EntryFailure]] = []
        for attempt in range(max_attempts):
            results = send(pending)
            outcome.calls += 1
            failed = [(record, result) for record, result in zip(pending, results, strict=True) if result is not None]
            outcome.sent += len(pending) - len(failed)
            if not failed:
                break
            outcome.retried += len(failed)
            pending = [record for record, _ in failed]
            sleep(attempt)
        else:
            record, error = failed[0]
            kind = StreamThrottledError if all(f.code in THROTTLING_CODES for _, f in failed) else EventStreamError
            raise kind(
                f"stream {stream!r}: {len(failed)} record(s) still failed after {max_attempts} put attempts; "
                f"first: partition key {record.key!r}: {error.code}: {error.message}"
            )
    return outcome


@dataclass
class LeasedSubscription:
    """:class:`~mlops.ports.events.Subscription` over a :class:`PartitionLog` and a :class:`CheckpointStore`.

    Subscribing leases every partition whose lease is free or expired and opens it after its checkpoint. Each
    ``poll`` renews the leases once a third of their time has passed (a partition whose lease another owner took
    in the meantime is dropped, its uncommitted deliveries go to that owner) and leases partitions freed since.
    ``commit`` counts the records delivered up to each position, so a checkpoint says how many it covers."""

    log: PartitionLog
    store: CheckpointStore
    consumer: str
    owner: str
    lease_seconds: float
    clock: Callable[[], float]
    _readers: dict[str, PartitionReader] = field(default_factory=dict, init=False)
    _checkpoints: dict[str, Checkpoint] = field(default_factory=dict, init=False)
    _delivered: dict[str, list[str]] = field(default_factory=dict, init=False)
    _ended: set[str] = field(default_factory=set, init=False)
    _lag: dict[str, int] = field(default_factory=dict, init=False)
    _renew_at: float = field(default=0.0, init=False)
    _turn: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {self.lease_seconds}")
        self._claim(self.log.partitions())

    @property
    def partitions(self) -> list[str]:
        return list(self._readers)

    @property
    def lag(self) -> dict[str, int]:
        return dict(self._lag)

    @property
    def committed(self) -> dict[str, Checkpoint]:
        return dict(self._checkpoints)

    def _claim(self, partitions: Sequence[str]) -> None:
        """Lease each partition not leased here yet; one another owner holds is skipped, not an error."""
        now = self.clock()
        for partition in partitions:
            if partition in self._checkpoints:
                continue
            try:
                checkpoint = self.store.acquire(self.consumer, partition, self.owner, now, now + self.lease_seconds)
            except LeaseHeldError:
                continue
            self._checkpoints[partition] = checkpoint
            self._delivered[partition] = []
            self._readers[partition] = self.log.reader(partition, checkpoint.position)
        self._renew_at = now + self.lease_seconds * RENEW_FRACTION

    def _renew(self) -> None:
        now = self.clock()
        for partition in list(self._checkpoints):
            try:
                self.store.acquire(self.consumer, partition, self.owner, now, now + self.lease_seconds)
            except LeaseHeldError:
                self._drop(partition)
        self._claim([p for p in self.log.partitions() if p not in self._ended])

    def _drop(self, partition: str) -> None:
        for held in (self._checkpoints, self._delivered, self._readers, self._lag):
            held.pop(partition, None)

    def _check_open(self) -> None:
        if self._closed:
            raise EventStreamError(
                f"stream {self.log.name!r}: the subscription of consumer {self.consumer!r} (owner {self.owner!r}) "
                "is closed"
            )

    def poll(self, limit: int = 1_000) -> list[Delivery]:
        self._check_open()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if self.clock() >= self._renew_at:
            self._renew()
        order, self._turn = poll_order(list(self._readers), self._turn)
        deliveries: list[Delivery] = []
        for partition in order:
            left = limit - len(deliveries)
            if left <= 0:
                break
            page = self._readers[partition].read(left)
            deliveries += page.deliveries
            self._delivered[partition] += [d.position for d in page.deliveries]
            self._lag[partition] = page.lag_millis
            if page.ended:
                del self._readers[partition]  # the lease stays until close, so its last positions can commit
                self._ended.add(partition)
        return deliveries

    def commit(self, positions: Mapping[str, str]) -> None:
        self._check_open()
        now = self.clock()
        for partition, position in positions.items():
            if partition not in self._checkpoints:
                raise LeaseHeldError(
                    f"stream {self.log.name!r} partition {partition!r}: consumer {self.consumer!r} owner "
                    f"{self.owner!r} holds no lease on it (never leased, or lost to another owner)"
                )
            delivered = self._delivered[partition]
            if position not in delivered:
                raise EventStreamError(
                    f"stream {self.log.name!r} partition {partition!r}: position {position!r} was not delivered "
                    f"to consumer {self.consumer!r} since its last commit"
                )
            count = delivered.index(position) + 1
            records = self._checkpoints[partition].records + count
            try:
                until = now + self.lease_seconds
                self.store.save(self.consumer, partition, self.owner, position=position, records=records, until=until)
            except LeaseHeldError:
                self._drop(partition)
                raise
            self._checkpoints[partition] = Checkpoint(
                partition, position, records, self.owner, now + self.lease_seconds
            )
            del delivered[:count]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        failure: EventStreamError | None = None
        for partition in list(self._checkpoints):
            try:  # release every lease it can: one that fails only delays a takeover until it expires
                self.store.release(self.consumer, partition, self.owner)
            except EventStreamError as exc:
                failure = failure or exc
            self._drop(partition)
        if failure is not None:
            raise failure

    def __enter__(self) -> LeasedSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
