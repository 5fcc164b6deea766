"""``EventStream`` on Pub/Sub: a stream is a set of partition topics, read per consumer through one subscription
per partition, leases and checkpoints in Firestore (:mod:`mlops.adapters.gcp.firestore_checkpoints`).

How the port maps onto Pub/Sub:

- **partition** = one topic ``<stream>.partition-NNNN``; a record goes to the topic its key hashes to (MD5, as
  Kinesis and the in-memory fake map keys), published with the key as its **ordering key**, so one entity's records
  stay in order. The stream's partitions are the topics with that prefix (:func:`create_stream` makes them, with
  message retention, so a consumer created later still reads from the start).
- **consumer** = one subscription per partition, ``<topic>.<consumer>`` (message ordering on), created on first
  subscribe; on Google Cloud it is then sought back over the topic's retention (the emulator has no ``Seek``: it
  hands a new subscription the retained messages itself).
- **position** = the message id. A poll pulls from the partition's subscription, stores the messages as pending
  with the checkpoint (conditional on the lease), and only then acknowledges them to Pub/Sub: an ordered
  subscription hands out a key's next messages only once the earlier ones are acknowledged, while the port lets a
  consumer read far ahead of its commits. **commit** writes the checkpoint and drops the pending messages up to the
  position, in one transaction; the next owner of the partition is handed what is still pending first, then new
  messages (at-least-once, as on Kinesis: a crash between storing and acknowledging delivers a message twice).
- **lease** = the Firestore checkpoint's lease, with the port's rules. A poll whose lease was lost stores nothing
  and hands its pulled messages back to Pub/Sub (ack deadline 0) for the new owner.

Puts go in batches of at most 500 messages; a message the service refuses is sent again alone, with backoff
(Pub/Sub's publisher pauses an ordering key after a failure: it is resumed before the retry).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.eventlog import DEFAULT_LEASE_SECONDS, RENEW_FRACTION, EntryFailure, put_with_retry
from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.firestore_checkpoints import FirestoreCheckpoints
from mlops.contracts import backoff
from mlops.ports.events import (
    Checkpoint,
    Delivery,
    EventStreamError,
    LeaseHeldError,
    OutgoingEvent,
    PutOutcome,
    StreamNotFoundError,
    StreamUnavailableError,
)

MAX_BATCH_RECORDS = 500
MAX_RECORD_BYTES = 10 * 1024 * 1024  # Pub/Sub's limit per message
MAX_PULL = 1_000
ACK_DEADLINE_SECONDS = 600  # the longest Pub/Sub allows: the Firestore lease, not the deadline, decides ownership
RETENTION = timedelta(days=7)
PARTITION_PREFIX = "partition-"


def partition_name(number: int) -> str:
    return f"{PARTITION_PREFIX}{number:04d}"


def create_stream(clients: GcpClients, name: str, partitions: int, retention: timedelta = RETENTION) -> None:
    """The stream's partition topics, with message retention (what the infra program declares)."""
    from google.protobuf import duration_pb2

    publisher = clients.publisher()
    for number in range(partitions):
        topic = publisher.topic_path(clients.project, f"{name}.{partition_name(number)}")
        keep = duration_pb2.Duration(seconds=int(retention.total_seconds()))
        try:
            publisher.create_topic(request={"name": topic, "message_retention_duration": keep})
        except google_errors.AlreadyExists:
            continue


def _index(key: str, count: int) -> int:
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big") % count


