"""``EventStream`` on a Kinesis data stream (``outputs.stream_name``), checkpoints and leases in a
:class:`~mlops.ports.events.CheckpointStore` (DynamoDB on AWS: :mod:`mlops.adapters.aws.dynamodb_checkpoints`).

Writes go through PutRecords in batches of at most 500 records and 5 MB (partition keys count towards the size,
as they do for Kinesis). PutRecords is not atomic: an answer with ``FailedRecordCount > 0`` marks the failed
entries (throttling, internal errors) and only those are sent again, with exponential backoff. Reads list the
shards (ListShards), open each leased one after its checkpoint (``AFTER_SEQUENCE_NUMBER``) or at the oldest record
(``TRIM_HORIZON``) and page through it with GetRecords; shard iterators never leave this module. An iterator
that expires (they live 5 minutes) is re-opened after the last record read; a second expiry is an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.eventlog import (
    DEFAULT_LEASE_SECONDS,
    THROTTLING_CODES,
    EntryFailure,
    LeasedSubscription,
    Page,
    put_with_retry,
)
from mlops.contracts import backoff
from mlops.ports.events import (
    CheckpointStore,
    Delivery,
    EventStreamError,
    OutgoingEvent,
    PositionExpiredError,
    PutOutcome,
    StreamNotFoundError,
    StreamThrottledError,
    StreamUnavailableError,
)

MAX_BATCH_RECORDS = 500  # PutRecords limit
MAX_BATCH_BYTES = 5 * 1024 * 1024  # PutRecords limit, data and partition keys together
MAX_RECORD_BYTES = 1024 * 1024  # one record's data and partition key
MAX_GET_RECORDS = 10_000  # GetRecords limit


def put_batches(stream: str, records: Sequence[OutgoingEvent]) -> Iterator[list[OutgoingEvent]]:
    """``records`` in order, cut into PutRecords batches of <= 500 records and <= 5 MB; oversize records fail."""
    batch: list[OutgoingEvent] = []
    size = 0
    for number, record in enumerate(records):
        if record.size > MAX_RECORD_BYTES:
            raise EventStreamError(
                f"stream {stream!r}: record {number} (partition key {record.key!r}) is {record.size} bytes; "
                f"a stream record holds at most {MAX_RECORD_BYTES}"
            )
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + record.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


def stream_error(stream: str, action: str, exc: Exception) -> EventStreamError:
    """The port's error for a failed Kinesis call, named by condition, naming the stream and what was done."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        detail = f"{code}: {error.get('Message', '') or exc}"
        if code == "ResourceNotFoundException":
            return StreamNotFoundError(f"stream {stream!r} does not exist ({action}: {detail})")
        if code == "ExpiredIteratorException":
            return PositionExpiredError(f"stream {stream!r}: {action}: the read position expired ({detail})")
        if code in THROTTLING_CODES or code == "KMSThrottlingException":
            return StreamThrottledError(f"stream {stream!r}: {action} throttled after retries ({detail})")
        return EventStreamError(f"stream {stream!r}: {action} failed: {detail}")
    return StreamUnavailableError(f"stream {stream!r}: {action}: Kinesis did not answer: {exc}")


