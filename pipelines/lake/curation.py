"""Validated batches -> curated rows: conform to the definition's types, then de-duplicate on the primary key.

Duplicates are removed twice: within the run (the first occurrence wins, in batch then row order) and against
the keys the curated table already holds. ``rows_in = rows_curated + duplicates_removed`` always holds;
:meth:`CurationCounts.reconcile` checks it before anything is committed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlops import layout
from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.layout import Layout
from mlops.ports.object_store import ObjectStore

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

_ORDER = "_mlops_batch_order"
_ROW = "_mlops_row"
_BATCH_FOLDER = "batch_id="


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
    columns = []
    for field in schema:
        try:
            columns.append(table.column(field.name).cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            column_type = table.schema.field(field.name).type
            raise DatasetError(
                f"{what}: column {field.name!r} ({column_type}) does not cast to {field.type}: {exc}"
            ) from exc
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


def deduplicate(
    spark: SparkSession, definition: DatasetDefinition, batches: list[pa.Table], existing_keys: pa.Table | None
) -> tuple[pa.Table, CurationCounts]:
    """Rows of ``batches`` (conformed, in order) whose primary key is new, and the counts of what was dropped."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = definition.primary_key
    rows = _ordered_union(spark, batches)
    first = Window.partitionBy(*key).orderBy(_ORDER, _ROW)
    unique = rows.withColumn("_mlops_rank", F.row_number().over(first)).filter(F.col("_mlops_rank") == 1)
    fresh = unique
    if existing_keys is not None and existing_keys.num_rows:
        fresh = unique.join(spark.createDataFrame(existing_keys.select(key)), on=key, how="left_anti")
    fresh = fresh.orderBy(_ORDER, _ROW).select(*definition.column_names)
    curated = fresh.toArrow()
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