@dataclass
class PubSubStream:
    """``EventStream`` on the partition topics of stream ``name``."""

    clients: GcpClients
    name: str
    checkpoints: FirestoreCheckpoints
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    clock: Callable[[], float] = field(default=time.time, repr=False)
    max_attempts: int = 8
    sleep: Callable[[int], None] = field(default=backoff, repr=False)
    _partitions: list[str] | None = field(default=None, init=False, repr=False)

    def topic(self, partition: str) -> str:
        return str(self.clients.publisher().topic_path(self.clients.project, f"{self.name}.{partition}"))

    def partitions(self) -> list[str]:
        """The stream's partitions (its topics), sorted; :class:`StreamNotFoundError` when it has none."""
        if self._partitions is None:
            project = f"projects/{self.clients.project}"
            prefix = f"{project}/topics/{self.name}."
            try:
                topics = list(self.clients.publisher().list_topics(request={"project": project}))
            except google_errors.GoogleAPIError as exc:
                raise _error(self.name, "listing its topics", exc) from exc
            named = (t.name.removeprefix(prefix) for t in topics if t.name.startswith(prefix + PARTITION_PREFIX))
            self._partitions = sorted(named)
        if not self._partitions:
            raise StreamNotFoundError(f"stream {self.name!r} does not exist (no topic {self.name}.{PARTITION_PREFIX}*)")
        return self._partitions

    def put(self, records: Sequence[OutgoingEvent]) -> PutOutcome:
        partitions = self.partitions()
        return put_with_retry(
            self.name,
            _batches(self.name, records),
            lambda b: self._publish(b, partitions),
            self.max_attempts,
            self.sleep,
        )

    def _publish(self, batch: list[OutgoingEvent], partitions: list[str]) -> list[EntryFailure | None]:
        publisher = self.clients.publisher()
        topics = [self.topic(partitions[_index(r.key, len(partitions))]) for r in batch]
        futures = [publisher.publish(t, r.data, ordering_key=r.key) for t, r in zip(topics, batch, strict=True)]
        results: list[EntryFailure | None] = []
        for topic, record, future in zip(topics, batch, futures, strict=True):
            try:
                future.result(timeout=60)
                results.append(None)
            except google_errors.NotFound as exc:
                raise StreamNotFoundError(
                    f"stream {self.name!r} does not exist (publishing to {topic}: {exc})"
                ) from exc
            except google_errors.GoogleAPICallError as exc:
                publisher.resume_publish(topic, record.key)  # the publisher paused the key after the failure
                results.append(EntryFailure(type(exc).__name__, str(exc.message)))
            except Exception as exc:  # the publisher's own errors (e.g. a paused key): sent again like the rest
                publisher.resume_publish(topic, record.key)
                results.append(EntryFailure(type(exc).__name__, str(exc)))
        return results

    def subscribe(self, consumer: str, owner: str) -> PubSubSubscription:
        self.partitions()
        return PubSubSubscription(self, consumer, owner)

    def subscription_path(self, partition: str, consumer: str) -> str:
        """The consumer's subscription of one partition, created (and sought back) on first use."""
        subscriber = self.clients.subscriber()
        path = str(subscriber.subscription_path(self.clients.project, f"{self.name}.{partition}.{consumer}"))
        request = {
            "name": path,
            "topic": self.topic(partition),
            "enable_message_ordering": True,
            "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
        }
        try:
            subscriber.create_subscription(request=request)
        except google_errors.AlreadyExists:
            return path
        except google_errors.GoogleAPIError as exc:
            raise _error(
                self.name, f"creating the subscription of consumer {consumer!r} on {partition!r}", exc
            ) from exc
        self._seek_to_start(path)
        return path

    def _seek_to_start(self, path: str) -> None:
        from google.protobuf import timestamp_pb2

        start = timestamp_pb2.Timestamp()
        start.FromDatetime(datetime.now(UTC) - RETENTION)
        try:
            self.clients.subscriber().seek(request={"subscription": path, "time": start})
        except google_errors.MethodNotImplemented:
            return  # the emulator: it delivers a new subscription the topic's retained messages without a seek


def _error(stream: str, action: str, exc: Exception) -> EventStreamError:
    if isinstance(exc, google_errors.NotFound):
        return StreamNotFoundError(f"stream {stream!r} does not exist ({action}: {exc})")
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return StreamUnavailableError(f"stream {stream!r}: {action}: Pub/Sub did not answer: {exc}")
    return EventStreamError(f"stream {stream!r}: {action} failed: {exc}")


def _batches(stream: str, records: Sequence[OutgoingEvent]) -> Iterator[list[OutgoingEvent]]:
    for number, record in enumerate(records):
        if record.size > MAX_RECORD_BYTES:
            raise EventStreamError(
                f"stream {stream!r}: record {number} (key {record.key!r}) is {record.size} bytes; a Pub/Sub "
                f"message holds at most {MAX_RECORD_BYTES}"
            )
    for start in range(0, len(records), MAX_BATCH_RECORDS):
        yield list(records[start : start + MAX_BATCH_RECORDS])


