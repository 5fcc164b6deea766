"""The stream pipeline on the in-memory platform (every port a fake): produce, consume, quarantine, parity with
online features, bounded runs that resume, a held lease keeping a second consumer out, seeding from curated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from mlops.datasets import DatasetDefinition, find_definition
from mlops.features.online import online_features
from mlops.layout import split_uri
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.events import EventStreamError, OutgoingEvent, PutOutcome
from mlops.wiring import memory_platform
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.generate.writers import write_frame
from pipelines.ingest.formats import FileFormat
from pipelines.stream.consume import consume, consumer_name
from pipelines.stream.events import encode_event, parse_event
from pipelines.stream.produce import produce
from tests.conftest import REPO_ROOT
from tests.unit.test_outputs import complete_outputs

ROWS = 400


@pytest.fixture
def platform() -> Platform:
    return memory_platform(StackOutputs.model_validate(complete_outputs()))


@pytest.fixture(scope="module")
def definition() -> DatasetDefinition:
    return find_definition("card_transactions", REPO_ROOT / "pipelines" / "datasets")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_card_transactions(CardOptions(rows=ROWS, seed=11))


def _write(frame: pd.DataFrame, path: Path, *bad_lines: str) -> Path:
    write_frame(frame, path, FileFormat.CSV)
    with path.open("a") as out:
        out.writelines(line + "\n" for line in bad_lines)
    return path


def _quarantined(platform: Platform, uri: str) -> list[dict[str, Any]]:
    _, bucket, key = split_uri(uri)
    body = platform.services.object_store.get(bucket, key)
    return [json.loads(line) for line in body.decode().splitlines()]


def _events_by_entity(frame: pd.DataFrame, definition: DatasetDefinition) -> dict[str, list[dict[str, Any]]]:
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for row in frame[definition.column_names].to_dict(orient="records"):
        event = parse_event(encode_event(row), definition)
        by_entity.setdefault(event[definition.entity_key], []).append(event)
    return by_entity


def _assert_parity(
    platform: Platform, definition: DatasetDefinition, histories: dict[str, list[dict[str, Any]]]
) -> None:
    """The store holds, per entity, the features mlops.features.online gives its last event over ``histories``."""
    stored = platform.services.online_store.read(definition.name, sorted(histories))
    assert sorted(stored) == sorted(histories)
    for entity, history in histories.items():
        for name, value in online_features(definition, history[-1], history).items():
            want = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            assert stored[entity][name] == want, (entity, name)
        assert stored[entity]["feature_time"] == history[-1]["event_time"].isoformat()


def test_produce_consume_quarantine_parity_and_a_second_run_reads_nothing(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = _write(
        frame,
        tmp_path / "cards.csv",
        "bad-1,,merch-1,2024-03-01T00:00:00Z,10.0,grocery,online,US,0",
        "bad-2,cust-01,merch-1,2024-03-01T00:00:00Z,lots,grocery,online,US,0",
    )
    produced = produce(platform, definition, path)
    assert (produced.rows_read, produced.sent, produced.quarantined) == (ROWS + 2, ROWS, 2)
    assert produced.stream == platform.outputs.stream_name
    assert produced.quarantine_keys[0].startswith(f"memory://{platform.outputs.quarantine_bucket}/card_transactions/")
    lines = _quarantined(platform, produced.quarantine_keys[0])
    assert [(line["_row_number"], line["_reason"], line["_stage"]) for line in lines] == [
        (ROWS + 1, "missing required field(s): customer_id", "produce"),
        (ROWS + 2, "amount: 'lots' is not of type double", "produce"),
    ]
    platform.services.events.put([OutgoingEvent("x", b"not json"), OutgoingEvent("y", b'{"transaction_id": "t"}')])

    first = consume(platform, definition, idle_seconds=0.0)
    assert (first.read, first.quarantined) == (ROWS + 2, 2)
    assert first.leased == sorted(first.partitions)
    bad = [line for uri in first.quarantine_keys for line in _quarantined(platform, uri)]
    assert sorted(line["_reason"][:12] for line in bad) == ["missing requ", "not JSON: Ex"]
    assert all(line["_stage"] == "consume" and line["_partition"] in first.partitions for line in bad)
    _assert_parity(platform, definition, _events_by_entity(frame, definition))

    with platform.services.events.subscribe(consumer_name(definition.name), "probe") as probe:
        stored = {partition: checkpoint.position for partition, checkpoint in probe.committed.items()}
        assert sum(checkpoint.records for checkpoint in probe.committed.values()) == ROWS + 2
    assert stored == {partition: counts.checkpoint for partition, counts in first.partitions.items()}
    assert sum(counts.records for counts in first.partitions.values()) == ROWS + 2

    second = consume(platform, definition, idle_seconds=0.0)
    assert (second.read, second.written, second.quarantined) == (0, 0, 0)


def test_a_bounded_run_stops_at_max_records_and_the_next_resumes(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, tmp_path: Path
) -> None:
    produce(platform, definition, _write(frame, tmp_path / "cards.csv"))
    first = consume(platform, definition, max_records=150, idle_seconds=0.0)
    assert first.read == 150
    rest = consume(platform, definition, idle_seconds=0.0)
    assert rest.read == ROWS - 150
    # a fresh history in the second run: only the entities' newest events decide what is compared
    newest = {entity: events[-1] for entity, events in _events_by_entity(frame, definition).items()}
    stored = platform.services.online_store.read(definition.name, sorted(newest))
    assert {entity: item["feature_time"] for entity, item in stored.items()} == {
        entity: event["event_time"].isoformat() for entity, event in newest.items()
    }


def test_a_backlog_within_one_poll_writes_each_entity_once_with_its_newest_features(
    platform: Platform, definition: DatasetDefinition, tmp_path: Path
) -> None:
    backlog = generate_card_transactions(CardOptions(rows=3_000, seed=5))
    produce(platform, definition, _write(backlog, tmp_path / "cards.csv"))
    result = consume(platform, definition, idle_seconds=0.0)
    newest = {entity: events[-1] for entity, events in _events_by_entity(backlog, definition).items()}
    assert result.read == 3_000 and len(newest) < 3_000
    assert result.written == len(newest)  # in polls of 1,000 an entity was written again in each poll it was in
    stored = platform.services.online_store.read(definition.name, sorted(newest))
    assert {entity: item["feature_time"] for entity, item in stored.items()} == {
        entity: event["event_time"].isoformat() for entity, event in newest.items()
    }


def test_an_entity_s_features_are_computed_once_per_poll_with_a_late_event_of_the_poll_counted(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer computed the features of every event, though only each entity's newest is stored (a third of
    its time), and a late event arriving after the newest in the same poll was missing from them."""
    from datetime import timedelta

    from pipelines.stream.history import EntityHistory

    rows = [
        parse_event(encode_event(row), definition) for row in frame[definition.column_names].head(4).to_dict("records")
    ]
    start = rows[0]["event_time"]
    one = [{**row, "customer_id": "cust-late"} for row in rows[:3]]
    for row, minutes in zip(one, (0, 20, 10), strict=True):  # the third arrives last, ten minutes late
        row["event_time"] = start + timedelta(minutes=minutes)
    other = {**rows[3], "customer_id": "cust-other", "event_time": start}
    platform.services.events.put([OutgoingEvent(row["customer_id"], encode_event(row)) for row in [*one, other]])
    computed: list[str] = []
    features = EntityHistory.features

    def counted(history: EntityHistory, row: dict[str, Any]) -> dict[str, Any]:
        computed.append(str(row["customer_id"]))
        return features(history, row)

    monkeypatch.setattr(EntityHistory, "features", counted)
    result = consume(platform, definition, idle_seconds=0.0)
    assert (result.read, result.written, sorted(computed)) == (4, 2, ["cust-late", "cust-other"])
    stored = platform.services.online_store.read(definition.name, ["cust-late"])["cust-late"]
    assert stored["feature_time"] == one[1]["event_time"].isoformat()  # the newest event's
    assert stored["txn_count_1h"] == online_features(definition, one[1], one)["txn_count_1h"] == 3


