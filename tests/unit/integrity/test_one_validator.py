"""The stream keeps out what batch validation quarantines (issue 10: ``allowed`` violations reached the online
store): the same rows fail on both paths, with the same reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops.datasets import DatasetDefinition, find_definition
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.ingest.formats import FileFormat
from pipelines.ingest.records import read_records
from pipelines.stream.events import EventError, check_event
from pipelines.validation.split import split_batch

DATASETS = Path(__file__).resolve().parents[3] / "pipelines" / "datasets"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cards() -> DatasetDefinition:
    return find_definition("card_transactions", DATASETS)


def _rows() -> list[dict[str, object]]:
    frame = generate_card_transactions(CardOptions(rows=120, seed=3))
    frame["event_time"] = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows: list[dict[str, object]] = json.loads(frame.to_json(orient="records"))
    rows[5]["category"] = "crypto"  # not allowed
    rows[9]["channel"] = "telepathy"  # not allowed
    rows[17]["is_fraud"] = 3  # not allowed
    rows[23]["amount"] = -4.0  # below min
    return rows


def _stream_verdicts(rows: list[dict[str, object]], cards: DatasetDefinition) -> dict[int, str]:
    verdicts = {}
    for number, row in enumerate(rows, start=1):
        try:
            check_event(row, cards)
        except EventError as exc:
            verdicts[number] = str(exc)
    return verdicts


def test_the_stream_refuses_the_rows_batch_validation_quarantines_with_the_same_reasons(
    cards: DatasetDefinition,
) -> None:
    rows = _rows()
    text = "".join(json.dumps(row) + "\n" for row in rows)
    split = split_batch(read_records(text.encode(), FileFormat.JSONL, "b.jsonl"), cards, "b1", NOW)
    batch = dict(zip(split.quarantine["_row_number"], split.quarantine["_reason"], strict=True))
    assert batch == {
        6: "category: not one of the allowed values",
        10: "channel: not one of the allowed values",
        18: "is_fraud: not one of the allowed values",
        24: "amount: outside [0.01, 50000.0]",
    }
    assert _stream_verdicts(rows, cards) == batch