@dataclass
class _Held:
    """A leased partition: its subscription, checkpoint, what is pending from earlier owners and what was
    delivered since the last commit (each with the pending chunk that holds it)."""

    path: str
    checkpoint: Checkpoint
    backlog: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (message, chunk id)
    backlog_chunks: list[str] = field(default_factory=list)


def _delivery(partition: str, message: dict[str, Any]) -> Delivery:
    return Delivery(partition, str(message["id"]), str(message["key"]), bytes(message["data"]))


@dataclass
class PubSubSubscription:
    """``Subscription`` of one owner of ``consumer`` (see the module docstring)."""

    stream: PubSubStream
    consumer: str
    owner: str
    _held: dict[str, _Held] = field(default_factory=dict, init=False)
    _lag: dict[str, int] = field(default_factory=dict, init=False)
    _renew_at: float = field(default=0.0, init=False)
    _turn: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._claim()

    @property
    def partitions(self) -> list[str]:
        return list(self._held)

    @property
    def lag(self) -> dict[str, int]:
        return dict(self._lag)

    @property
    def committed(self) -> dict[str, Checkpoint]:
        return {p: held.checkpoint for p, held in self._held.items()}

    def _until(self, now: float) -> float:
        return now + self.stream.lease_seconds

    def _claim(self) -> None:
        now = self.stream.clock()
        checkpoints = self.stream.checkpoints
        for partition in self.stream.partitions():
            if partition in self._held:
                continue
            try:
                checkpoint = checkpoints.acquire(self.consumer, partition, self.owner, now, self._until(now))
            except LeaseHeldError:
                continue
            held = _Held(self.stream.subscription_path(partition, self.consumer), checkpoint)
            for chunk_id, messages in checkpoints.pending(self.consumer, partition):
                held.backlog += [dict(m, chunk=chunk_id) for m in messages]
            self._held[partition] = held
        self._renew_at = now + self.stream.lease_seconds * RENEW_FRACTION

    def _renew(self) -> None:
        now = self.stream.clock()
        for partition in list(self._held):
            try:
                self.stream.checkpoints.acquire(self.consumer, partition, self.owner, now, self._until(now))
            except LeaseHeldError:
                self._held.pop(partition)  # its pending messages are the new owner's now
        self._claim()

    def _check_open(self) -> None:
        if self._closed:
            raise EventStreamError(
                f"stream {self.stream.name!r}: the subscription of consumer {self.consumer!r} (owner "
                f"{self.owner!r}) is closed"
            )

    def poll(self, limit: int = 1_000) -> list[Delivery]:
        self._check_open()
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if self.stream.clock() >= self._renew_at:
            self._renew()
        order = list(self._held)
        if order:  # start at a different partition each poll, so a small limit does not starve the last ones
            self._turn %= len(order)
            order = order[self._turn :] + order[: self._turn]
            self._turn += 1
        deliveries: list[Delivery] = []
        for partition in order:
            left = limit - len(deliveries)
            if left <= 0:
                break
            deliveries += self._read(partition, left)
        return deliveries

    def _read(self, partition: str, limit: int) -> list[Delivery]:
        """What earlier owners left pending first, then new messages from the subscription."""
        held = self._held[partition]
        if held.backlog:
            taken, held.backlog = held.backlog[:limit], held.backlog[limit:]
            held.delivered += [(m, str(m.pop("chunk"))) for m in taken]
            return [_delivery(partition, m) for m in taken]
        return self._pull(partition, held, min(limit, MAX_PULL))

    def _pull(self, partition: str, held: _Held, limit: int) -> list[Delivery]:
        subscriber = self.stream.clients.subscriber()
        request = {"subscription": held.path, "max_messages": limit, "return_immediately": True}
        try:
            with warnings.catch_warnings():  # deprecated for streaming pulls; a poll must not wait for messages
                warnings.simplefilter("ignore", DeprecationWarning)
                received = list(subscriber.pull(request=request, timeout=30).received_messages)
        except google_errors.DeadlineExceeded:
            return []
        except google_errors.GoogleAPIError as exc:
            raise _error(self.stream.name, f"pulling {partition!r} for {self.consumer!r}", exc) from exc
        if not received:
            return []
        messages = [
            {"id": r.message.message_id, "key": r.message.ordering_key, "data": bytes(r.message.data)} for r in received
        ]
        ack_ids = [r.ack_id for r in received]
        try:
            chunks = self.stream.checkpoints.append(self.consumer, partition, self.owner, messages)
        except LeaseHeldError:
            self._hand_back(held.path, ack_ids)
            self._held.pop(partition)
            return []
        self._acknowledge(held.path, ack_ids)
        held.delivered += list(zip(messages, _chunk_of_each(messages, chunks), strict=True))
        newest = received[-1].message.publish_time
        self._lag[partition] = max(0, round((datetime.now(UTC) - newest).total_seconds() * 1000))
        return [_delivery(partition, m) for m in messages]

    def _hand_back(self, path: str, ack_ids: Sequence[str]) -> None:
        request = {"subscription": path, "ack_ids": list(ack_ids), "ack_deadline_seconds": 0}
        try:
            self.stream.clients.subscriber().modify_ack_deadline(request=request)
        except google_errors.GoogleAPIError as exc:
            raise _error(self.stream.name, f"handing {len(ack_ids)} message(s) back", exc) from exc

    def _acknowledge(self, path: str, ack_ids: list[str]) -> None:
        try:
            self.stream.clients.subscriber().acknowledge(request={"subscription": path, "ack_ids": ack_ids})
        except google_errors.GoogleAPIError as exc:  # stored as pending but not acked: redelivered (at-least-once)
            raise _error(self.stream.name, f"acknowledging {len(ack_ids)} message(s)", exc) from exc

    def commit(self, positions: Mapping[str, str]) -> None:
        self._check_open()
        now = self.stream.clock()
        for partition, position in positions.items():
            held = self._held.get(partition)
            if held is None:
                raise LeaseHeldError(
                    f"stream {self.stream.name!r} partition {partition!r}: consumer {self.consumer!r} owner "
                    f"{self.owner!r} holds no lease on it (never leased, or lost to another owner)"
                )
            ids = [str(m["id"]) for m, _ in held.delivered]
            if position not in ids:
                raise EventStreamError(
                    f"stream {self.stream.name!r} partition {partition!r}: position {position!r} was not delivered "
                    f"to consumer {self.consumer!r} since its last commit"
                )
            self._commit(partition, held, ids.index(position) + 1, now)

    def _commit(self, partition: str, held: _Held, count: int, now: float) -> None:
        done, rest = held.delivered[:count], held.delivered[count:]
        pending = rest + [(m, str(m["chunk"])) for m in held.backlog]
        still = {chunk for _, chunk in pending}
        finished = sorted({chunk for _, chunk in done} - still)
        split = done[-1][1]
        partial = None
        if split in still:  # the chunk of the last committed message holds later ones: keep only those
            partial = (split, [_stored(m) for m, chunk in pending if chunk == split])
        position = str(done[-1][0]["id"])
        records = held.checkpoint.records + count
        try:
            self.stream.checkpoints.save(
                self.consumer,
                partition,
                self.owner,
                position=position,
                records=records,
                until=self._until(now),
                done=finished,
                partial=partial,
            )
        except LeaseHeldError:
            self._held.pop(partition)
            raise
        held.delivered = rest
        held.checkpoint = Checkpoint(partition, position, records, self.owner, self._until(now))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        failure: EventStreamError | None = None
        for partition in list(self._held):
            try:  # what was not committed stays pending for the next owner
                self.stream.checkpoints.release(self.consumer, partition, self.owner)
            except EventStreamError as exc:
                failure = failure or exc
            self._held.pop(partition)
        if failure is not None:
            raise failure

    def __enter__(self) -> PubSubSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stored(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "chunk"}


def _chunk_of_each(messages: Sequence[dict[str, Any]], chunks: list[str]) -> list[str]:
    """The chunk id each message was stored in (``append`` cuts them in order, as :func:`chunk_sizes` says)."""
    from mlops.adapters.gcp.firestore_checkpoints import chunk_sizes

    owners: list[str] = []
    for chunk_id, size in zip(chunks, chunk_sizes(messages), strict=True):
        owners += [chunk_id] * size
    return owners
