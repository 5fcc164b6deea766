"""Glue Data Catalog entries for the lake's Delta tables: Athena, Glue and people find the data through them.

After every write the table ``<dataset>_<zone>`` in the stack's Glue database points at the Delta location,
lists its columns and carries the version just written (``delta_version``) plus any lineage parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mlops.errors import DatasetError

if TYPE_CHECKING:
    import pyarrow as pa


def hive_type(arrow_type: pa.DataType) -> str:
    """The Glue/Hive column type of an Arrow type."""
    import pyarrow as pa

    checks: list[tuple[Any, str]] = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_integer, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_floating, "double"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_date, "date"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_string_view, "string"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    raise DatasetError(f"no Glue column type for Arrow type {arrow_type}")


def register_delta_table(
    glue: Any,
    *,
    database: str,
    name: str,
    location: str,
    schema: pa.Schema,
    version: int,
    parameters: dict[str, str] | None = None,
) -> None:
    """Create or update the Glue table ``database.name`` for the Delta table at ``location`` at ``version``."""
    table_input: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "delta",
            "table_type": "DELTA",
            "delta_version": str(version),
            **(parameters or {}),
        },
        "StorageDescriptor": {
            "Location": location,
            "Columns": [{"Name": field.name, "Type": hive_type(field.type)} for field in schema],
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        },
    }
    try:
        try:
            glue.update_table(DatabaseName=database, TableInput=table_input)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityNotFoundException":
                raise
            glue.create_table(DatabaseName=database, TableInput=table_input)
    except ClientError as exc:
        raise DatasetError(f"registering Glue table {database}.{name} for {location} failed: {exc}") from exc
