"""Catalog column types of Arrow types (Hive's names, which Glue, Athena and BigLake's Hive tables use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.ports.catalog import CatalogError, CatalogTable

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


def delta_table_entry(
    *,
    database: str,
    name: str,
    location: str,
    schema: pa.Schema,
    version: int,
    parameters: dict[str, str] | None = None,
) -> CatalogTable:
    """The catalog entry of a Delta table at ``version``, as every catalog adapter stores it: columns with their
    Hive types (a type no catalog column can hold raises before anything is stored) and the parameters Glue's
    Delta tables carry (``classification``, ``table_type``, ``delta_version``) plus the caller's."""
    columns = tuple((field.name, hive_type(field.type)) for field in schema)
    params = {"classification": "delta", "table_type": "DELTA", "delta_version": str(version), **(parameters or {})}
    return CatalogTable(database, name, location, columns, params)
