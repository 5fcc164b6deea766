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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from google.api_core import exceptions as google_errors

from mlops.adapters.eventlog import DEFAULT_LEASE_SECONDS, EntryFailure, put_with_retry
from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.firestore_checkpoints import FirestoreCheckpoints
from mlops.contracts import backoff
from mlops.ports.events import (
    EventStreamError,
    OutgoingEvent,
    PutOutcome,
    StreamNotFoundError,
    StreamUnavailableError,
)

if TYPE_CHECKING:
    from mlops.adapters.gcp.pubsub_subscription import PubSubSubscription

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
                raise stream_error(self.name, "listing its topics", exc) from exc
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
        from mlops.adapters.gcp.pubsub_subscription import PubSubSubscription

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
            raise stream_error(
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


def stream_error(stream: str, action: str, exc: Exception) -> EventStreamError:
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
