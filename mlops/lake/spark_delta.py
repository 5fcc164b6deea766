"""Delta tables as Spark DataFrames whose rows only ever live on the executors.

Why not Spark's own Delta support: it needs the delta-spark and hadoop-aws jars (from Maven, unreachable from
the kit's local runs), and its S3 commits need a DynamoDB log store for safe concurrent writers, while delta-rs
commits with S3's conditional writes (:mod:`mlops.lake.delta`). So the same code runs on Glue 5 (Spark 3.5) and
the local Spark 4 with no jar at all:

- reading (:func:`read_delta`): the driver lists the version's data files from the Delta log through delta-rs
  (partition pruning there), and a DataFrame of file numbers (``range``) is ``mapInArrow``-ed into the rows: each task
  opens its files with pyarrow (:mod:`mlops.lake.arrow_files`), reading only the columns asked for;
- writing (:func:`write_delta`): each task streams its partition of the DataFrame into Parquet files below the
  table root and returns one small row per file (path, size, statistics); the driver collects those rows only
  and commits them as ONE Delta version through delta-rs (:func:`mlops.lake.delta_files.commit_files`).

The driver holds file lists and per-file metadata, never rows: its memory does not grow with the table.
Storage options travel to the tasks as a plain dict (credentials included: the tasks build their own S3 client).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from mlops.lake import arrow_files
from mlops.lake.arrow_files import FileToRead, WrittenFile
from mlops.lake.delta_files import PartitionFilter, commit_files, table_files
from mlops.lake.spark_types import arrow_schema, spark_schema
from mlops.ports.table_store import TableStoreError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

_WRITTEN_DDL = "path string, size long, modification_time long, num_records long, stats string, task long, seq long"
MAX_READ_TASKS = 4096


@dataclass(frozen=True)
class DeltaRead:
    """A version of a table as a DataFrame: which version, its Arrow schema (of the columns read), its rows
    according to the log's statistics (``None`` when a file has none) and how many files the tasks read."""

    frame: DataFrame
    version: int
    schema: pa.Schema
    rows: int | None
    files: int


@dataclass(frozen=True)
class DeltaWrite:
    """What one distributed write committed: the version, the rows, the files and the schema."""

    version: int
    rows: int
    files: int
    schema: pa.Schema


def read_delta(
    spark: SparkSession,
    uri: str,
    options: Mapping[str, str],
    version: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    partition_filters: Sequence[PartitionFilter] = (),
) -> DeltaRead:
    """``version`` (default: the latest) of the table at ``uri``, read by the executors, only ``columns``."""
    listed = table_files(uri, dict(options), version, partition_filters)
    schema = listed.schema
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise TableStoreError(f"Delta table {uri} version {listed.version} has no columns {', '.join(missing)}")
        schema = _select(schema, columns)
    sources = [FileToRead(f.uri, f.partition_values) for f in listed.files]
    frame = read_files(spark, sources, schema, options)
    return DeltaRead(frame, listed.version, schema, listed.rows, len(sources))


def read_files(
    spark: SparkSession,
    sources: Sequence[FileToRead],
    schema: pa.Schema,
    options: Mapping[str, str],
    *,
    row_index: str | None = None,
    batch_rows: int = 65_536,
) -> DataFrame:
    """Parquet files as one DataFrame of ``schema``, each file read by one task (see
    :func:`mlops.lake.arrow_files.read_file` for where each column comes from)."""
    spark_rows = spark_schema(schema)
    if not sources:
        return spark.createDataFrame([], spark_rows)
    # The file list travels with the task function; ``range`` numbers the files into contiguous slices, one slice
    # per task (what ``sparkContext.parallelize`` did, which Spark Connect does not have).
    files = [(s.uri, json.dumps(dict(s.partition_values)), json.dumps(dict(s.constants), default=str)) for s in sources]
    numbers = spark.range(0, len(files), 1, min(len(files), MAX_READ_TASKS))
    task = partial(
        _read_task, files=files, options=dict(options), schema=schema, row_index=row_index, batch_rows=batch_rows
    )
    return numbers.mapInArrow(task, spark_rows)


