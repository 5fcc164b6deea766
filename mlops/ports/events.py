"""Event stream port: keyed records in, ordered deliveries per partition out, with checkpoints and leases.

The interface knows partitions, positions, checkpoints and leases, never a service's read cursor (Kinesis shard
iterators, Kafka fetch offsets, Pub/Sub streaming pulls): those stay inside the adapter. It maps onto

- Kinesis: partition = shard, position = sequence number; checkpoints and leases in a table of their own
  (:class:`CheckpointStore`, DynamoDB on AWS), as the Kinesis Client Library keeps them;
- Kafka: partition = topic partition, position = offset; a consumer group's committed offsets are the
  checkpoints and the group coordinator's assignment is the lease;
- Pub/Sub: partition = one topic of the stream (records keep their key as the ordering key), position = message
  id; checkpoints, leases and the pulled-but-uncommitted messages in Firestore, because an ordered subscription
  holds a key's next messages back until the earlier ones are acknowledged (:mod:`mlops.adapters.gcp.pubsub`).

Delivery is at-least-once: a consumer commits a position only after it has processed (stored the effect of)
every delivery up to it, so a crash in between replays those deliveries to the next owner of the partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from mlops.errors import StreamError
from mlops.ports.errors import ConflictError, ExpiredError, NotFoundError, PortError, ThrottledError, UnavailableError


class EventStreamError(PortError, StreamError):
    """Writing to or reading from the event stream failed; the message names the stream, partition or record.

    It is a :class:`~mlops.errors.StreamError`, so code catching that keeps working."""


class StreamNotFoundError(EventStreamError, NotFoundError):
    """The stream (or its checkpoint table) does not exist."""


class PositionExpiredError(EventStreamError, ExpiredError):
    """A read position is no longer valid (aged out of retention, or the service's cursor expired twice)."""


class LeaseHeldError(EventStreamError, ConflictError):
    """A partition's lease is held by another owner, so this owner may neither read nor commit it."""


class StreamThrottledError(EventStreamError, ThrottledError):
    """The service kept refusing for rate or capacity after the adapter's retries."""


class StreamUnavailableError(EventStreamError, UnavailableError):
    """The service (or emulator) did not answer."""


@dataclass(frozen=True)
class OutgoingEvent:
    """A record to put. ``key`` picks the partition (the entity key, so one entity's events stay in order)."""

    key: str
    data: bytes

    @property
    def size(self) -> int:
        """Bytes the record counts for against size limits: data and key together (as Kinesis counts them)."""
        return len(self.data) + len(self.key.encode())


@dataclass(frozen=True)
class Delivery:
    """A record read from a partition; ``position`` is what :meth:`Subscription.commit` takes back."""

    partition: str
    position: str
    key: str
    data: bytes


@dataclass
class PutOutcome:
    """What a put did: records accepted, service calls made, failed entries that were sent again."""

    sent: int = 0
    calls: int = 0
    retried: int = 0


@dataclass(frozen=True)
class Checkpoint:
    """One (consumer, partition) row of a checkpoint store: where processing got to and who holds the lease.

    ``position`` is ``None`` before the first commit (read from the oldest record); ``records`` counts every
    record committed for the partition so far; ``lease_expires`` is in seconds since the epoch."""

    partition: str
    position: str | None = None
    records: int = 0
    lease_owner: str | None = None
    lease_expires: float | None = None


class Subscription(Protocol):
    """One owner's reading of a stream for one consumer: the partitions it leased, read from their checkpoints.

    A partition is read by one owner at a time. Subscribing leases every partition no other owner holds (an
    expired lease is taken over); ``poll`` renews the leases when they are due and picks up partitions freed
    since. ``close`` releases the leases (use the subscription as a context manager)."""

    consumer: str
    owner: str

    @property
    def partitions(self) -> list[str]:
        """Partitions this subscription reads: leased and not yet read to their end (closed by a reshard)."""
        ...

    @property
    def lag(self) -> dict[str, int]:
        """Milliseconds each partition's last delivery was behind the newest record, as of the last poll."""
        ...

    @property
    def committed(self) -> dict[str, Checkpoint]:
        """The checkpoint of each leased partition as this subscription last read or wrote it."""
        ...

    def poll(self, limit: int = 1_000) -> list[Delivery]:
        """Up to ``limit`` deliveries from the leased partitions, in order within each partition."""
        ...

    def commit(self, positions: Mapping[str, str]) -> None:
        """Checkpoint each partition at a delivered position, once everything up to it is processed.

        :class:`LeaseHeldError` when the partition's lease was lost (it expired and another owner took it)."""
        ...

    def close(self) -> None:
        """Release the leases (idempotent); uncommitted deliveries go to the next owner again."""
        ...

    def __enter__(self) -> Subscription: ...

    def __exit__(self, *exc: object) -> None: ...


class EventStream(Protocol):
    """A partitioned stream, ordered within each partition."""

    name: str

    def put(self, records: Sequence[OutgoingEvent]) -> PutOutcome:
        """Send every record (batched, failed entries retried); raises an :class:`EventStreamError` if some
        never land (:class:`StreamNotFoundError`, :class:`StreamThrottledError`, ...)."""
        ...

    def subscribe(self, consumer: str, owner: str) -> Subscription:
        """Start reading as ``owner`` (one process) of ``consumer`` (one logical reader, e.g. one dataset's
        online-feature consumer), from the consumer's checkpoints. :class:`StreamNotFoundError` when the stream
        does not exist."""
        ...


class CheckpointStore(Protocol):
    """Checkpoints and leases per (consumer, partition), for streams that do not keep them (Kinesis).

    Every write is conditional on the lease, so two owners never both advance one partition."""

    def load(self, consumer: str) -> dict[str, Checkpoint]:
        """Every partition's checkpoint of ``consumer``."""
        ...

    def acquire(self, consumer: str, partition: str, owner: str, now: float, until: float) -> Checkpoint:
        """Lease (or renew) ``partition`` for ``owner`` until ``until``; the checkpoint as it stands.

        :class:`LeaseHeldError` when another owner's lease has not expired at ``now``."""
        ...

    def save(self, consumer: str, partition: str, owner: str, *, position: str, records: int, until: float) -> None:
        """Write the checkpoint and extend the lease; :class:`LeaseHeldError` unless ``owner`` holds it."""
        ...

    def release(self, consumer: str, partition: str, owner: str) -> None:
        """Give the lease up; a lease ``owner`` no longer holds is left alone."""
        ...
