"""Catalog column types of Arrow types (Hive's names, which Glue, Athena and BigLake's Hive tables use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.ports.catalog import CatalogError

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
    raise CatalogError(f"no Glue column type for Arrow type {arrow_type}")
