"""Arrow <-> Spark schemas for the batches ``mapInArrow`` exchanges, the same on Spark 3.5 (Glue 5) and Spark 4.

pyspark's own converters differ between the two (``to_arrow_schema`` needs a time zone argument on Spark 4 that
Spark 3.5 does not take; ``from_arrow_schema`` defaults to timestamp-without-zone on Spark 4 only), so the kit
maps the types its tables use itself. Timestamps with a zone are Spark ``timestamp`` and Arrow microseconds in
UTC (the kit's sessions run in UTC); strings and binaries of every Arrow width map to one Spark type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.ports.table_store import TableStoreError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of Arrow batches with ``schema`` (nullability kept)."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(f.name, _spark_type(f.name, f.type), f.nullable) for f in schema])


def _spark_type(name: str, arrow: pa.DataType) -> DataType:
    import pyarrow as pa
    from pyspark.sql import types as T

    simple: list[tuple[Any, Any]] = [
        (pa.types.is_boolean, T.BooleanType),
        (pa.types.is_int8, T.ByteType),
        (pa.types.is_int16, T.ShortType),
        (pa.types.is_int32, T.IntegerType),
        (pa.types.is_int64, T.LongType),
        (pa.types.is_float32, T.FloatType),
        (pa.types.is_float64, T.DoubleType),
        (pa.types.is_date32, T.DateType),
        (pa.types.is_string, T.StringType),
        (pa.types.is_large_string, T.StringType),
        (pa.types.is_string_view, T.StringType),
        (pa.types.is_binary, T.BinaryType),
        (pa.types.is_large_binary, T.BinaryType),
        (pa.types.is_binary_view, T.BinaryType),
    ]
    for check, spark in simple:
        if check(arrow):
            return spark()  # type: ignore[no-any-return]
    if pa.types.is_timestamp(arrow):
        return T.TimestampType() if arrow.tz else T.TimestampNTZType()
    if pa.types.is_decimal128(arrow):
        return T.DecimalType(arrow.precision, arrow.scale)
    raise TableStoreError(f"column {name!r}: Arrow type {arrow} has no Spark type in the kit's tables")


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark's batches of ``schema`` are written with (nullability kept)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, _arrow_type(f.name, f.dataType), f.nullable) for f in schema.fields])


def _arrow_type(name: str, spark: DataType) -> pa.DataType:
    import pyarrow as pa
    from pyspark.sql import types as T

    simple: list[tuple[type[Any], pa.DataType]] = [
        (T.BooleanType, pa.bool_()),
        (T.ByteType, pa.int8()),
        (T.ShortType, pa.int16()),
        (T.IntegerType, pa.int32()),
        (T.LongType, pa.int64()),
        (T.FloatType, pa.float32()),
        (T.DoubleType, pa.float64()),
        (T.DateType, pa.date32()),
        (T.StringType, pa.string()),
        (T.BinaryType, pa.binary()),
        (T.TimestampType, pa.timestamp("us", tz="UTC")),
        (T.TimestampNTZType, pa.timestamp("us")),
    ]
    for spark_class, arrow in simple:
        if type(spark) is spark_class:
            return arrow
    if isinstance(spark, T.DecimalType):
        return pa.decimal128(spark.precision, spark.scale)
    raise TableStoreError(f"column {name!r}: Spark type {spark.simpleString()} has no Arrow type in the kit's tables")
