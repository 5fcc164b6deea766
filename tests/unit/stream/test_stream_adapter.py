"""Batching into PutRecords limits, retry of only the failed entries, and resuming shards from checkpoints."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.adapters.stream import (
    MAX_BATCH_BYTES,
    KinesisStream,
    OutgoingRecord,
    ShardPage,
    ShardReader,
    StreamRecord,
    put_batches,
)
from mlops.errors import StreamError


def test_batches_hold_at_most_500_records() -> None:
    records = [OutgoingRecord(f"k{i}", b"x") for i in range(1_201)]
    assert [len(batch) for batch in put_batches(records)] == [500, 500, 201]


def test_batches_hold_at_most_5_mb_counting_partition_keys() -> None:
    # 6 records of 1 MB minus the key: five fill a batch to exactly 5 MB, the sixth starts the next
    key = "k"
    records = [OutgoingRecord(key, b"x" * (1024 * 1024 - 1)) for _ in range(6)]
    batches = list(put_batches(records))
    assert [len(batch) for batch in batches] == [5, 1]
    assert sum(r.size for r in batches[0]) == MAX_BATCH_BYTES


def test_an_oversize_record_is_refused_by_number() -> None:
    records = [OutgoingRecord("a", b"x"), OutgoingRecord("big", b"x" * (1024 * 1024))]
    with pytest.raises(StreamError, match=r"^record 1 \(partition key 'big'\) is 1048579 bytes"):
        list(put_batches(records))


class _FlakyKinesis:
    """Fails the entries whose data is listed in ``fail`` the first ``times`` times they are sent."""

    def __init__(self, fail: set[bytes], times: int) -> None:
        self.fail = fail
        self.times = times
        self.sent: dict[bytes, int] = {}
        self.calls: list[list[bytes]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([r["Data"] for r in Records])
        entries: list[dict[str, Any]] = []
        for record in Records:
            count = self.sent[record["Data"]] = self.sent.get(record["Data"], 0) + 1
            if record["Data"] in self.fail and count <= self.times:
                entries.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                entries.append({"SequenceNumber": str(len(self.calls)), "ShardId": "shardId-0"})
        return {"FailedRecordCount": sum("ErrorCode" in e for e in entries), "Records": entries}


class _Clients:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str) -> Any:
        assert service == "kinesis"
        return self._client


def _stream(fake: Any, attempts: int = 8) -> tuple[KinesisStream, list[int]]:
    sleeps: list[int] = []
    return KinesisStream(_Clients(fake), "events", max_attempts=attempts, sleep=sleeps.append), sleeps  # type: ignore[arg-type]


def test_only_failed_entries_are_sent_again_with_backoff() -> None:
    fake = _FlakyKinesis(fail={b"2", b"4"}, times=2)
    stream, sleeps = _stream(fake)
    outcome = stream.put([OutgoingRecord(str(i), str(i).encode()) for i in range(6)])
    assert fake.calls == [[b"0", b"1", b"2", b"3", b"4", b"5"], [b"2", b"4"], [b"2", b"4"]]
    assert (outcome.sent, outcome.calls, outcome.retried) == (6, 3, 4)
    assert sleeps == [0, 1]


def test_entries_failing_every_attempt_raise_naming_the_record() -> None:
    fake = _FlakyKinesis(fail={b"1"}, times=99)
    stream, _ = _stream(fake, attempts=3)
    with pytest.raises(StreamError) as error:
        stream.put([OutgoingRecord("a", b"0"), OutgoingRecord("b", b"1")])
    assert str(error.value) == (
        "stream 'events': 1 record(s) still failed after 3 PutRecords attempts; first: partition key 'b': "
        "ProvisionedThroughputExceededException: slow down"
    )


class _FakeShards:
    """Two shards of numbered records; an iterator is '<shard>:<index of the next record>'."""

    name = "events"

    def __init__(self) -> None:
        self.data = {"shard-a": ["1", "2", "3"], "shard-b": ["10", "20"]}
        self.opened: dict[str, str | None] = {}

    def put(self, records: Any) -> Any:
        raise AssertionError("not used")

    def shard_ids(self) -> list[str]:
        return list(self.data)

    def iterator(self, shard_id: str, after_sequence: str | None) -> str:
        self.opened[shard_id] = after_sequence
        start = 0 if after_sequence is None else self.data[shard_id].index(after_sequence) + 1
        return f"{shard_id}:{start}"

    def get(self, shard_id: str, iterator: str, limit: int) -> ShardPage:
        shard, start = iterator.split(":")
        assert shard == shard_id
        numbers = self.data[shard][int(start) : int(start) + limit]
        records = [StreamRecord(shard, n, "k", n.encode()) for n in numbers]
        behind = len(self.data[shard]) - int(start) - len(numbers)
        return ShardPage(records, f"{shard}:{int(start) + len(numbers)}", behind * 1000)


def _sequences(pages: list[ShardPage]) -> list[str]:
    return [r.sequence_number for page in pages for r in page.records]


def test_reader_resumes_after_checkpoints_and_starts_unknown_shards_at_the_oldest_record() -> None:
    shards = _FakeShards()
    reader = ShardReader(shards, {"shard-a": "2"}, page_size=10)
    assert shards.opened == {"shard-a": "2", "shard-b": None}
    assert _sequences(reader.poll()) == ["3", "10", "20"]
    assert _sequences(reader.poll()) == []


def test_reader_pages_in_order_and_respects_the_record_limit() -> None:
    shards = _FakeShards()
    reader = ShardReader(shards, {}, page_size=2)
    assert _sequences(reader.poll(limit=3)) == ["1", "2", "10"]
    assert reader.lag == {"shard-a": 1000, "shard-b": 1000}
    assert _sequences(reader.poll()) == ["3", "20"]
    assert reader.lag == {"shard-a": 0, "shard-b": 0}
