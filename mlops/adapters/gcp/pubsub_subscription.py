"""The reading side of the Pub/Sub event stream: one owner's :class:`PubSubSubscription` of a consumer, over the
partition subscriptions of :mod:`mlops.adapters.gcp.pubsub`, with leases, checkpoints and pending messages in
:mod:`mlops.adapters.gcp.firestore_checkpoints` (the mapping is described in the former's docstring)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as google_errors

from mlops.adapters.eventlog import RENEW_FRACTION, poll_order
from mlops.adapters.gcp.firestore_checkpoints import chunk_sizes
from mlops.adapters.gcp.pubsub import MAX_PULL, stream_error
from mlops.ports.events import Checkpoint, Delivery, EventStreamError, LeaseHeldError

if TYPE_CHECKING:
    from mlops.adapters.gcp.pubsub import PubSubStream


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
        order, self._turn = poll_order(list(self._held), self._turn)
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
            raise stream_error(self.stream.name, f"pulling {partition!r} for {self.consumer!r}", exc) from exc
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
            raise stream_error(self.stream.name, f"handing {len(ack_ids)} message(s) back", exc) from exc

    def _acknowledge(self, path: str, ack_ids: list[str]) -> None:
        try:
            self.stream.clients.subscriber().acknowledge(request={"subscription": path, "ack_ids": ack_ids})
        except google_errors.GoogleAPIError as exc:  # stored as pending but not acked: redelivered (at-least-once)
            raise stream_error(self.stream.name, f"acknowledging {len(ack_ids)} message(s)", exc) from exc

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
    owners: list[str] = []
    for chunk_id, size in zip(chunks, chunk_sizes(messages), strict=True):
        owners += [chunk_id] * size
    return owners
