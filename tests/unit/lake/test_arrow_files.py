"""The executors' file I/O on its own (pure pyarrow, no Spark): where a URI's files live, what a task reads from a
file, and the Parquet files and Delta statistics a task writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from pyarrow import fs as pafs

from mlops.errors import DatasetError
from mlops.lake.arrow_files import FileToRead, filesystem, join, read_file, s3_arguments, write_files

EMULATOR = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    "AWS_ALLOW_HTTP": "true",
    "conditional_put": "etag",
}


def test_s3_arguments_follow_the_delta_storage_options() -> None:
    assert s3_arguments(EMULATOR) == {
        "access_key": "testing",
        "secret_key": "secret",
        "region": "eu-west-1",
        "endpoint_override": "127.0.0.1:5000",
        "scheme": "http",
    }
    temporary = {"aws_access_key_id": "A", "aws_secret_access_key": "S", "aws_session_token": "T"}
    assert s3_arguments({**temporary, "AWS_DEFAULT_REGION": "us-east-1"}) == {
        "access_key": "A",
        "secret_key": "S",
        "session_token": "T",
        "region": "us-east-1",
    }
    assert s3_arguments({"conditional_put": "etag"}) == {}  # no keys: the AWS default chain (a Glue job's role)


def test_filesystems_by_uri() -> None:
    found, path = filesystem("s3://lake/tables/cards/part-0.parquet", EMULATOR)
    assert isinstance(found, pafs.S3FileSystem) and path == "lake/tables/cards/part-0.parquet"
    assert found.region == "eu-west-1"
    local, where = filesystem("file:///tmp/x/part-0.parquet", {})
    assert isinstance(local, pafs.LocalFileSystem) and where == "/tmp/x/part-0.parquet"
    assert filesystem("/tmp/x", {})[1] == "/tmp/x"
    assert join("s3://lake/tables/cards/", "/p=a/part-0.parquet") == "s3://lake/tables/cards/p=a/part-0.parquet"


def _file(tmp_path: Path, table: pa.Table, row_group_size: int | None = None) -> str:
    path = tmp_path / "part-0.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path)


def test_a_task_reads_the_columns_asked_with_partition_values_constants_and_row_numbers(tmp_path: Path) -> None:
    stored = pa.table({"k": pa.array(range(10), pa.int32()), "s": [f"v{i}" for i in range(10)], "x": [1.5] * 10})
    schema = pa.schema(
        [
            ("k", pa.int64()),
            ("day", pa.date32()),
            ("order", pa.int64()),
            ("row", pa.int64()),
            ("added_later", pa.string()),
        ]
    )
    source = FileToRead(_file(tmp_path, stored), {"day": "2026-01-05"}, {"order": 3})
    batches = list(read_file(source, {}, schema, row_index="row", batch_rows=4))
    assert [b.num_rows for b in batches] == [4, 4, 2]  # bounded batches, whatever the file's size
    got = pa.Table.from_batches(batches)
    assert got.schema == schema
    assert got.column("k").to_pylist() == list(range(10))  # cast int32 -> int64 as the table's schema says
    assert got.column("row").to_pylist() == list(range(10))
    assert set(got.column("order").to_pylist()) == {3}
    assert set(got.column("day").to_pylist()) == {datetime(2026, 1, 5).date()}
    assert got.column("added_later").null_count == 10  # a column the file predates reads as nulls


def test_only_derived_columns_still_give_one_row_per_stored_row(tmp_path: Path) -> None:
    source = FileToRead(_file(tmp_path, pa.table({"k": list(range(7))}), row_group_size=3), {"p": "a"})
    got = pa.Table.from_batches(list(read_file(source, {}, pa.schema([("p", pa.string())]), batch_rows=5)))
    assert got.column("p").to_pylist() == ["a"] * 7


def test_a_value_that_does_not_cast_names_the_file_and_the_column(tmp_path: Path) -> None:
    source = FileToRead(_file(tmp_path, pa.table({"amount": ["12.5", "lots"]})))
    with pytest.raises(DatasetError, match=r"part-0.parquet: column 'amount' \(string\) does not cast to double"):
        list(read_file(source, {}, pa.schema([("amount", pa.float64())])))


SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("amount", pa.float64()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("flag", pa.bool_()),
    ]
)


def _rows(n: int) -> pa.Table:
    return pa.table(
        {
            "id": list(range(n)),
            "name": [None if i % 5 == 0 else f"name-{i:04d}" for i in range(n)],
            "amount": [i * 1.25 for i in range(n)],
            "at": [datetime(2026, 1, 1, 0, 0, i % 60, 123_456 + i, tzinfo=UTC) for i in range(n)],
            "day": [datetime(2026, 2, 1 + i % 28).date() for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
        },
        schema=SCHEMA,
    )


def test_written_files_roll_over_keep_the_row_order_and_return_only_metadata(tmp_path: Path) -> None:
    data = _rows(250)
    written = write_files(data.to_batches(max_chunksize=30), str(tmp_path), {}, SCHEMA, task=7, rows_per_file=100)
    assert [w.num_records for w in written] == [100, 100, 50]
    assert [(w.task, w.seq) for w in written] == [(7, 0), (7, 1), (7, 2)]
    assert all(w.path.startswith("part-00007-") and w.path.endswith(".snappy.parquet") for w in written)
    back = pa.concat_tables([pq.read_table(tmp_path / w.path) for w in written])
    assert back.equals(data)
    assert all(w.size == (tmp_path / w.path).stat().st_size for w in written)
    assert write_files(iter(()), str(tmp_path / "none"), {}, SCHEMA) == []  # no rows, no file


def test_statistics_are_those_delta_rs_writes_for_the_same_rows(tmp_path: Path) -> None:
    data = _rows(60)
    (ours,) = write_files(data.to_batches(max_chunksize=16), str(tmp_path / "ours"), {}, SCHEMA)
    write_deltalake(str(tmp_path / "reference"), data)
    actions = pa.table(DeltaTable(str(tmp_path / "reference")).get_add_actions(flatten=False)).to_pylist()
    log = (tmp_path / "reference" / "_delta_log" / "00000000000000000000.json").read_text().splitlines()
    reference = json.loads(next(json.loads(line)["add"]["stats"] for line in log if '"add"' in line))
    stats = json.loads(ours.stats)
    assert stats["numRecords"] == reference["numRecords"] == actions[0]["num_records"] == 60
    assert stats["nullCount"] == reference["nullCount"]
    for bound in ("minValues", "maxValues"):
        assert stats[bound] == reference[bound], bound


def test_statistics_never_state_an_unsafe_bound(tmp_path: Path) -> None:
    long_text = "x" * 40
    data = pa.table({"s": ["a" * 35, long_text], "f": [float("nan"), 1.0]})
    (written,) = write_files(data.to_batches(), str(tmp_path), {}, data.schema)
    stats = json.loads(written.stats)
    assert stats["minValues"] == {"s": "a" * 32}  # a prefix bounds below; NaN gives no float bounds
    assert stats["maxValues"] == {}  # a truncated maximum would be below the real one


def test_rows_that_lack_a_column_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"rows written to .* lack columns flag"):
        write_files(_rows(3).drop_columns(["flag"]).to_batches(), str(tmp_path), {}, SCHEMA)