def test_a_consumer_holding_the_leases_keeps_a_second_one_out(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, tmp_path: Path
) -> None:
    produce(platform, definition, _write(frame, tmp_path / "cards.csv"))
    holder = platform.services.events.subscribe(consumer_name(definition.name), "another-process")
    blocked = consume(platform, definition, idle_seconds=0.0)
    assert (blocked.read, blocked.leased) == (0, [])
    holder.close()
    after = consume(platform, definition, idle_seconds=0.0)
    assert after.read == ROWS and after.leased


def test_seeding_from_curated_gives_the_features_of_the_full_history(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, tmp_path: Path
) -> None:
    ordered = frame.sort_values(definition.event_time, kind="stable").reset_index(drop=True)
    older, newer = ordered.iloc[:-40], ordered.iloc[-40:]  # the 30-day windows of the newer reach the older
    uri = platform.layout.table_uri("curated", definition.name)
    version = platform.services.table_store.write(
        uri, pa.Table.from_pandas(older[definition.column_names], preserve_index=False), "overwrite", {}
    )
    produce(platform, definition, _write(newer, tmp_path / "newer.csv"))

    result = consume(platform, definition, idle_seconds=0.0, seed_curated=True)
    assert result.seed_version == version and 0 < result.seeded <= len(older)
    assert result.read == len(newer)
    full = _events_by_entity(ordered, definition)
    streamed = set(_events_by_entity(newer, definition))
    _assert_parity(platform, definition, {entity: full[entity] for entity in streamed})


