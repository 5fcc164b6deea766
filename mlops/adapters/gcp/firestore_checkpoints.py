"""``CheckpointStore`` on Firestore: one document per (consumer, partition) in the collection named by the stack's
checkpoint table (``outputs.checkpoint_table``), as :mod:`mlops.adapters.aws.dynamodb_checkpoints` keeps them in
DynamoDB.

A document holds ``position`` (the last committed message), ``records`` (how many were committed in all) and the
lease (``lease_owner``, ``lease_expires`` in seconds since the epoch); its ``pending`` subcollection holds, in
order, the messages the owners pulled (and Pub/Sub considers acknowledged) but did not commit yet, so that the next
owner is handed them first. Every change runs in a Firestore transaction that reads the document first, so the
lease rules are those of the DynamoDB table's conditional writes: a lease is taken only when it is free, already
ours or expired; a checkpoint or a pending message is written only by the lease's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.ports.events import (
    Checkpoint,
    EventStreamError,
    LeaseHeldError,
    StreamThrottledError,
    StreamUnavailableError,
)

PENDING = "pending"
CHUNK_BYTES = 512 * 1024  # well under Firestore's 1 MiB per document


def _chunks(messages: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    size = CHUNK_BYTES
    for message in messages:
        weight = len(message["data"]) + len(message["key"]) + 64
        if size + weight > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += weight
    return chunks


def chunk_sizes(messages: Sequence[dict[str, Any]]) -> list[int]:
    """How many messages each stored chunk holds, in order."""
    return [len(chunk) for chunk in _chunks(messages)]


class FirestoreCheckpoints:
    """``CheckpointStore`` on a Firestore collection."""

    def __init__(self, clients: GcpClients, collection: str) -> None:
        self._clients = clients
        self.collection = collection

    def _ref(self, consumer: str, partition: str) -> Any:
        document = f"{quote(consumer, safe='')}#{quote(partition, safe='')}"
        return self._clients.firestore().collection(self.collection).document(document)

    def _error(self, action: str, exc: Exception) -> EventStreamError:
        where = f"checkpoint collection {self.collection!r}: {action}"
        if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted):
            return StreamThrottledError(f"{where} throttled: {exc}")
        if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
            return StreamUnavailableError(f"{where}: Firestore did not answer: {exc}")
        return EventStreamError(f"{where} failed: {exc}")

    def _run(self, action: str, change: Any) -> Any:
        """``change(transaction)`` in a Firestore transaction (retried by the client on contention)."""
        from google.cloud import firestore

        client = self._clients.firestore()
        try:
            return firestore.transactional(change)(client.transaction())
        except google_errors.GoogleAPIError as exc:
            raise self._error(action, exc) from exc

    def load(self, consumer: str) -> dict[str, Checkpoint]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        collection = self._clients.firestore().collection(self.collection)
        try:
            query = collection.where(filter=FieldFilter("consumer", "==", consumer))
            found = [d.to_dict() for d in query.stream()]
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"reading the checkpoints of consumer {consumer!r}", exc) from exc
        return {row["partition"]: _checkpoint(row) for row in found}

    def acquire(self, consumer: str, partition: str, owner: str, now: float, until: float) -> Checkpoint:
        ref = self._ref(consumer, partition)

        def change(transaction: Any) -> Checkpoint:
            row = ref.get(transaction=transaction).to_dict() or {"consumer": consumer, "partition": partition}
            holder, expires = row.get("lease_owner"), row.get("lease_expires")
            if holder not in (None, owner) and expires is not None and expires >= now:
                raise _held_error(self.collection, consumer, partition, owner, holder=holder, expires=expires)
            row.update(lease_owner=owner, lease_expires=until)
            transaction.set(ref, row)
            return _checkpoint(row)

        checkpoint: Checkpoint = self._run(f"leasing {consumer!r}/{partition!r} for {owner!r}", change)
        return checkpoint

    def append(self, consumer: str, partition: str, owner: str, messages: Sequence[dict[str, Any]]) -> list[str]:
        """Store pulled messages as pending, in chunks under Firestore's document size; the chunks' ids, in order.
        :class:`LeaseHeldError` (nothing stored) unless ``owner`` holds the lease."""
        chunks = _chunks(messages)
        ref = self._ref(consumer, partition)

        def change(transaction: Any) -> list[str]:
            row = self._owned(transaction, ref, consumer, partition, owner)
            first = int(row.get("chunks") or 0)
            ids = [f"{first + n:012d}" for n in range(len(chunks))]
            for chunk_id, chunk in zip(ids, chunks, strict=True):
                transaction.set(ref.collection(PENDING).document(chunk_id), {"messages": chunk})
            transaction.update(ref, {"chunks": first + len(chunks)})
            return ids

        stored: list[str] = self._run(
            f"storing {len(messages)} pulled message(s) of {consumer!r}/{partition!r}", change
        )
        return stored

    def pending(self, consumer: str, partition: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """The pending chunks (id, messages), oldest first."""
        ref = self._ref(consumer, partition).collection(PENDING)
        try:
            return [(d.id, list(d.to_dict()["messages"])) for d in ref.order_by("__name__").stream()]
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"reading the pending messages of {consumer!r}/{partition!r}", exc) from exc

    def save(
        self,
        consumer: str,
        partition: str,
        owner: str,
        *,
        position: str,
        records: int,
        until: float,
        done: Sequence[str] = (),
        partial: tuple[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Write the checkpoint and extend the lease; drop the pending chunks ``done`` and rewrite ``partial`` (a
        chunk committed in part) with what is left of it. :class:`LeaseHeldError` unless ``owner`` holds it."""
        ref = self._ref(consumer, partition)

        def change(transaction: Any) -> None:
            self._owned(transaction, ref, consumer, partition, owner)
            transaction.update(ref, {"position": position, "records": records, "lease_expires": until})
            for chunk_id in done:
                transaction.delete(ref.collection(PENDING).document(chunk_id))
            if partial is not None:
                transaction.set(ref.collection(PENDING).document(partial[0]), {"messages": partial[1]})

        self._run(f"writing checkpoint {consumer!r}/{partition!r} at {position!r}", change)

    def _owned(self, transaction: Any, ref: Any, consumer: str, partition: str, owner: str) -> dict[str, Any]:
        row: dict[str, Any] | None = ref.get(transaction=transaction).to_dict()
        holder = None if row is None else row.get("lease_owner")
        if row is None or holder != owner:
            expires = None if row is None else row.get("lease_expires")
            raise _held_error(self.collection, consumer, partition, owner, holder=holder, expires=expires)
        return row

    def release(self, consumer: str, partition: str, owner: str) -> None:
        ref = self._ref(consumer, partition)

        def change(transaction: Any) -> None:
            row = ref.get(transaction=transaction).to_dict()
            if row is not None and row.get("lease_owner") == owner:  # not ours any more: nothing to give up
                transaction.update(ref, {"lease_owner": None, "lease_expires": None})

        self._run(f"releasing {consumer!r}/{partition!r}", change)


def _held_error(
    collection: str, consumer: str, partition: str, owner: str, *, holder: Any, expires: Any
) -> LeaseHeldError:
    until = "" if expires is None else f" until {float(expires):.3f}"
    by = "nobody" if holder is None else repr(holder)
    return LeaseHeldError(
        f"checkpoint collection {collection!r}: consumer {consumer!r} partition {partition!r} is leased by {by}"
        f"{until}, not by {owner!r}"
    )


def _checkpoint(row: dict[str, Any]) -> Checkpoint:
    expires = row.get("lease_expires")
    return Checkpoint(
        partition=str(row["partition"]),
        position=row.get("position"),
        records=int(row.get("records") or 0),
        lease_owner=row.get("lease_owner"),
        lease_expires=None if expires is None else float(expires),
    )
