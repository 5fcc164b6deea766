"""A byte-order mark does not fail a batch, and every quarantined row keeps its raw record with the reason
(issue 10: a BOM made the first column unknown; oversized fields and renamed columns lost ``_raw``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.datasets import DatasetDefinition, find_definition
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.ingest.formats import FileFormat
from pipelines.ingest.records import read_records
from pipelines.stream.quarantine import Quarantine
from pipelines.validation.split import split_batch

DATASETS = Path(__file__).resolve().parents[3] / "pipelines" / "datasets"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
BOM = "\ufeff".encode()


@pytest.fixture(scope="module")
def cards() -> DatasetDefinition:
    return find_definition("card_transactions", DATASETS)


def _csv(rows: int = 120) -> str:
    frame = generate_card_transactions(CardOptions(rows=rows, seed=4))
    frame["event_time"] = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text: str = frame.to_csv(index=False)
    return text


@pytest.mark.parametrize("file_format", [FileFormat.CSV, FileFormat.JSONL])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(
    cards: DatasetDefinition, file_format: FileFormat
) -> None:
    frame = generate_card_transactions(CardOptions(rows=120, seed=4))
    frame["event_time"] = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = frame.to_csv(index=False) if file_format is FileFormat.CSV else frame.to_json(orient="records", lines=True)
    split = split_batch(read_records(BOM + text.encode(), file_format, "b"), cards, "b1", NOW)
    assert split.failures == []
    assert (len(split.valid), len(split.quarantine)) == (120, 0)


def test_a_row_with_an_oversized_field_keeps_its_whole_raw_record(cards: DatasetDefinition) -> None:
    huge = "x" * 5000
    text = _csv() + f"t-big,c,m,2024-01-01T00:00:00Z,5.0,grocery,online,US,0,{huge}\n"
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b1", NOW)
    [row] = split.quarantine.to_dict(orient="records")
    assert row["_reason"] == "malformed CSV record: 10 fields, header has 9"
    assert row["_raw"] == f"t-big,c,m,2024-01-01T00:00:00Z,5.0,grocery,online,US,0,{huge}"


def test_rows_of_a_batch_with_a_renamed_column_keep_the_renamed_values_in_raw(cards: DatasetDefinition) -> None:
    text = _csv().replace("amount", "amount_usd", 1)  # the header's column renamed upstream
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b1", NOW)
    assert split.failures[0] == "missing column(s): amount"
    first = split.quarantine.iloc[0]
    raw = json.loads(first["_raw"])
    assert raw["amount_usd"] is not None and raw["transaction_id"] == first["transaction_id"]
    assert first["_reason"] == "missing column(s): amount"


def test_a_row_failing_a_rule_keeps_its_raw_record_with_extra_columns(cards: DatasetDefinition) -> None:
    lines = _csv().splitlines()
    lines[0] += ",note"
    lines[1:] = [line + ",kept" for line in lines[1:]]
    lines.append("t-bad,c,m,2024-01-01T00:00:00Z,5.0,crypto,online,US,0,why")
    split = split_batch(read_records("\n".join(lines).encode(), FileFormat.CSV, "b.csv"), cards, "b1", NOW)
    [row] = split.quarantine.to_dict(orient="records")
    assert row["_reason"] == "category: not one of the allowed values"
    assert json.loads(row["_raw"]) == {
        "transaction_id": "t-bad",
        "customer_id": "c",
        "merchant_id": "m",
        "event_time": "2024-01-01T00:00:00Z",
        "amount": "5.0",
        "category": "crypto",
        "channel": "online",
        "country": "US",
        "is_fraud": "0",
        "note": "why",
    }


def test_a_quarantined_stream_event_keeps_its_whole_raw_text() -> None:
    store = MemoryObjectStore()
    quarantine = Quarantine(store, "quarantine", "cards", "consume")
    event = json.dumps({"transaction_id": "t-1", "note": "y" * 5000})
    quarantine.add("amount: missing", event, partition="p0", position="7")
    key = quarantine.flush()
    assert key is not None
    [line] = store.get("quarantine", key).decode().splitlines()
    assert json.loads(line)["_raw"] == event
