"""Event stream: put records in batches, read each shard in order from a checkpoint.

``EventStream`` is the interface; ``KinesisStream`` implements it on the stack's Kinesis stream
(``outputs.stream_name``) with a client from the :class:`~mlops.adapters.aws.clients.ClientFactory`.

Writes go through PutRecords in batches of at most 500 records and 5 MB (partition keys count towards the size,
as they do for Kinesis). PutRecords is not atomic: an answer with ``FailedRecordCount > 0`` marks the failed
entries (throttling, internal errors) and only those are sent again, with exponential backoff. Reads list the
shards, start each one after its checkpoint sequence number (``AFTER_SEQUENCE_NUMBER``) or at the oldest record
(``TRIM_HORIZON``), and page through it with the shard iterator, so records come back in order per shard.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import StreamError

MAX_BATCH_RECORDS = 500  # PutRecords limit
MAX_BATCH_BYTES = 5 * 1024 * 1024  # PutRecords limit, data and partition keys together
MAX_RECORD_BYTES = 1024 * 1024  # one record's data and partition key
MAX_GET_RECORDS = 10_000  # GetRecords limit


@dataclass(frozen=True)
class OutgoingRecord:
    """A record to put: its partition key (the entity key, so one entity's events stay in order) and data."""

    partition_key: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode())


@dataclass(frozen=True)
class StreamRecord:
    """A record read from a shard."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes


@dataclass(frozen=True)
class ShardPage:
    """One GetRecords answer: the records, where to read next (``None``: the shard is closed) and the lag."""

    records: list[StreamRecord]
    next_iterator: str | None
    millis_behind_latest: int


@dataclass
class PutOutcome:
    """What a put sent: records accepted, PutRecords calls made, failed entries that were sent again."""

    sent: int = 0
    calls: int = 0
    retried: int = 0


class EventStream(Protocol):
    """A sharded, ordered-per-shard event stream."""

    name: str

    def put(self, records: Sequence[OutgoingRecord]) -> PutOutcome:
        """Send every record (batched, failed entries retried); raises :class:`StreamError` if some never land."""
        ...

    def shard_ids(self) -> list[str]:
        """The stream's shards, in the order the service lists them."""
        ...

    def iterator(self, shard_id: str, after_sequence: str | None) -> str:
        """An iterator just after ``after_sequence``, or at the oldest record when it is ``None``."""
        ...

    def get(self, shard_id: str, iterator: str, limit: int) -> ShardPage:
        """Up to ``limit`` records of shard ``shard_id`` from ``iterator``, in order."""
        ...


def put_batches(records: Sequence[OutgoingRecord]) -> Iterator[list[OutgoingRecord]]:
    """``records`` in order, cut into PutRecords batches of <= 500 records and <= 5 MB; oversize records fail."""
    batch: list[OutgoingRecord] = []
    size = 0
    for number, record in enumerate(records):
        if record.size > MAX_RECORD_BYTES:
            raise StreamError(
                f"record {number} (partition key {record.partition_key!r}) is {record.size} bytes; "
                f"a stream record holds at most {MAX_RECORD_BYTES}"
            )
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + record.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))


