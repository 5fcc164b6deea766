"""The event-stream port's contract, over every implementation: the in-memory fake, Kinesis with DynamoDB
checkpoints on the session's moto server, Kinesis on LocalStack (checkpoints in memory: DynamoDB does not run
on LocalStack here), and Pub/Sub with Firestore checkpoints on Google's emulators.

Each test gets a fresh stream (2 partitions) and a consumer name of its own. Time is a fake clock shared by the
stream and the checkpoint store, so lease expiry is tested without waiting. Failures are injected by a wrapper
that refuses chosen entries of a batch, as PutRecords does under throttling.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops.adapters.eventlog import EntryFailure
from mlops.adapters.memory.events import MemoryCheckpoints, MemoryEventStreams
from mlops.errors import StreamError
from mlops.ports.errors import ConflictError, NotFoundError, ThrottledError
from mlops.ports.events import (
    CheckpointStore,
    Delivery,
    EventStream,
    EventStreamError,
    LeaseHeldError,
    OutgoingEvent,
    StreamNotFoundError,
    StreamThrottledError,
    Subscription,
)

LEASE = 30.0
PARTITIONS = 2
Fault = Callable[[OutgoingEvent], EntryFailure | None]


class FakeClock:
    """Seconds since the epoch that move only when a test says so (starts at a real time: DynamoDB stores it)."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    """One implementation under test: ``stream(faults)`` is a handle on this test's stream (one checkpoint
    store for all handles, as processes of one deployment share the table); ``missing()`` names no stream."""

    make: Callable[[str, Fault | None], EventStream]
    name: str
    clock: FakeClock
    consumer: str = field(default_factory=lambda: f"contract-{uuid.uuid4().hex[:8]}")

    def stream(self, faults: Fault | None = None) -> EventStream:
        return self.make(self.name, faults)

    def missing(self) -> EventStream:
        return self.make(f"absent-{uuid.uuid4().hex[:8]}", None)


def _no_sleep(attempt: int) -> None:
    return None


def _memory(clock: FakeClock) -> Backend:
    service = MemoryEventStreams(clock=clock)
    name = f"contract-{uuid.uuid4().hex[:8]}"
    service.create(name, PARTITIONS)

    def make(stream: str, faults: Fault | None) -> EventStream:
        handle = service.stream(stream, lease_seconds=LEASE, faults=faults)
        handle.max_attempts, handle.sleep = 3, _no_sleep
        return handle

    return Backend(make, name, clock)


class _FaultyKinesis:
    """A Kinesis client whose PutRecords refuses the entries ``faults`` picks (the rest reach the server)."""

    def __init__(self, real: Any, faults: Fault) -> None:
        self._real = real
        self._faults = faults

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        refusals = [self._faults(OutgoingEvent(r["PartitionKey"], r["Data"])) for r in Records]
        passed = [r for r, refused in zip(Records, refusals, strict=True) if refused is None]
        answered = iter(self._real.put_records(StreamName=StreamName, Records=passed)["Records"] if passed else [])
        entries = [
            next(answered) if refused is None else {"ErrorCode": refused.code, "ErrorMessage": refused.message}
            for refused in refusals
        ]
        return {"FailedRecordCount": sum("ErrorCode" in e for e in entries), "Records": entries}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _FaultyClients:
    def __init__(self, real: Any, faults: Fault) -> None:
        self._real = real
        self._faults = faults

    def client(self, service: str) -> Any:
        client = self._real.client(service)
        return _FaultyKinesis(client, self._faults) if service == "kinesis" else client


def _kinesis(clients: Any, checkpoints: CheckpointStore, clock: FakeClock) -> Backend:
    from mlops.adapters.aws.kinesis import KinesisStream

    kinesis = clients.client("kinesis")
    name = f"contract-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=PARTITIONS)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    def make(stream: str, faults: Fault | None) -> EventStream:
        reach: Any = clients if faults is None else _FaultyClients(clients, faults)
        return KinesisStream(
            reach, stream, checkpoints, lease_seconds=LEASE, clock=clock, max_attempts=3, sleep=_no_sleep
        )

    return Backend(make, name, clock)


def _checkpoint_table(clients: Any) -> str:
    """A table keyed as the infra program declares the stack's (hash ``consumer``, range ``shard_id``); one per
    test, so the suite does not wait for a stack apply (tests/integration/stream uses the stack's own table)."""
    from mlops.adapters.aws.dynamodb_checkpoints import HASH_KEY, RANGE_KEY

    dynamodb = clients.client("dynamodb")
    name = f"contract-checkpoints-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": HASH_KEY, "KeyType": "HASH"}, {"AttributeName": RANGE_KEY, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": HASH_KEY, "AttributeType": "S"},
            {"AttributeName": RANGE_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


class _FaultyPublisher:
    """A Pub/Sub publisher whose publish refuses the messages ``faults`` picks: their futures fail with an error
    named by the refusal's code (the rest reach the emulator)."""

    def __init__(self, real: Any, faults: Fault) -> None:
        self._real = real
        self._faults = faults

    def publish(self, topic: str, data: bytes, ordering_key: str = "", **attributes: str) -> Any:
        from google.api_core.exceptions import GoogleAPICallError
        from google.cloud.pubsub_v1.publisher.futures import Future

        refused = self._faults(OutgoingEvent(ordering_key, data))
        if refused is None:
            return self._real.publish(topic, data, ordering_key=ordering_key, **attributes)
        future = Future()
        future.set_exception(type(refused.code, (GoogleAPICallError,), {})(refused.message))
        return future

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _FaultyGcpClients:
    def __init__(self, real: Any, faults: Fault) -> None:
        self._real = real
        self._faults = faults

    def publisher(self) -> Any:
        return _FaultyPublisher(self._real.publisher(), self._faults)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _pubsub(clients: Any, clock: FakeClock) -> Backend:
    from mlops.adapters.gcp.firestore_checkpoints import FirestoreCheckpoints
    from mlops.adapters.gcp.pubsub import PubSubStream, create_stream

    name = f"contract-{uuid.uuid4().hex[:8]}"
    create_stream(clients, name, PARTITIONS)
    checkpoints = FirestoreCheckpoints(clients, f"contract-checkpoints-{uuid.uuid4().hex[:8]}")

    def make(stream: str, faults: Fault | None) -> EventStream:
        reach: Any = clients if faults is None else _FaultyGcpClients(clients, faults)
        return PubSubStream(
            reach, stream, checkpoints, lease_seconds=LEASE, clock=clock, max_attempts=3, sleep=_no_sleep
        )

    return Backend(make, name, clock)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("aws-moto", marks=pytest.mark.emulator),
        "aws-localstack",
        "gcp-emulator",
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    clock = FakeClock()
    if request.param == "gcp-emulator":
        yield _pubsub(request.getfixturevalue("gcp_clients"), clock)
        return
    if request.param == "memory":
        yield _memory(clock)
        return
    if request.param == "aws-moto":
        from mlops.adapters.aws.dynamodb_checkpoints import DynamoDBCheckpoints

        clients = request.getfixturevalue("emulated_clients")
        yield _kinesis(clients, DynamoDBCheckpoints(clients, _checkpoint_table(clients)), clock)
        return
    clients = request.getfixturevalue("localstack_clients")
    backend = _kinesis(clients, MemoryCheckpoints(), clock)
    yield backend
    clients.client("kinesis").delete_stream(StreamName=backend.name, EnforceConsumerDeletion=True)


def _events(keys: Sequence[str], per_key: int) -> list[OutgoingEvent]:
    """``per_key`` events of each key, interleaved; data ``<key>:<n>`` says the order they were put in."""
    return [OutgoingEvent(key, f"{key}:{n}".encode()) for n in range(per_key) for key in keys]


def _drain(subscription: Subscription, expected: int, limit: int = 1_000, polls: int = 40) -> list[Delivery]:
    """Poll until ``expected`` deliveries arrived (an emulator may hand out empty pages first), then once more."""
    import time

    got: list[Delivery] = []
    for _ in range(polls):
        page = subscription.poll(limit)
        got += page
        if len(got) >= expected and not page:
            return got
        if not page:
            time.sleep(0.1)
    return got


def _last_positions(deliveries: Sequence[Delivery], per_partition: int | None = None) -> dict[str, str]:
    """Each partition's last position, or the position of its ``per_partition``-th delivery."""
    positions: dict[str, list[str]] = {}
    for delivery in deliveries:
        positions.setdefault(delivery.partition, []).append(delivery.position)
    pick = -1 if per_partition is None else per_partition - 1
    return {partition: found[pick] for partition, found in positions.items() if len(found) > pick}


def test_each_keys_records_come_back_in_put_order_from_one_partition(backend: Backend) -> None:
    stream = backend.stream()
    outcome = stream.put(_events([f"k{i}" for i in range(6)], per_key=10))
    assert (outcome.sent, outcome.calls, outcome.retried) == (60, 1, 0)
    with stream.subscribe(backend.consumer, "owner-a") as subscription:
        assert len(subscription.partitions) == PARTITIONS
        deliveries = _drain(subscription, 60)
    assert len(deliveries) == 60
    by_key: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_key.setdefault(delivery.key, []).append(delivery)
    for key, found in by_key.items():
        assert [d.data.decode() for d in found] == [f"{key}:{n}" for n in range(10)]
        assert len({d.partition for d in found}) == 1, key
    assert set(by_key) == {f"k{i}" for i in range(6)}


def test_a_put_of_more_than_500_records_is_sent_in_batches(backend: Backend) -> None:
    stream = backend.stream()
    records = _events([f"k{i}" for i in range(12)], per_key=100)  # 1,200 records
    outcome = stream.put(records)
    assert (outcome.sent, outcome.calls, outcome.retried) == (1_200, 3, 0)
    with stream.subscribe(backend.consumer, "owner-a") as subscription:
        deliveries = _drain(subscription, 1_200)
    assert sorted(d.data for d in deliveries) == sorted(r.data for r in records)


class _RefuseTwice:
    """Refuses each record of ``keys`` the first two times it is sent, as a throttled shard does."""

    def __init__(self, keys: set[str], times: int = 2, code: str = "ProvisionedThroughputExceededException") -> None:
        self.keys = keys
        self.times = times
        self.code = code
        self.seen: dict[bytes, int] = {}

    def __call__(self, record: OutgoingEvent) -> EntryFailure | None:
        if record.key not in self.keys:
            return None
        count = self.seen[record.data] = self.seen.get(record.data, 0) + 1
        return EntryFailure(self.code, "Rate exceeded for shard") if count <= self.times else None


def test_only_failed_entries_are_sent_again_and_each_record_lands_once(backend: Backend) -> None:
    stream = backend.stream(_RefuseTwice({"k2", "k4"}))
    records = _events([f"k{i}" for i in range(6)], per_key=5)
    outcome = stream.put(records)
    # call 1: 30 entries, 10 refused; call 2: those 10, refused again; call 3: the 10 land
    assert (outcome.sent, outcome.calls, outcome.retried) == (30, 3, 20)
    with backend.stream().subscribe(backend.consumer, "owner-a") as subscription:
        deliveries = _drain(subscription, 30)
    assert sorted(d.data for d in deliveries) == sorted(r.data for r in records)  # no duplicate, none lost
    k2 = [d.data.decode() for d in deliveries if d.key == "k2"]
    assert k2 == [f"k2:{n}" for n in range(5)]


def test_entries_still_refused_after_the_attempts_raise_a_throttled_error_naming_the_record(
    backend: Backend,
) -> None:
    stream = backend.stream(_RefuseTwice({"slow"}, times=99))
    with pytest.raises(StreamThrottledError) as error:
        stream.put([OutgoingEvent("fast", b"1"), OutgoingEvent("slow", b"2")])
    assert isinstance(error.value, ThrottledError) and isinstance(error.value, StreamError)
    assert str(error.value) == (
        f"stream {backend.name!r}: 1 record(s) still failed after 3 put attempts; first: partition key 'slow': "
        "ProvisionedThroughputExceededException: Rate exceeded for shard"
    )


def test_other_refusals_raise_a_stream_error_that_is_not_throttling(backend: Backend) -> None:
    stream = backend.stream(_RefuseTwice({"bad"}, times=99, code="InternalFailure"))
    with pytest.raises(EventStreamError, match="partition key 'bad': InternalFailure") as error:
        stream.put([OutgoingEvent("bad", b"1")])
    assert not isinstance(error.value, ThrottledError)


def test_a_new_subscription_resumes_after_the_committed_positions(backend: Backend) -> None:
    stream = backend.stream()
    stream.put(_events([f"k{i}" for i in range(8)], per_key=5))  # 40 records
    with stream.subscribe(backend.consumer, "owner-a") as first:
        delivered = _drain(first, 40)
        halfway = _last_positions(delivered, per_partition=3)
        first.commit(halfway)
        assert {p: c.position for p, c in first.committed.items() if c.position} == halfway
        assert all(first.committed[p].records == 3 for p in halfway)
    with stream.subscribe(backend.consumer, "owner-b") as second:
        assert {p: c.position for p, c in second.committed.items() if c.position} == halfway
        rest = _drain(second, 40 - 3 * len(halfway))
        second.commit(_last_positions(rest))
        assert sum(c.records for c in second.committed.values()) == 40
    # at-least-once: what the first owner read but did not commit is delivered again, and only that
    uncommitted: list[bytes] = []
    for partition, position in halfway.items():
        mine = [d for d in delivered if d.partition == partition]
        uncommitted += [d.data for d in mine[[d.position for d in mine].index(position) + 1 :]]
    assert sorted(d.data for d in rest) == sorted(uncommitted)
    with stream.subscribe(backend.consumer, "owner-c") as third:
        assert _drain(third, 0, polls=2) == []


def test_only_delivered_positions_can_be_committed(backend: Backend) -> None:
    stream = backend.stream()
    stream.put(_events(["a"], per_key=2))
    with stream.subscribe(backend.consumer, "owner-a") as subscription:
        (partition,) = {d.partition for d in _drain(subscription, 2)}
        with pytest.raises(EventStreamError, match="was not delivered"):
            subscription.commit({partition: "999999999"})


def test_a_leased_partition_is_read_by_one_owner_at_a_time(backend: Backend) -> None:
    stream = backend.stream()
    stream.put(_events(["a", "b", "c", "d"], per_key=3))
    holder = stream.subscribe(backend.consumer, "owner-a")
    try:
        other = backend.stream().subscribe(backend.consumer, "owner-b")
        assert other.partitions == []
        assert other.poll() == []
        with pytest.raises(LeaseHeldError) as error:
            other.commit({holder.partitions[0]: "1"})
        assert isinstance(error.value, ConflictError)
        other.close()
        with stream.subscribe(f"{backend.consumer}-other", "owner-b") as independent:  # another consumer reads all
            assert len(_drain(independent, 12)) == 12
        assert len(_drain(holder, 12)) == 12
    finally:
        holder.close()
    with stream.subscribe(backend.consumer, "owner-b") as after_close:  # close released the leases
        assert len(after_close.partitions) == PARTITIONS
        assert len(_drain(after_close, 12)) == 12  # nothing was committed: everything again


def test_an_expired_lease_is_taken_over_and_the_old_owner_can_no_longer_commit(backend: Backend) -> None:
    stream = backend.stream()
    stream.put(_events([f"k{i}" for i in range(6)], per_key=4))  # 24 records
    stale = stream.subscribe(backend.consumer, "owner-a")
    delivered = _drain(stale, 24)
    first = _last_positions(delivered, per_partition=1)
    stale.commit(first)
    backend.clock.advance(LEASE + 1)  # owner-a stopped renewing: its leases expire
    with backend.stream().subscribe(backend.consumer, "owner-b") as taker:
        assert len(taker.partitions) == PARTITIONS
        assert len(_drain(taker, 24 - len(first))) == 24 - len(first)  # resumes after owner-a's commits
        with pytest.raises(LeaseHeldError, match="owner-b"):
            stale.commit(_last_positions(delivered))
        assert stale.poll() == []  # its renewal finds the leases taken: it reads nothing more
        assert stale.partitions == []
    stale.close()


def test_polling_renews_the_lease(backend: Backend) -> None:
    stream = backend.stream()
    stream.put(_events(["a", "b"], per_key=2))
    with stream.subscribe(backend.consumer, "owner-a") as holder:
        backend.clock.advance(LEASE * 0.6)
        holder.poll()  # past a third of the lease: renewed until now + LEASE
        backend.clock.advance(LEASE * 0.6)  # past the first lease's end, inside the renewed one
        with backend.stream().subscribe(backend.consumer, "owner-b") as other:
            assert other.partitions == []
        assert len(holder.partitions) == PARTITIONS


def test_an_unknown_stream_raises_not_found_naming_it(backend: Backend) -> None:
    missing = backend.missing()
    with pytest.raises(StreamNotFoundError, match=f"stream {missing.name!r} does not exist") as error:
        missing.put([OutgoingEvent("a", b"1")])
    assert isinstance(error.value, NotFoundError) and isinstance(error.value, StreamError)
    with pytest.raises(StreamNotFoundError, match=f"stream {missing.name!r} does not exist"):
        missing.subscribe(backend.consumer, "owner-a")


def test_a_closed_subscription_refuses_to_poll(backend: Backend) -> None:
    subscription = backend.stream().subscribe(backend.consumer, "owner-a")
    subscription.close()
    subscription.close()  # idempotent
    with pytest.raises(EventStreamError, match="is closed"):
        subscription.poll()
