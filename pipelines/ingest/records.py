"""Read a batch file's records leniently: every record becomes a row or a parse failure, none is lost.

CSV and JSON lines are read record by record so one malformed record costs one row, not the batch: a CSV row
with the wrong number of fields, bytes that are not UTF-8, a JSON line that does not parse or is not an object
become :class:`ParseFailure` entries with a reason. Values stay as read (strings for CSV, JSON values, Arrow
types for Parquet); typing them is validation's job. Row numbers count records from 1 (the CSV header is not a
record) and identify a row in quarantine. A UTF-8 byte-order mark (Excel writes one) is not data: it is dropped
before the header is read. A failure's ``raw`` is the whole record, however long: quarantine keeps what came in.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlops.errors import DatasetError
from pipelines.ingest.formats import FileFormat

ROW_NUMBER = "_row_number"


@dataclass(frozen=True)
class ParseFailure:
    """A record that could not be read as a row; ``raw`` is its text (shortened)."""

    row_number: int
    reason: str
    raw: str


@dataclass
class RawRecords:
    """The readable rows (index = row number) and the failures, in file order."""

    columns: list[str]
    frame: pd.DataFrame
    failures: list[ParseFailure] = field(default_factory=list)
    schema: dict[str, str] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.failures)


def _frame(rows: list[Any], columns: list[str], numbers: list[int]) -> pd.DataFrame:
    index = pd.Index(numbers, name=ROW_NUMBER, dtype="int64")
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns}, index=index)
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    frame.index = index
    return frame


def _without_bom(data: bytes) -> bytes:
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _read_csv(data: bytes, source: str) -> RawRecords:
    text = _without_bom(data).decode("utf-8", errors="replace")  # bad bytes become U+FFFD and fail only their record
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return RawRecords([], _frame([], [], []))
    except csv.Error as exc:
        raise DatasetError(f"{source}: the CSV header cannot be read: {exc}") from exc
    header = [name.strip() for name in header]
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    failures: list[ParseFailure] = []
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            failures.append(ParseFailure(number, f"malformed CSV record near line {reader.line_num}: {exc}", ""))
            continue
        if not record:
            continue  # a blank line is not a record
        number += 1
        raw = ",".join(record)
        if len(record) != len(header):
            hint = " (an unclosed quote joins lines)" if any("\n" in value for value in record) else ""
            reason = f"malformed CSV record: {len(record)} fields, header has {len(header)}{hint}"
            failures.append(ParseFailure(number, reason, raw))
        elif "\ufffd" in raw:
            failures.append(ParseFailure(number, "malformed CSV record: bytes that are not UTF-8", raw))
        else:
            rows.append([value if value != "" else None for value in record])
            numbers.append(number)
    return RawRecords(header, _frame(rows, header, numbers), failures, {name: "string" for name in header})


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _read_jsonl(data: bytes) -> RawRecords:
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    failures: list[ParseFailure] = []
    columns: dict[str, None] = {}  # insertion-ordered union of keys
    schema: dict[str, str] = {}
    number = 0
    for line in _without_bom(data).splitlines():
        if not line.strip():
            continue
        number += 1
        raw = line.decode("utf-8", errors="replace")
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            failures.append(ParseFailure(number, f"malformed JSON line: {exc}", raw))
            continue
        if not isinstance(value, dict):
            failures.append(ParseFailure(number, f"JSON line is a {_json_type(value)}, not an object", raw))
            continue
        for key, item in value.items():
            columns.setdefault(key)
            if item is not None:
                schema.setdefault(key, _json_type(item))
        rows.append(value)
        numbers.append(number)
    names = list(columns)
    return RawRecords(names, _frame(rows, names, numbers), failures, {name: schema.get(name, "null") for name in names})


def _read_parquet(data: bytes, source: str) -> RawRecords:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{source} is not a readable Parquet file: {exc}") from exc
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW_NUMBER)
    schema = {f.name: str(f.type) for f in table.schema}
    return RawRecords(list(table.column_names), frame, [], schema)


def read_records(data: bytes, file_format: FileFormat, source: str) -> RawRecords:
    """Every record of a batch file, as a row or a failure; ``source`` names the file in errors."""
    if file_format is FileFormat.CSV:
        return _read_csv(data, source)
    if file_format is FileFormat.JSONL:
        return _read_jsonl(data)
    return _read_parquet(data, source)
