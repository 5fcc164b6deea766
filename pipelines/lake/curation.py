"""Validated batches -> curated rows: conform to the definition's types, then de-duplicate on the primary key.

Duplicates are removed twice: within the run (the first occurrence wins, in batch then row order) and against
the keys the curated table already holds. ``rows_in = rows_curated + duplicates_removed`` always holds;
:meth:`CurationCounts.reconcile` checks it before anything is committed.

Two engines share the de-duplication (:func:`unique_and_fresh`):

- :func:`curate_on_executors`, the ``curate`` job's: the batches (:func:`read_batches`) and the table's keys are
  read by Spark's executors, the anti-join against the keys is a distributed join, and the curated rows are
  written as Parquet files by the executors (:mod:`mlops.lake.spark_delta`); the driver holds only file lists,
  counts and file metadata, then commits one Delta version;
- :func:`deduplicate`, on Arrow tables in the caller's memory (small data; the reference the job's output is
  compared with in ``tests/integration/jobs/test_output_identity.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlops import layout
from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.lake.arrow_files import FileToRead, WrittenFile, cast_column, delete_files, filesystem
from mlops.layout import Layout
from mlops.ports.object_store import ObjectStore

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, Observation, SparkSession

_ORDER = "_mlops_batch_order"
_ROW = "_mlops_row"
UNIQUE_ROWS = "unique_rows"  # the metric an Observation given to unique_and_fresh holds
_BATCH_FOLDER = "batch_id="
# Delta application-transaction id recording that a version curated a batch (``txn`` action, version = the
# table version that committed it): the log itself says which batches are in the table.
BATCH_TRANSACTION_PREFIX = "mlops.curate.batch."


def batch_transaction_id(batch_id: str) -> str:
    """The Delta ``txn`` application id of a curated batch."""
    return f"{BATCH_TRANSACTION_PREFIX}{batch_id}"


def list_validated_batches(store: ObjectStore, lake: Layout, dataset: str) -> list[str]:
    """Batch ids validation left under ``<curated>/validated/<dataset>/batch_id=<id>/``, sorted."""
    prefix = layout.validated_prefix(dataset)
    found: set[str] = set()
    for key in store.list_keys(lake.bucket("curated"), prefix):
        folder = key[len(prefix) :].split("/", 1)[0]
        if folder.startswith(_BATCH_FOLDER) and "/" in key[len(prefix) :]:
            found.add(folder.removeprefix(_BATCH_FOLDER))
    return sorted(found)


def arrow_schema(definition: DatasetDefinition) -> pa.Schema:
    """The curated table's Arrow schema: the definition's columns and types (``int`` is 64-bit, times UTC).

    Every field is nullable in the Delta schema: validation enforces ``nullable: false`` before rows get here,
    and a definition that relaxes a column later must not make the table refuse appends.
    """
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
    }
    return pa.schema([pa.field(c.name, types[c.type]) for c in definition.columns])


def read_validated_batch(store: ObjectStore, lake: Layout, definition: DatasetDefinition, batch_id: str) -> pa.Table:
    """One validated batch, conformed: exactly the definition's columns, cast to its types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    key = layout.validated_key(definition.name, batch_id)
    uri = lake.zone_uri("curated", key)
    data = store.get(lake.bucket("curated"), key)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"validated batch {batch_id} of {definition.name!r} at {uri}: {exc}") from exc
    return conform(table, definition, f"batch {batch_id} ({uri})")


def conform(table: pa.Table, definition: DatasetDefinition, what: str) -> pa.Table:
    """``table`` with exactly the definition's columns in order, each cast to its type; errors name the column."""
    import pyarrow as pa

    schema = arrow_schema(definition)
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise DatasetError(f"{what} lacks columns {', '.join(missing)}")
    columns = [cast_column(table.column(field.name), field.type, field.name, what) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class CurationCounts:
    """What one curation run did to its rows."""

    rows_in: int
    rows_curated: int
    duplicates_within_run: int
    duplicates_against_table: int

    @property
    def duplicates_removed(self) -> int:
        return self.duplicates_within_run + self.duplicates_against_table

    def reconcile(self) -> None:
        """Refuse to commit a run whose rows do not add up."""
        if self.rows_in != self.rows_curated + self.duplicates_removed:
            raise DatasetError(
                f"curation counts do not reconcile: {self.rows_in} rows in != {self.rows_curated} curated + "
                f"{self.duplicates_removed} duplicates removed"
            )

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "duplicates_removed": self.duplicates_removed}


def _ordered_union(spark: SparkSession, batches: list[pa.Table]) -> DataFrame:
    import pyarrow as pa

    numbered = [
        batch.append_column(_ORDER, pa.array([order] * batch.num_rows, pa.int64())).append_column(
            _ROW, pa.array(range(batch.num_rows), pa.int64())
        )
        for order, batch in enumerate(batches)
    ]
    return spark.createDataFrame(pa.concat_tables(numbered))