def test_a_rate_paces_the_puts_in_chunks_of_one_second(platform: Platform) -> None:
    import time

    from pipelines.stream.produce import send

    records = [OutgoingEvent(f"k{i}", str(i).encode()) for i in range(10)]
    seen: list[tuple[int, int]] = []
    started = time.monotonic()
    sent, calls, retried = send(platform.services.events, records, rate=8.0, progress=lambda d, t: seen.append((d, t)))
    assert (sent, calls, retried) == (10, 2, 0)
    assert seen == [(8, 10), (10, 10)]
    assert time.monotonic() - started >= 10 / 8 - 0.01


def test_the_next_chunk_is_prepared_while_the_previous_put_is_in_flight_and_order_holds(platform: Platform) -> None:
    import threading

    from pipelines.stream.produce import send_chunks

    second_taken = threading.Event()
    put_order: list[list[str]] = []
    overlapped: list[bool] = []
    events = platform.services.events

    class Recording:
        name = events.name

        def put(self, records: list[OutgoingEvent]) -> Any:
            if not put_order:  # the first put ends only once the second chunk has been asked for (or 5 s pass)
                overlapped.append(second_taken.wait(timeout=5))
            put_order.append([record.key for record in records])
            return events.put(records)

    def chunks() -> Any:
        yield [OutgoingEvent("a", b"1"), OutgoingEvent("b", b"2")]
        second_taken.set()
        yield [OutgoingEvent("a", b"3")]
        yield []  # a chunk whose rows were all quarantined
        yield [OutgoingEvent("c", b"4")]

    assert send_chunks(Recording(), chunks(), lambda: 4) == (4, 3, 0)  # type: ignore[arg-type]
    assert overlapped == [True]
    assert put_order == [["a", "b"], ["a"], ["c"]]


def test_a_failed_put_still_leaves_the_rows_quarantined_so_far(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame, tmp_path: Path
) -> None:
    bad = "bad-1,,merch-1,2024-03-01T00:00:00Z,10.0,grocery,online,US,0"
    path = _write(frame.head(3), tmp_path / "cards.csv", bad)

    def refuse(records: Sequence[OutgoingEvent]) -> PutOutcome:
        raise EventStreamError("the stream refused the put")

    platform.services.events.put = refuse  # type: ignore[method-assign]
    with pytest.raises(EventStreamError, match="refused"):
        produce(platform, definition, path)
    bucket = platform.outputs.quarantine_bucket
    keys = platform.services.object_store.list_keys(bucket, "card_transactions/stream/")
    assert len(keys) == 1
    lines = _quarantined(platform, f"memory://{bucket}/{keys[0]}")
    assert [(line["_row_number"], line["_reason"]) for line in lines] == [(4, "missing required field(s): customer_id")]


def test_the_next_poll_runs_before_the_commit_and_records_of_a_poll_that_ended_the_stream_count(
    platform: Platform, definition: DatasetDefinition, frame: pd.DataFrame
) -> None:
    import threading

    from mlops.ports.events import Delivery
    from pipelines.stream.consume import ConsumeResult, StreamConsumer, run
    from pipelines.stream.history import EntityHistory
    from pipelines.stream.quarantine import Quarantine

    rows = frame[definition.column_names].head(6).to_dict(orient="records")
    pages = [
        [Delivery("p0", str(n), str(row[definition.entity_key]), encode_event(row)) for n, row in enumerate(rows[:3])],
        [Delivery("p0", str(n), str(row[definition.entity_key]), encode_event(row)) for n, row in enumerate(rows, 3)],
    ]
    calls: list[tuple[str, Any]] = []

    class Scripted:  # one partition whose second page is its last (a closed shard)
        def __init__(self) -> None:
            self.partitions = ["p0"]
            self.lag: dict[str, int] = {}

        def poll(self, limit: int) -> list[Delivery]:
            calls.append(("poll", threading.current_thread().name.startswith("poll-ahead")))
            page = pages.pop(0)
            if not pages:
                self.partitions = []
            return page

        def commit(self, positions: dict[str, str]) -> None:
            calls.append(("commit", dict(positions)))

    services = platform.services
    quarantine = Quarantine(services.object_store, "quarantine", definition.name, "consume")
    result = ConsumeResult(definition.name, consumer_name(definition.name))
    consumer = StreamConsumer(definition, services.online_store, quarantine, EntityHistory(definition), result)
    run(consumer, Scripted(), None, 0.0)  # type: ignore[arg-type]
    assert calls == [("poll", False), ("poll", True), ("commit", {"p0": "2"}), ("commit", {"p0": "8"})]
    assert result.read == 9 and result.partitions["p0"].checkpoint == "8"
