"""``Catalog`` on the Glue Data Catalog: Athena, Glue and people find the lake's Delta tables through it.

After every write the table ``<dataset>_<zone>`` in the stack's Glue database points at the Delta location,
lists its columns and carries the version just written (``delta_version``) plus any lineage parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.lake.columns import hive_type
from mlops.ports.catalog import CatalogError, CatalogTable, CatalogTableNotFoundError

if TYPE_CHECKING:
    import pyarrow as pa


class GlueCatalog:
    """``Catalog`` on the stack's Glue Data Catalog."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    def register_delta_table(
        self,
        *,
        database: str,
        name: str,
        location: str,
        schema: pa.Schema,
        version: int,
        parameters: dict[str, str] | None = None,
    ) -> None:
        register_delta_table(
            self._clients.client("glue"),
            database=database,
            name=name,
            location=location,
            schema=schema,
            version=version,
            parameters=parameters,
        )

    def get_table(self, database: str, name: str) -> CatalogTable:
        try:
            table = self._clients.client("glue").get_table(DatabaseName=database, Name=name)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "EntityNotFoundException":
                raise CatalogTableNotFoundError(f"catalog table {database}.{name} does not exist") from exc
            raise CatalogError(f"reading catalog table {database}.{name} failed: {exc}") from exc
        storage = table.get("StorageDescriptor", {})
        return CatalogTable(
            database=database,
            name=name,
            location=str(storage.get("Location", "")),
            columns=tuple((c["Name"], c["Type"]) for c in storage.get("Columns", [])),
            parameters=dict(table.get("Parameters") or {}),
        )


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
        raise CatalogError(f"registering Glue table {database}.{name} for {location} failed: {exc}") from exc
