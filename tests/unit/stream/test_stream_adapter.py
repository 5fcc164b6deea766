"""The Kinesis adapter's own logic, on a scripted client: batching into PutRecords limits, retry of only the
failed entries with backoff, shard iterators opened from checkpoints, paging, lag, expired iterators, closed
shards and service errors mapped to the port's conditions. (The port's behaviour on real Kinesis APIs is in
tests/contract/test_events.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from mlops.adapters.aws.kinesis import MAX_BATCH_BYTES, KinesisStream, put_batches
from mlops.adapters.memory.events import MemoryCheckpoints
from mlops.errors import StreamError
from mlops.ports.errors import ExpiredError, NotFoundError, ThrottledError, UnavailableError
from mlops.ports.events import (
    EventStreamError,
    OutgoingEvent,
    PositionExpiredError,
    StreamNotFoundError,
    StreamThrottledError,
    StreamUnavailableError,
)


def test_batches_hold_at_most_500_records() -> None:
    records = [OutgoingEvent(f"k{i}", b"x") for i in range(1_201)]
    assert [len(batch) for batch in put_batches("events", records)] == [500, 500, 201]


def test_batches_hold_at_most_5_mb_counting_partition_keys() -> None:
    # 6 records of 1 MB minus the key: five fill a batch to exactly 5 MB, the sixth starts the next
    records = [OutgoingEvent("k", b"x" * (1024 * 1024 - 1)) for _ in range(6)]
    batches = list(put_batches("events", records))
    assert [len(batch) for batch in batches] == [5, 1]
    assert sum(r.size for r in batches[0]) == MAX_BATCH_BYTES


def test_an_oversize_record_is_refused_by_number() -> None:
    records = [OutgoingEvent("a", b"x"), OutgoingEvent("big", b"x" * (1024 * 1024))]
    with pytest.raises(EventStreamError, match=r"^stream 'events': record 1 \(partition key 'big'\) is 1048579 bytes"):
        list(put_batches("events", records))


def _client_error(code: str, operation: str, message: str = "scripted") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _ScriptedKinesis:
    """Two shards of numbered records; an iterator is ``<shard>:<index>:<generation>``. ``expire`` makes
    the next GetRecords calls raise ExpiredIteratorException; a shard in ``closed`` ends after its records."""

    def __init__(self) -> None:
        self.data = {"shard-a": ["1", "2", "3"], "shard-b": ["10", "20"]}
        self.closed: set[str] = set()
        self.opened: list[tuple[str, str, str | None]] = []
        self.expire = 0
        self.fail: set[bytes] = set()
        self.fail_times = 0
        self.sent: dict[bytes, int] = {}
        self.put_calls: list[list[bytes]] = []
        self.error: Exception | None = None

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.put_calls.append([r["Data"] for r in Records])
        entries: list[dict[str, Any]] = []
        for record in Records:
            count = self.sent[record["Data"]] = self.sent.get(record["Data"], 0) + 1
            if record["Data"] in self.fail and count <= self.fail_times:
                entries.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                entries.append({"SequenceNumber": str(len(self.put_calls)), "ShardId": "shard-a"})
        return {"FailedRecordCount": sum("ErrorCode" in e for e in entries), "Records": entries}

    def list_shards(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"Shards": [{"ShardId": shard} for shard in self.data]}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        shard, kind, after = kwargs["ShardId"], kwargs["ShardIteratorType"], kwargs.get("StartingSequenceNumber")
        self.opened.append((shard, kind, after))
        start = 0 if after is None else self.data[shard].index(after) + 1
        return {"ShardIterator": f"{shard}:{start}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        if self.expire:
            self.expire -= 1
            raise _client_error("ExpiredIteratorException", "GetRecords", "Iterator expired")
        shard, start = ShardIterator.split(":")
        numbers = self.data[shard][int(start) : int(start) + Limit]
        records = [{"SequenceNumber": n, "PartitionKey": "k", "Data": n.encode()} for n in numbers]
        end = int(start) + len(numbers)
        behind = len(self.data[shard]) - end
        done = shard in self.closed and end == len(self.data[shard])
        return {
            "Records": records,
            "NextShardIterator": None if done else f"{shard}:{end}",
            "MillisBehindLatest": behind * 1000,
        }


class _Clients:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str) -> Any:
        assert service == "kinesis"
        return self._client


def _stream(fake: _ScriptedKinesis, checkpoints: MemoryCheckpoints | None = None) -> tuple[KinesisStream, list[int]]:
    sleeps: list[int] = []
    stream = KinesisStream(
        _Clients(fake),  # type: ignore[arg-type]
        "events",
        checkpoints or MemoryCheckpoints(),
        clock=lambda: 1_000.0,
        max_attempts=3,
        sleep=sleeps.append,
    )
    return stream, sleeps


def test_only_failed_entries_are_sent_again_with_backoff() -> None:
    fake = _ScriptedKinesis()
    fake.fail, fake.fail_times = {b"2", b"4"}, 2
    stream, sleeps = _stream(fake)
    outcome = stream.put([OutgoingEvent(str(i), str(i).encode()) for i in range(6)])
    assert fake.put_calls == [[b"0", b"1", b"2", b"3", b"4", b"5"], [b"2", b"4"], [b"2", b"4"]]
    assert (outcome.sent, outcome.calls, outcome.retried) == (6, 3, 4)
    assert sleeps == [0, 1]


def test_entries_failing_every_attempt_raise_throttled_naming_the_record() -> None:
    fake = _ScriptedKinesis()
    fake.fail, fake.fail_times = {b"1"}, 99
    stream, _ = _stream(fake)
    with pytest.raises(StreamThrottledError) as error:
        stream.put([OutgoingEvent("a", b"0"), OutgoingEvent("b", b"1")])
    assert str(error.value) == (
        "stream 'events': 1 record(s) still failed after 3 put attempts; first: partition key 'b': "
        "ProvisionedThroughputExceededException: slow down"
    )
    assert isinstance(error.value, StreamError)  # existing `except StreamError` keeps catching it


@pytest.mark.parametrize(
    ("error", "kind", "condition", "message"),
    [
        (
            _client_error("ResourceNotFoundException", "PutRecords"),
            StreamNotFoundError,
            NotFoundError,
            "does not exist",
        ),
        (
            _client_error("ProvisionedThroughputExceededException", "PutRecords"),
            StreamThrottledError,
            ThrottledError,
            "throttled after retries",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            StreamUnavailableError,
            UnavailableError,
            "Kinesis did not answer",
        ),
    ],
)
def test_service_errors_are_named_by_condition(
    error: Exception, kind: type[Exception], condition: type[Exception], message: str
) -> None:
    fake = _ScriptedKinesis()
    fake.error = error
    stream, _ = _stream(fake)
    with pytest.raises(kind, match=message) as raised:
        stream.put([OutgoingEvent("a", b"1")])
    assert isinstance(raised.value, condition) and "stream 'events'" in str(raised.value)
    with pytest.raises(kind):
        stream.subscribe("c", "owner")


def _sequences(deliveries: list[Any]) -> list[str]:
    return [d.position for d in deliveries]


def test_shards_resume_after_their_checkpoint_and_unknown_ones_start_at_the_oldest_record() -> None:
    fake = _ScriptedKinesis()
    checkpoints = MemoryCheckpoints()
    checkpoints.acquire("c", "shard-a", "earlier", now=0.0, until=1.0)
    checkpoints.save("c", "shard-a", "earlier", position="2", records=2, until=1.0)
    stream, _ = _stream(fake, checkpoints)
    subscription = stream.subscribe("c", "owner")  # the earlier owner's lease expired at 1.0
    assert subscription.partitions == ["shard-a", "shard-b"]
    assert _sequences(subscription.poll()) == ["3", "10", "20"]
    assert fake.opened == [("shard-a", "AFTER_SEQUENCE_NUMBER", "2"), ("shard-b", "TRIM_HORIZON", None)]
    assert subscription.poll() == []


def test_shards_page_in_order_within_the_record_limit_and_report_lag() -> None:
    fake = _ScriptedKinesis()
    stream, _ = _stream(fake)
    subscription = stream.subscribe("c", "owner")
    assert _sequences(subscription.poll(limit=2)) == ["1", "2"]
    assert subscription.lag == {"shard-a": 1000}
    assert _sequences(subscription.poll(limit=2)) == ["10", "20"]  # the next poll starts at the other shard
    assert _sequences(subscription.poll(limit=2)) == ["3"]
    assert subscription.lag == {"shard-a": 0, "shard-b": 0}


def test_an_expired_iterator_is_reopened_after_the_last_record_read() -> None:
    fake = _ScriptedKinesis()
    stream, _ = _stream(fake)
    subscription = stream.subscribe("c", "owner")
    assert _sequences(subscription.poll(limit=1)) == ["1"]
    fake.expire = 1
    assert _sequences(subscription.poll(limit=2)) == ["10", "20"]  # shard-b opened fresh, expiry hits it
    fake.expire = 1
    assert _sequences(subscription.poll(limit=5)) == ["2", "3"]
    assert ("shard-a", "AFTER_SEQUENCE_NUMBER", "1") in fake.opened


def test_an_iterator_expiring_again_right_after_reopening_is_an_expired_position() -> None:
    fake = _ScriptedKinesis()
    stream, _ = _stream(fake)
    subscription = stream.subscribe("c", "owner")
    fake.expire = 2
    with pytest.raises(PositionExpiredError, match="shard 'shard-a'") as error:
        subscription.poll()
    assert isinstance(error.value, ExpiredError)


def test_a_closed_shard_read_to_its_end_leaves_the_subscription_but_its_positions_still_commit() -> None:
    fake = _ScriptedKinesis()
    fake.closed = {"shard-b"}
    checkpoints = MemoryCheckpoints()
    stream, _ = _stream(fake, checkpoints)
    subscription = stream.subscribe("c", "owner")
    deliveries = subscription.poll()
    assert subscription.partitions == ["shard-a"]
    subscription.commit({"shard-b": deliveries[-1].position})
    assert checkpoints.load("c")["shard-b"].position == "20"
    subscription.close()
    assert checkpoints.load("c")["shard-b"].lease_owner is None
