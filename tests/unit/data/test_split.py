"""Bad input judged without the emulator: every record ends valid or quarantined with its reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import ConfigError, DatasetError
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.ingest.formats import FileFormat, format_of
from pipelines.ingest.records import read_records
from pipelines.validation.split import split_batch

DATASETS = Path(__file__).resolve().parents[3] / "pipelines" / "datasets"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cards() -> DatasetDefinition:
    return find_definition("card_transactions", DATASETS)


def _csv(rows: int = 150) -> str:
    frame = generate_card_transactions(CardOptions(rows=rows, seed=5))
    frame["event_time"] = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text: str = frame.to_csv(index=False)
    return text


def test_malformed_csv_records_and_wrong_types_are_quarantined_with_reasons(cards: DatasetDefinition) -> None:
    text = _csv() + "only,three,fields\n" + "t-x,c,m,2024-01-01T00:00:00Z,lots,grocery,online,US,0\n"
    text += "t-y,c,m,not-a-time,5.0,grocery,online,US,0\n" + "t-z,c,m,2024-01-01T00:00:00Z,5.0,crypto,online,US,3\n"
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b1", NOW)
    assert (split.rows_in, len(split.valid), len(split.quarantine)) == (154, 150, 4)
    reasons = dict(zip(split.quarantine["_row_number"], split.quarantine["_reason"], strict=True))
    assert reasons == {
        151: "malformed CSV record: 3 fields, header has 9",
        152: "amount: 'lots' is not of type double",
        153: "event_time: 'not-a-time' is not of type timestamp",
        154: "category: not one of the allowed values; is_fraud: not one of the allowed values",
    }
    assert split.quarantine["_batch_id"].unique().tolist() == ["b1"]
    assert split.failures == []
    assert str(split.valid["amount"].dtype) == "float64"
    assert str(split.valid["event_time"].dtype) == "datetime64[ns, UTC]"


def test_malformed_json_lines_are_quarantined_one_by_one(cards: DatasetDefinition) -> None:
    frame = generate_card_transactions(CardOptions(rows=120, seed=5))
    frame["event_time"] = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = frame.to_json(orient="records", lines=True) + '{"transaction_id": "broken"\n[1, 2]\n'
    split = split_batch(read_records(text.encode(), FileFormat.JSONL, "b.jsonl"), cards, "b2", NOW)
    assert (split.rows_in, len(split.valid)) == (122, 120)
    assert split.quarantine["_reason"].tolist() == [
        "malformed JSON line: Expecting ',' delimiter: line 1 column 28 (char 27)",
        "JSON line is a list, not an object",
    ]
    assert split.quarantine["_raw"].tolist() == ['{"transaction_id": "broken"', "[1, 2]"]


def test_a_missing_column_quarantines_the_whole_batch_and_fails_it(cards: DatasetDefinition) -> None:
    lines = _csv().splitlines()
    text = "\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n"  # drop is_fraud
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b3", NOW)
    assert (len(split.valid), len(split.quarantine)) == (0, 150)
    assert set(split.quarantine["_reason"]) == {"missing column(s): is_fraud"}
    assert split.failures == [
        "missing column(s): is_fraud",
        "150 of 150 rows are bad (100.00%), more than quality.max_bad_fraction 5.00%",
    ]


def test_an_extra_column_is_dropped_with_a_warning(cards: DatasetDefinition) -> None:
    lines = _csv().splitlines()
    text = "\n".join(f"{line},{'note' if i == 0 else 'x'}" for i, line in enumerate(lines)) + "\n"
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b4", NOW)
    assert (len(split.valid), len(split.quarantine)) == (150, 0)
    assert split.warnings == ["extra column(s) dropped: note"]
    assert list(split.valid.columns) == cards.column_names


def test_duplicate_keys_and_too_few_rows_are_reported(cards: DatasetDefinition) -> None:
    lines = _csv(rows=50).splitlines()
    text = "\n".join([*lines, lines[1]]) + "\n"
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b5", NOW)
    assert split.quarantine["_row_number"].tolist() == [1, 51]
    assert set(split.quarantine["_reason"]) == {"transaction_id: duplicate value"}
    assert split.failures == ["fewer rows than quality.min_rows (100) (observed: 51)"]


def test_a_header_only_file_fails_on_min_rows(cards: DatasetDefinition) -> None:
    text = ",".join(cards.column_names) + "\n"
    split = split_batch(read_records(text.encode(), FileFormat.CSV, "b.csv"), cards, "b6", NOW)
    assert (split.rows_in, len(split.valid), len(split.quarantine)) == (0, 0, 0)
    assert split.failures == ["fewer rows than quality.min_rows (100) (observed: 0)"]


def test_unknown_formats_and_unreadable_parquet_are_errors() -> None:
    with pytest.raises(DatasetError, match=r"cannot tell the format of data.xlsx from its suffix '.xlsx'"):
        format_of(Path("data.xlsx"))
    with pytest.raises(DatasetError, match=r"unknown file format 'xml' for data.csv"):
        format_of(Path("data.csv"), "xml")
    with pytest.raises(DatasetError, match=r"b\.parquet is not a readable Parquet file"):
        read_records(b"not parquet at all", FileFormat.PARQUET, "b.parquet")


def test_a_definition_with_errors_names_the_field(tmp_path: Path) -> None:
    text = (DATASETS / "card_transactions.yaml").read_text().replace("max_bad_fraction: 0.05", "max_bad_fraction: 2")
    (tmp_path / "card_transactions.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"quality\.max_bad_fraction: Input should be less than or equal to 1"):
        find_definition("card_transactions", tmp_path)
    with pytest.raises(ConfigError, match=r"unknown dataset 'weather'; defined in .*: card_transactions"):
        find_definition("weather", tmp_path)


def test_diabetes_definition_loads_with_regression_task() -> None:
    definition = find_definition("diabetes", DATASETS)
    assert (definition.task, definition.entity_key, definition.event_time) == ("regression", "patient_id", "visit_time")
    assert definition.label.column == "target"