def _read_task(
    numbers: Iterator[pa.RecordBatch],
    *,
    files: list[tuple[str, str, str]],
    options: dict[str, str],
    schema: pa.Schema,
    row_index: str | None,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Runs in an executor: the rows of the files whose numbers are in this task's slice."""
    for batch in numbers:
        for number in batch.column(0).to_pylist():
            uri, partition_values, constants = files[number]
            source = FileToRead(uri, json.loads(partition_values), json.loads(constants))
            yield from arrow_files.read_file(source, options, schema, row_index=row_index, batch_rows=batch_rows)


def write_files(
    frame: DataFrame,
    uri: str,
    options: Mapping[str, str],
    schema: pa.Schema | None = None,
    *,
    rows_per_file: int = 2_000_000,
) -> tuple[list[WrittenFile], pa.Schema]:
    """The executors write ``frame`` as Parquet files below ``uri`` (uncommitted); their metadata and schema.

    ``schema`` (default: the frame's own, :func:`mlops.lake.spark_types.arrow_schema`) is the files' schema;
    each task casts its rows to it. Files are listed in the frame's row order.
    """
    target = schema if schema is not None else arrow_schema(frame.schema)
    task = partial(_write_task, root=uri, options=dict(options), schema=target, rows_per_file=rows_per_file)
    rows = frame.mapInArrow(task, _WRITTEN_DDL).collect()
    written = [
        WrittenFile(
            path=r["path"],
            size=r["size"],
            modification_time=r["modification_time"],
            num_records=r["num_records"],
            stats=r["stats"],
            task=r["task"],
            seq=r["seq"],
        )
        for r in rows
    ]
    return sorted(written, key=lambda f: (f.task, f.seq)), target


def _write_task(
    batches: Iterator[pa.RecordBatch],
    *,
    root: str,
    options: dict[str, str],
    schema: pa.Schema,
    rows_per_file: int,
) -> Iterator[pa.RecordBatch]:
    """Runs in an executor: this partition's rows -> Parquet files; one metadata row per file."""
    import pyarrow as pa
    from pyspark import TaskContext

    context = TaskContext.get()
    task = context.partitionId() if context is not None else 0
    written = arrow_files.write_files(batches, root, options, schema, task=task, rows_per_file=rows_per_file)
    if written:
        yield pa.RecordBatch.from_pylist([_written_row(w) for w in written], schema=_written_schema())


def _written_row(written: WrittenFile) -> dict[str, Any]:
    return {
        "path": written.path,
        "size": written.size,
        "modification_time": written.modification_time,
        "num_records": written.num_records,
        "stats": written.stats,
        "task": written.task,
        "seq": written.seq,
    }


def _written_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("size", pa.int64()),
            ("modification_time", pa.int64()),
            ("num_records", pa.int64()),
            ("stats", pa.string()),
            ("task", pa.int64()),
            ("seq", pa.int64()),
        ]
    )


def write_delta(
    frame: DataFrame,
    uri: str,
    options: Mapping[str, str],
    mode: Literal["append", "overwrite"],
    metadata: Mapping[str, Any],
    *,
    schema: pa.Schema | None = None,
    based_on: int | Literal["latest"] | None = "latest",
    transactions: Sequence[str] = (),
    rows_per_file: int = 2_000_000,
) -> DeltaWrite:
    """``frame`` written by the executors and committed by the driver as one version (see
    :func:`mlops.lake.delta_files.commit_files` for ``mode``, ``based_on`` and ``transactions``)."""
    written, target = write_files(frame, uri, options, schema, rows_per_file=rows_per_file)
    version = commit_files(
        uri, dict(options), written, target, mode, metadata=metadata, based_on=based_on, transactions=transactions
    )
    return DeltaWrite(version, sum(w.num_records for w in written), len(written), target)


def _select(schema: pa.Schema, columns: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([schema.field(c) for c in columns])
