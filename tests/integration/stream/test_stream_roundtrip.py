"""Produce 2,000 events to the stack's real stream, consume them into the online store, resume, quarantine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.dynamodb_checkpoints import DynamoDBCheckpoints
from mlops.datasets import DatasetDefinition, find_definition
from mlops.features.online import online_features
from mlops.layout import split_uri
from mlops.platform import Platform
from mlops.ports.events import OutgoingEvent
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.generate.writers import write_frame
from pipelines.ingest.formats import FileFormat
from pipelines.stream.consume import consume, consumer_name
from pipelines.stream.events import parse_event
from pipelines.stream.produce import produce

pytestmark = pytest.mark.emulator
ROWS = 2_000


@pytest.fixture(scope="module")
def definition(platform: Platform) -> DatasetDefinition:
    # A name of its own keeps this test's online items, checkpoints and quarantine apart from other tests'.
    cards = find_definition("card_transactions", platform.settings.datasets_dir)
    return cards.model_copy(update={"name": "stream_cards"})


def _quarantined(platform: Platform, key_uri: str) -> list[dict[str, Any]]:
    _, bucket, key = split_uri(key_uri)
    body = platform.services.object_store.get(bucket, key)
    return [json.loads(line) for line in body.decode().splitlines()]


def test_produce_consume_resume_and_quarantine(
    platform: Platform, definition: DatasetDefinition, emulated_clients: ClientFactory, tmp_path: Path
) -> None:
    frame = generate_card_transactions(CardOptions(rows=ROWS, seed=7))
    path = tmp_path / "cards.csv"
    write_frame(frame, path, FileFormat.CSV)
    with path.open("a") as out:  # a row without its entity and a row with a non-numeric amount
        out.write("bad-1,,merch-1,2024-03-01T00:00:00Z,10.0,grocery,online,US,0\n")
        out.write("bad-2,cust-01,merch-1,2024-03-01T00:00:00Z,lots,grocery,online,US,0\n")

    produced = produce(platform, definition, path)
    assert (produced.rows_read, produced.sent, produced.quarantined) == (ROWS + 2, ROWS, 2)
    lines = _quarantined(platform, produced.quarantine_keys[0])
    assert [(line["_row_number"], line["_reason"]) for line in lines] == [
        (ROWS + 1, "missing required field(s): customer_id"),
        (ROWS + 2, "amount: 'lots' is not of type double"),
    ]
    platform.services.events.put([OutgoingEvent("x", b"not json"), OutgoingEvent("y", b'{"transaction_id": "t-y"}')])

    first = consume(platform, definition, idle_seconds=0.5)
    assert (first.read, first.quarantined) == (ROWS + 2, 2)
    reasons = sorted(line["_reason"] for key in first.quarantine_keys for line in _quarantined(platform, key))
    assert (
        reasons[0]
        == "missing required field(s): customer_id, merchant_id, event_time, amount, category, channel, country"
    )
    assert reasons[1].startswith("not JSON: Expecting value: line 1 column 1")

    # parity: the store holds, per entity, the features mlops.features.online gives its last event
    events = [parse_event(record.data, definition) for record in produced_records(frame, definition)]
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_entity.setdefault(event["customer_id"], []).append(event)
    stored = platform.services.online_store.read(definition.name, sorted(by_entity))
    assert sorted(stored) == sorted(by_entity)
    assert first.written >= len(by_entity)
    for entity, history in by_entity.items():
        expected = online_features(definition, history[-1], history)
        for name, value in expected.items():
            want = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            assert stored[entity][name] == want, (entity, name)
        assert stored[entity]["feature_time"] == history[-1]["event_time"].isoformat()

    # the stack's checkpoint table (consumer, shard_id) holds each shard's last sequence number; leases released
    table = DynamoDBCheckpoints(emulated_clients, platform.outputs.checkpoint_table)
    checkpoints = table.load(consumer_name(definition.name))
    assert {shard: c.position for shard, c in checkpoints.items()} == {
        shard: counts.checkpoint for shard, counts in first.partitions.items()
    }
    assert sum(c.records for c in checkpoints.values()) == ROWS + 2
    assert all(c.lease_owner is None for c in checkpoints.values())
    assert sum(counts.records for counts in first.partitions.values()) == ROWS + 2

    second = consume(platform, definition, idle_seconds=0.0)
    assert (second.read, second.written, second.quarantined) == (0, 0, 0)


def produced_records(frame: pd.DataFrame, definition: DatasetDefinition) -> list[OutgoingEvent]:
    """The events the producer sent, in file order (re-derived from the generated frame)."""
    from pipelines.stream.events import encode_event

    return [
        OutgoingEvent(str(row["customer_id"]), encode_event(row))
        for row in frame[definition.column_names].to_dict(orient="records")
    ]
