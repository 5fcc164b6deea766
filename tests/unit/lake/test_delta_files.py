"""The driver's half of distributed Delta I/O on local tables (delta-rs, no Spark): the files of a version and
ONE conditional commit of files written elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops.lake import delta
from mlops.lake.arrow_files import WrittenFile, write_files
from mlops.lake.delta_files import commit_files, table_files, transaction_versions
from mlops.ports.table_store import TableCommitConflictError, TableNotFoundError, TableStoreError

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _files(root: Path, first: int, rows: int, task: int = 0) -> list[WrittenFile]:
    data = pa.table({"id": list(range(first, first + rows)), "name": [f"n{i}" for i in range(first, first + rows)]})
    return write_files(data.to_batches(), str(root), {}, SCHEMA, task=task, rows_per_file=4)


def _ids(uri: str, version: int | None = None) -> list[int]:
    ids: list[int] = DeltaTable(uri, version=version).to_pyarrow_table().column("id").to_pylist()
    return ids


def test_a_first_commit_creates_the_table_with_metadata_and_batch_transactions(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    # Files listed out of order come back in (task, seq) order: the order the job sorted its rows in.
    files = [*_files(tmp_path / "cards", 10, 3, task=1), *_files(tmp_path / "cards", 0, 10, task=0)]
    version = commit_files(
        uri,
        {},
        files,
        SCHEMA,
        "append",
        metadata={"batch_ids": ["b1"], "rows": 13},
        based_on=None,
        transactions=["curate.b1"],
    )
    assert version == 0
    assert _ids(uri) == list(range(13))
    assert delta.commit_metadata(uri, {})[0] == {"batch_ids": '["b1"]', "rows": "13"}
    assert transaction_versions(uri, {}, ["curate.b1", "curate.b2"]) == {"curate.b1": 0}


def test_an_append_based_on_the_latest_version_becomes_the_next_one(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    commit_files(uri, {}, _files(tmp_path / "cards", 0, 5), SCHEMA, "append", metadata={}, based_on=None)
    version = commit_files(
        uri,
        {},
        _files(tmp_path / "cards", 5, 5),
        SCHEMA,
        "append",
        metadata={"n": 2},
        based_on=0,
        transactions=["curate.b2"],
    )
    assert version == 1
    assert (_ids(uri, 0), sorted(_ids(uri))) == (list(range(5)), list(range(10)))
    assert transaction_versions(uri, {}, ["curate.b2"]) == {"curate.b2": 1}


def test_a_commit_based_on_a_stale_version_loses_and_leaves_no_file(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    commit_files(uri, {}, _files(tmp_path / "cards", 0, 2), SCHEMA, "append", metadata={}, based_on=None)
    commit_files(uri, {}, _files(tmp_path / "cards", 2, 2), SCHEMA, "append", metadata={}, based_on=0)
    late = _files(tmp_path / "cards", 100, 2)
    with pytest.raises(TableCommitConflictError, match=r"the job read version 0 but version 1 is now the latest"):
        commit_files(uri, {}, late, SCHEMA, "append", metadata={}, based_on=0)
    assert not any((tmp_path / "cards" / f.path).exists() for f in late)
    assert sorted(_ids(uri)) == [0, 1, 2, 3]
    with pytest.raises(TableCommitConflictError, match=r"created meanwhile by another writer"):
        commit_files(uri, {}, _files(tmp_path / "cards", 9, 1), SCHEMA, "append", metadata={}, based_on=None)


def test_an_append_whose_columns_are_not_the_tables_is_refused(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    commit_files(uri, {}, _files(tmp_path / "cards", 0, 2), SCHEMA, "append", metadata={}, based_on=None)
    wider = pa.schema([*SCHEMA, ("extra", pa.float64())])
    extra = write_files(pa.table({"id": [7], "name": ["x"], "extra": [1.0]}, schema=wider).to_batches(), uri, {}, wider)
    with pytest.raises(TableStoreError, match=r"the rows' columns .*'extra'.* are not the table's"):
        commit_files(uri, {}, extra, wider, "append", metadata={}, based_on=0)
    assert not (tmp_path / "cards" / extra[0].path).exists()
    assert delta.current_version(uri, {}) == 0


def test_an_overwrite_replaces_rows_and_schema_on_top_of_the_latest(tmp_path: Path) -> None:
    uri = str(tmp_path / "features")
    commit_files(uri, {}, _files(tmp_path / "features", 0, 6), SCHEMA, "overwrite", metadata={})
    narrow = pa.schema([("id", pa.int64())])
    files = write_files(pa.table({"id": [42]}).to_batches(), uri, {}, narrow)
    assert commit_files(uri, {}, files, narrow, "overwrite", metadata={"source_version": "3"}) == 1
    table = DeltaTable(uri).to_pyarrow_table()
    assert (table.column_names, table.column("id").to_pylist()) == (["id"], [42])
    assert delta.commit_metadata(uri, {})[1] == {"source_version": "3"}
    assert _ids(uri, 0) == list(range(6))  # the version before is still there, whole


def test_an_empty_commit_is_a_version_without_rows(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    assert commit_files(uri, {}, [], SCHEMA, "append", metadata={"rows_curated": 0}, based_on=None) == 0
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 0
    assert commit_files(uri, {}, [], SCHEMA, "append", metadata={}, based_on=0) == 1


def test_the_files_of_a_version_with_partition_pruning(tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    data = pa.table({"id": [1, 2, 3, 4], "day": ["d1", "d1", "d2", None], "n": [1, 2, 3, 4]})
    write_deltalake(uri, data, partition_by=["day"])
    write_deltalake(uri, data.slice(0, 1), partition_by=["day"], mode="append")
    latest = table_files(uri, {})
    assert (latest.version, latest.partition_columns, latest.rows) == (1, ["day"], 5)
    assert latest.schema.names == ["id", "day", "n"]
    first = table_files(uri, {}, version=0)
    assert (first.version, first.rows) == (0, 4)
    d1 = table_files(uri, {}, partition_filters=[("day", "=", "d1")])
    assert {tuple(f.partition_values.items()) for f in d1.files} == {(("day", "d1"),)}
    assert d1.rows == 3 and all(Path(f.uri).exists() for f in d1.files)
    others = table_files(uri, {}, partition_filters=[("day", "not in", ["d1"])])
    assert sorted(str(f.partition_values["day"]) for f in others.files) == ["None", "d2"]
    with pytest.raises(TableStoreError, match=r"n are not partition columns \['day'\]"):
        table_files(uri, {}, partition_filters=[("n", "=", 1)])
    with pytest.raises(TableNotFoundError, match=r"has no version 5; its versions are 0..1"):
        table_files(uri, {}, version=5)


def test_a_table_with_deletion_vectors_is_refused_not_misread(tmp_path: Path) -> None:
    uri = str(tmp_path / "dv")
    write_deltalake(uri, pa.table({"a": [1]}), configuration={"delta.enableDeletionVectors": "true"})
    with pytest.raises(TableStoreError, match=r"uses deletionVectors, which the executors' reader does not apply"):
        table_files(uri, {})


def test_commit_metadata_values_are_json_unless_strings() -> None:
    assert delta.commit_info({"batch_ids": ["a"], "job": "jr_1", "rows": 3}) == {
        "mlops.batch_ids": json.dumps(["a"]),
        "mlops.job": "jr_1",
        "mlops.rows": "3",
    }
