"""Distributed Delta I/O in a real Spark session: executors read the files of a version (pruned by partition and
column) and write Parquet files the driver commits; the curation engine on it matches the driver-side one.

Tables on the session emulator's S3 (the executors' tasks build their S3 client from the store's storage
options), and local ones where the point is the file layout.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops import layout
from mlops.datasets import find_definition
from mlops.errors import DatasetError
from mlops.lake.delta_files import commit_files
from mlops.lake.spark_delta import read_delta, write_delta
from mlops.platform import Platform
from pipelines.lake.curation import (
    arrow_schema,
    conform,
    curate_on_executors,
    deduplicate,
    read_batches,
)
from tests.integration.jobs.conftest import REPO

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark


def test_a_version_read_by_the_executors_is_the_one_delta_rs_reads(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    first = pa.table({"id": list(range(40)), "day": [f"d{i % 3}" for i in range(40)], "x": [i / 4 for i in range(40)]})
    write_deltalake(uri, first, partition_by=["day"])
    write_deltalake(uri, first.slice(0, 10).set_column(0, "id", pa.array(range(100, 110))), mode="append")

    read = read_delta(spark, uri, {}, 0, columns=["x", "day"], partition_filters=[("day", "in", ["d0", "d2"])])
    assert (read.version, read.schema.names, read.rows) == (0, ["x", "day"], read.frame.count())
    expected = DeltaTable(uri, version=0).to_pyarrow_table(columns=["x", "day"]).to_pylist()
    got = [row.asDict() for row in read.frame.collect()]
    assert sorted(got, key=lambda r: r["x"]) == sorted(
        (r for r in expected if r["day"] in ("d0", "d2")), key=lambda r: r["x"]
    )
    latest = read_delta(spark, uri, {})
    assert (latest.version, latest.rows, latest.frame.count()) == (1, 50, 50)


def test_rows_written_by_many_tasks_come_back_in_the_frame_s_order(spark: SparkSession, tmp_path: Path) -> None:
    frame = spark.range(0, 5000, numPartitions=4).selectExpr("id", "cast(id % 7 as string) as k").orderBy("k", "id")
    written = write_delta(frame, str(tmp_path / "sorted"), {}, "overwrite", {"by": "test"}, rows_per_file=600)
    assert (written.version, written.rows) == (0, 5000)
    assert written.files >= 9  # several tasks, each rolling over to new files
    back = DeltaTable(str(tmp_path / "sorted")).to_pyarrow_table()
    assert back.column("id").to_pylist() == [r["id"] for r in frame.collect()]
    assert str(back.schema) == str(written.schema)


@pytest.fixture
def cards(platform: Platform, tmp_path: Path) -> dict[str, Any]:
    """A dataset of its own with validated batches on the emulator's S3."""
    import yaml

    name = f"spark_delta_{uuid.uuid4().hex[:8]}"
    raw = yaml.safe_load((REPO / "pipelines/datasets/card_transactions.yaml").read_text())
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**raw, "name": name}))
    return {"name": name, "definition": find_definition(name, tmp_path)}


def _put_batch(platform: Platform, dataset: str, batch_id: str, table: pa.Table) -> None:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    platform.services.object_store.put(
        platform.layout.bucket("curated"), layout.validated_key(dataset, batch_id), sink.getvalue()
    )


def _rows(ids: list[str]) -> pa.Table:
    return pa.table(
        {
            "transaction_id": ids,
            "customer_id": [f"c{n % 3}" for n in range(len(ids))],
            "merchant_id": ["m1"] * len(ids),
            "event_time": pa.array(range(len(ids)), pa.timestamp("us", tz="UTC")),
            "amount": [float(n) for n in range(len(ids))],
            "category": ["grocery"] * len(ids),
            "channel": ["online"] * len(ids),
            "country": ["FR"] * len(ids),
            "is_fraud": pa.array([n % 2 for n in range(len(ids))], pa.int32()),
        }
    )


@pytest.mark.emulator
def test_curation_on_the_executors_matches_the_driver_side_engine(
    spark: SparkSession, platform: Platform, cards: dict[str, Any]
) -> None:
    name, definition = cards["name"], cards["definition"]
    batches = {"b1": _rows(["x1", "x2", "x1", "x3"]), "b2": _rows(["x4", "x2", "x5", "x4", "x6"])}
    for batch_id, table in batches.items():
        _put_batch(platform, name, batch_id, table)
    options = platform.services.table_store.storage_options()
    uri = platform.layout.table_uri("curated", name)
    existing = pa.table({"transaction_id": ["x6", "zz"]})
    reference, reference_counts = deduplicate(
        spark, definition, [conform(t, definition, b) for b, t in batches.items()], existing
    )

    rows, rows_in = read_batches(spark, platform.layout, definition, list(batches), options)
    keys = spark.createDataFrame(existing)
    written, counts = curate_on_executors(definition, rows, rows_in, keys, table_uri=uri, options=options)
    version = commit_files(uri, options, written, arrow_schema(definition), "append", metadata={}, based_on=None)
    assert counts == reference_counts
    assert (counts.rows_in, counts.duplicates_within_run, counts.duplicates_against_table) == (9, 3, 1)
    assert platform.services.table_store.read(uri, version).data.to_pylist() == reference.to_pylist()

    again, _ = read_batches(spark, platform.layout, definition, ["b1"], options)
    taken = read_delta(spark, uri, options, version, columns=definition.primary_key).frame
    nothing, none_counts = curate_on_executors(definition, again, 4, taken, table_uri=uri, options=options)
    assert (nothing, none_counts.rows_curated, none_counts.duplicates_against_table) == ([], 0, 3)

    _put_batch(platform, name, "empty", _rows([]))  # all its rows quarantined: nothing in, nothing counted
    empty, empty_in = read_batches(spark, platform.layout, definition, ["empty"], options)
    none_written, zero = curate_on_executors(definition, empty, empty_in, taken, table_uri=uri, options=options)
    assert (none_written, zero.rows_in, zero.duplicates_removed) == ([], 0, 0)


@pytest.mark.emulator
def test_a_batch_that_cannot_be_curated_is_named_before_any_task_runs(
    spark: SparkSession, platform: Platform, cards: dict[str, Any]
) -> None:
    name, definition = cards["name"], cards["definition"]
    options = platform.services.table_store.storage_options()
    _put_batch(platform, name, "short", _rows(["a"]).drop_columns(["country"]))
    with pytest.raises(DatasetError, match=r"batch short \(.*part-0.parquet\) lacks columns country"):
        read_batches(spark, platform.layout, definition, ["short"], options)
    dated = _rows(["a"]).set_column(4, "amount", pa.array([None], pa.date32()))
    _put_batch(platform, name, "dated", dated)
    with pytest.raises(DatasetError, match=r"column 'amount' \(date32\[day\]\) does not cast to double"):
        read_batches(spark, platform.layout, definition, ["dated"], options)