def unique_and_fresh(
    rows: DataFrame, key: Sequence[str], existing_keys: DataFrame | None, counted: Observation | None = None
) -> tuple[DataFrame, DataFrame]:
    """``rows`` (numbered by batch and row) without duplicates within the run (the first occurrence wins), and
    of those the rows whose key ``existing_keys`` lacks (a distributed left anti-join), in batch then row order.
    With ``counted``, the unique rows are counted as they pass, by whichever action computes them
    (``counted.get[UNIQUE_ROWS]`` after it).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy(*key).orderBy(_ORDER, _ROW)
    unique = rows.withColumn("_mlops_rank", F.row_number().over(first)).filter(F.col("_mlops_rank") == 1)
    if counted is not None:
        unique = unique.observe(counted, F.count(F.lit(1)).alias(UNIQUE_ROWS))
    fresh = unique
    if existing_keys is not None:
        fresh = unique.join(existing_keys.select(*key), on=list(key), how="left_anti")
    return unique, fresh.orderBy(_ORDER, _ROW)


def deduplicate(
    spark: SparkSession, definition: DatasetDefinition, batches: list[pa.Table], existing_keys: pa.Table | None
) -> tuple[pa.Table, CurationCounts]:
    """Rows of ``batches`` (conformed, in order) whose primary key is new, and the counts of what was dropped.

    Everything passes through the caller's memory (Arrow in, Arrow out): for small data and as the reference of
    :func:`curate_on_executors`.
    """
    key = definition.primary_key
    keys = None
    if existing_keys is not None and existing_keys.num_rows:
        keys = spark.createDataFrame(existing_keys.select(key))
    unique, fresh = unique_and_fresh(_ordered_union(spark, batches), key, keys)
    curated = fresh.select(*definition.column_names).toArrow()
    rows_in = sum(batch.num_rows for batch in batches)
    unique_count = unique.count()
    counts = CurationCounts(
        rows_in=rows_in,
        rows_curated=curated.num_rows,
        duplicates_within_run=rows_in - unique_count,
        duplicates_against_table=unique_count - curated.num_rows,
    )
    counts.reconcile()
    return curated.cast(arrow_schema(definition)), counts


def batch_uri(lake: Layout, dataset: str, batch_id: str) -> str:
    """Where validation left a batch (one Parquet object)."""
    return lake.zone_uri("curated", layout.validated_key(dataset, batch_id))


def read_batches(
    spark: SparkSession,
    lake: Layout,
    definition: DatasetDefinition,
    batch_ids: Sequence[str],
    options: Mapping[str, str],
) -> tuple[DataFrame, int]:
    """The validated batches as one DataFrame read by the executors, conformed to the definition's types and
    numbered by batch and row (the order de-duplication keeps), and the number of rows they hold.

    The driver reads each batch's Parquet footer only: a batch lacking a column, or holding one whose type can
    never cast to the definition's, fails here naming the batch; values that do not cast fail in the task.
    """
    import pyarrow as pa

    schema = pa.schema([*arrow_schema(definition), pa.field(_ORDER, pa.int64()), pa.field(_ROW, pa.int64())])
    sources, rows_in = [], 0
    for order, batch_id in enumerate(batch_ids):
        uri = batch_uri(lake, definition.name, batch_id)
        rows_in += _check_batch(uri, options, definition, batch_id)
        sources.append(FileToRead(uri, constants={_ORDER: order}))
    from mlops.lake.spark_delta import read_files

    return read_files(spark, sources, schema, options, row_index=_ROW), rows_in


def _check_batch(uri: str, options: Mapping[str, str], definition: DatasetDefinition, batch_id: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, path = filesystem(uri, options)
    try:
        with fs.open_input_file(path) as handle:
            footer = pq.ParquetFile(handle)
            stored, rows = footer.schema_arrow, footer.metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"validated batch {batch_id} of {definition.name!r} at {uri}: {exc}") from exc
    what = f"batch {batch_id} ({uri})"
    missing = [name for name in definition.column_names if name not in stored.names]
    if missing:
        raise DatasetError(f"{what} lacks columns {', '.join(missing)}")
    for field in arrow_schema(definition):
        cast_column(pa.array([], stored.field(field.name).type), field.type, field.name, what)
    return int(rows)


def curate_on_executors(
    definition: DatasetDefinition,
    rows: DataFrame,
    rows_in: int,
    existing_keys: DataFrame | None,
    *,
    table_uri: str,
    options: Mapping[str, str],
) -> tuple[list[WrittenFile], CurationCounts]:
    """De-duplicate ``rows`` (from :func:`read_batches`) against themselves and ``existing_keys`` (the table's
    keys at the version the commit will be based on), write the curated rows as Parquet files below
    ``table_uri`` from the executors, and reconcile the counts. The files are NOT committed (the caller commits
    them with its metadata); if the counts do not reconcile they are deleted and nothing is left behind.
    """
    from pyspark.sql import Observation

    from mlops.lake.spark_delta import write_files

    counted = Observation(f"mlops_curate_{uuid.uuid4().hex}")  # a name no other query of the session observes
    _, fresh = unique_and_fresh(rows, definition.primary_key, existing_keys, counted)
    written, _ = write_files(fresh.select(*definition.column_names), table_uri, options, arrow_schema(definition))
    try:
        rows_curated = sum(w.num_records for w in written)
        # Counted by the write itself: a second action (``count``) would read and de-duplicate the batches again
        # (0.3-1 s of a warm run). No rows in, nothing to count: classic Spark's ``get`` waits for metrics, and
        # an optimiser that drops a plan it knows is empty could leave it waiting.
        unique_count = int(counted.get[UNIQUE_ROWS]) if rows_in else 0
        counts = CurationCounts(
            rows_in=rows_in,
            rows_curated=rows_curated,
            duplicates_within_run=rows_in - unique_count,
            duplicates_against_table=unique_count - rows_curated,
        )
        counts.reconcile()
    except BaseException:
        delete_files(table_uri, options, written)
        raise
    return written, counts