@dataclass
class KinesisStream:
    """``EventStream`` on a Kinesis data stream; subscriptions lease shards in ``checkpoints``."""

    clients: ClientFactory
    name: str
    checkpoints: CheckpointStore
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    clock: Callable[[], float] = field(default=time.time, repr=False)
    max_attempts: int = 8
    sleep: Callable[[int], None] = field(default=backoff, repr=False)

    def _client(self) -> Any:
        return self.clients.client("kinesis")

    def put(self, records: Sequence[OutgoingEvent]) -> PutOutcome:
        return put_with_retry(
            self.name, put_batches(self.name, records), self._put_batch, self.max_attempts, self.sleep
        )

    def _put_batch(self, batch: list[OutgoingEvent]) -> list[EntryFailure | None]:
        try:
            answer = self._client().put_records(
                StreamName=self.name, Records=[{"Data": r.data, "PartitionKey": r.key} for r in batch]
            )
        except (ClientError, BotoCoreError) as exc:
            raise stream_error(self.name, f"PutRecords of {len(batch)} record(s)", exc) from exc
        if not answer.get("FailedRecordCount"):
            return [None] * len(batch)
        # the answer lists one entry per request entry, in request order
        return [
            EntryFailure(str(entry["ErrorCode"]), str(entry.get("ErrorMessage", "")))
            if entry.get("ErrorCode")
            else None
            for entry in answer["Records"]
        ]

    def subscribe(self, consumer: str, owner: str) -> LeasedSubscription:
        return LeasedSubscription(_ShardLog(self), self.checkpoints, consumer, owner, self.lease_seconds, self.clock)

    def shard_ids(self) -> list[str]:
        """The stream's shards, in the order ListShards gives them (all pages)."""
        client = self._client()
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": self.name}
        while True:
            try:
                answer = client.list_shards(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise stream_error(self.name, "ListShards", exc) from exc
            shards += [shard["ShardId"] for shard in answer["Shards"]]
            token = answer.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}  # ListShards refuses StreamName together with NextToken

    def iterator(self, shard_id: str, after_sequence: str | None) -> str:
        """A shard iterator just after ``after_sequence``, or at the oldest record when it is ``None``."""
        kwargs: dict[str, Any] = {"StreamName": self.name, "ShardId": shard_id}
        if after_sequence is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after_sequence)
        try:
            return str(self._client().get_shard_iterator(**kwargs)["ShardIterator"])
        except (ClientError, BotoCoreError) as exc:
            raise stream_error(self.name, f"GetShardIterator of shard {shard_id!r}", exc) from exc

    def get_records(self, shard_id: str, iterator: str, limit: int) -> dict[str, Any]:
        """One GetRecords answer (at most ``limit`` records, capped at the service's 10,000)."""
        try:
            answer: dict[str, Any] = self._client().get_records(
                ShardIterator=iterator, Limit=max(1, min(limit, MAX_GET_RECORDS))
            )
        except (ClientError, BotoCoreError) as exc:
            raise stream_error(self.name, f"GetRecords of shard {shard_id!r}", exc) from exc
        return answer


@dataclass
class _ShardLog:
    """The stream as a :class:`~mlops.adapters.eventlog.PartitionLog`: partitions are shards."""

    stream: KinesisStream

    @property
    def name(self) -> str:
        return self.stream.name

    def partitions(self) -> list[str]:
        return self.stream.shard_ids()

    def reader(self, partition: str, after: str | None) -> ShardReader:
        return ShardReader(self.stream, partition, after)


@dataclass
class ShardReader:
    """Pages through one shard with its iterator (opened on the first read, re-opened once if it expires)."""

    stream: KinesisStream
    shard_id: str
    last: str | None
    _iterator: str | None = field(default=None, init=False)

    def read(self, limit: int) -> Page:
        if self._iterator is None:
            self._iterator = self.stream.iterator(self.shard_id, self.last)
        try:
            answer = self.stream.get_records(self.shard_id, self._iterator, limit)
        except PositionExpiredError:
            self._iterator = self.stream.iterator(self.shard_id, self.last)
            answer = self.stream.get_records(self.shard_id, self._iterator, limit)
        deliveries = [
            Delivery(self.shard_id, str(r["SequenceNumber"]), str(r["PartitionKey"]), bytes(r["Data"]))
            for r in answer["Records"]
        ]
        if deliveries:
            self.last = deliveries[-1].position
        self._iterator = answer.get("NextShardIterator")
        ended = self._iterator is None  # a closed shard (after a reshard) read to its end
        return Page(deliveries, ended, int(answer.get("MillisBehindLatest", 0)))