@dataclass
class KinesisStream:
    """``EventStream`` on a Kinesis data stream."""

    clients: ClientFactory
    name: str
    max_attempts: int = 8
    sleep: Callable[[int], None] = field(default=_backoff, repr=False)

    def put(self, records: Sequence[OutgoingRecord]) -> PutOutcome:
        outcome = PutOutcome()
        client = self.clients.client("kinesis")
        for batch in put_batches(records):
            pending = batch
            for attempt in range(self.max_attempts):
                answer = client.put_records(
                    StreamName=self.name,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
                )
                outcome.calls += 1
                failed = _failed_entries(pending, answer)
                outcome.sent += len(pending) - len(failed)
                if not failed:
                    break
                outcome.retried += len(failed)
                pending = [record for record, _ in failed]
                self.sleep(attempt)
            else:
                record, error = failed[0]
                raise StreamError(
                    f"stream {self.name!r}: {len(failed)} record(s) still failed after {self.max_attempts} "
                    f"PutRecords attempts; first: partition key {record.partition_key!r}: {error}"
                )
        return outcome

    def shard_ids(self) -> list[str]:
        client = self.clients.client("kinesis")
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": self.name}
        while True:
            try:
                answer = client.list_shards(**kwargs)
            except client.exceptions.ResourceNotFoundException as exc:
                raise StreamError(f"stream {self.name!r} does not exist") from exc
            shards += [shard["ShardId"] for shard in answer["Shards"]]
            token = answer.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}  # ListShards refuses StreamName together with NextToken

    def iterator(self, shard_id: str, after_sequence: str | None) -> str:
        client = self.clients.client("kinesis")
        kwargs: dict[str, Any] = {"StreamName": self.name, "ShardId": shard_id}
        if after_sequence is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after_sequence)
        try:
            return str(client.get_shard_iterator(**kwargs)["ShardIterator"])
        except client.exceptions.ResourceNotFoundException as exc:
            raise StreamError(f"stream {self.name!r} has no shard {shard_id!r}") from exc

    def get(self, shard_id: str, iterator: str, limit: int) -> ShardPage:
        client = self.clients.client("kinesis")
        try:
            answer = client.get_records(ShardIterator=iterator, Limit=max(1, min(limit, MAX_GET_RECORDS)))
        except client.exceptions.ExpiredIteratorException as exc:
            raise StreamError(f"stream {self.name!r} shard {shard_id!r}: the shard iterator expired") from exc
        records = [
            StreamRecord(shard_id, str(r["SequenceNumber"]), str(r["PartitionKey"]), bytes(r["Data"]))
            for r in answer["Records"]
        ]
        return ShardPage(records, answer.get("NextShardIterator"), int(answer.get("MillisBehindLatest", 0)))


def _failed_entries(sent: list[OutgoingRecord], answer: dict[str, Any]) -> list[tuple[OutgoingRecord, str]]:
    """The entries of a PutRecords answer that carry an error code (the answer lists entries in request order)."""
    if not answer.get("FailedRecordCount"):
        return []
    return [
        (record, f"{entry['ErrorCode']}: {entry.get('ErrorMessage', '')}")
        for record, entry in zip(sent, answer["Records"], strict=True)
        if entry.get("ErrorCode")
    ]


class ShardReader:
    """Reads every shard of a stream in order, each from its checkpoint (``{shard_id: sequence_number}``).

    A shard with a checkpoint resumes just after it; one without starts at the oldest record. ``poll`` reads one
    page from each open shard; ``lag`` holds each shard's last ``MillisBehindLatest``; a shard whose next
    iterator is ``None`` (closed after a reshard and read to its end) is dropped.
    """

    def __init__(self, stream: EventStream, checkpoints: dict[str, str], page_size: int = 1_000) -> None:
        self.stream = stream
        self.page_size = page_size
        self.lag: dict[str, int] = {}
        self._iterators: dict[str, str] = {
            shard: stream.iterator(shard, checkpoints.get(shard)) for shard in stream.shard_ids()
        }

    @property
    def open_shards(self) -> list[str]:
        return list(self._iterators)

    def poll(self, limit: int | None = None) -> list[ShardPage]:
        """One page from each open shard (at most ``limit`` records in all), records in order per shard."""
        pages: list[ShardPage] = []
        left = sys.maxsize if limit is None else limit
        for shard, iterator in list(self._iterators.items()):
            if left <= 0:
                break
            page = self.stream.get(shard, iterator, min(self.page_size, left))
            left -= len(page.records)
            self.lag[shard] = page.millis_behind_latest
            if page.next_iterator is None:
                del self._iterators[shard]
            else:
                self._iterators[shard] = page.next_iterator
            pages.append(page)
        return pages
