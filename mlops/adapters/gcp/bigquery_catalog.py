"""``Catalog`` on BigQuery: each Delta table of the lake is a BigLake external table over its ``gs://`` location.

The catalog database is the stack's BigQuery dataset (``outputs.glue_database``, also ``bigquery_dataset``); a table
``<dataset>_<zone>`` is created, or updated in place, as an external table in format ``DELTA_LAKE`` whose source is
the Delta table's root, read through the stack's BigLake connection (``outputs.biglake_connection``). BigQuery
takes a Delta table's schema from its log (it refuses one given with the table), and a table holds no free
key-value properties, so what the port keeps beside the location - the columns as the writer declared them (Hive
type names, as in Glue) and the parameters (``delta_version``, lineage) - is stored as JSON in the table's
description after :data:`DESCRIPTION_PREFIX`; the Delta version is also a label, so a query of
``INFORMATION_SCHEMA.TABLE_OPTIONS`` finds it. A table this adapter did not register (no such description) reads
with BigQuery's own column types and its labels as parameters.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.lake.columns import delta_table_entry
from mlops.ports.catalog import CatalogError, CatalogTable, CatalogTableNotFoundError
from mlops.ports.errors import ThrottledError, UnavailableError

if TYPE_CHECKING:
    import pyarrow as pa

DESCRIPTION_PREFIX = "Delta table registered by mlops-kit; catalog entry: "
SOURCE_FORMAT = "DELTA_LAKE"
_UPDATED_FIELDS = ["description", "labels", "external_data_configuration"]


class CatalogThrottledError(CatalogError, ThrottledError):
    """BigQuery refused for rate or quota after the client's retries."""


class CatalogUnavailableError(CatalogError, UnavailableError):
    """BigQuery did not answer."""


def table_resource(project: str, entry: CatalogTable, connection: str | None) -> dict[str, Any]:
    """The BigQuery table resource (REST form) the adapter creates or updates for ``entry``."""
    scheme = entry.location.partition("://")[0]
    if scheme != "gs":
        raise CatalogError(
            f"catalog table {entry.database}.{entry.name}: BigQuery reads Delta tables on Cloud Storage only, "
            f"not {entry.location!r}"
        )
    external: dict[str, Any] = {"sourceFormat": SOURCE_FORMAT, "sourceUris": [entry.location], "autodetect": True}
    if connection:
        external["connectionId"] = connection
    stored = {"columns": [list(column) for column in entry.columns], "parameters": entry.parameters}
    return {
        "tableReference": {"projectId": project, "datasetId": entry.database, "tableId": entry.name},
        "description": DESCRIPTION_PREFIX + json.dumps(stored, sort_keys=True),
        "labels": {"delta_version": entry.parameters["delta_version"], "managed_by": "mlops-kit"},
        "externalDataConfiguration": external,
    }


def entry_of(database: str, name: str, resource: dict[str, Any]) -> CatalogTable:
    """The catalog entry of a BigQuery table resource (REST form)."""
    uris = resource.get("externalDataConfiguration", {}).get("sourceUris") or [""]
    description = str(resource.get("description") or "")
    if description.startswith(DESCRIPTION_PREFIX):
        stored = json.loads(description.removeprefix(DESCRIPTION_PREFIX))
        columns = tuple((str(n), str(t)) for n, t in stored["columns"])
        parameters = {str(k): str(v) for k, v in stored["parameters"].items()}
    else:
        fields = resource.get("schema", {}).get("fields", [])
        columns = tuple((str(f["name"]), str(f["type"]).lower()) for f in fields)
        parameters = {str(k): str(v) for k, v in (resource.get("labels") or {}).items()}
    return CatalogTable(database=database, name=name, location=str(uris[0]), columns=columns, parameters=parameters)


class BigQueryCatalog:
    """``Catalog`` on the stack's BigQuery dataset; ``connection`` is the BigLake connection tables read through."""

    def __init__(self, clients: GcpClients, connection: str | None) -> None:
        self._clients = clients
        self._connection = connection

    def _error(self, what: str, exc: Exception) -> CatalogError:
        if isinstance(exc, google_errors.TooManyRequests | google_errors.Forbidden) and "rate" in str(exc).lower():
            return CatalogThrottledError(f"{what}: throttled ({exc})")
        if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
            return CatalogUnavailableError(f"{what}: BigQuery did not answer ({exc})")
        return CatalogError(f"{what} failed: {exc}")

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
        from google.cloud import bigquery

        entry = delta_table_entry(
            database=database, name=name, location=location, schema=schema, version=version, parameters=parameters
        )
        table = bigquery.Table.from_api_repr(table_resource(self._clients.project, entry, self._connection))
        client = self._clients.bigquery()
        what = f"registering catalog table {database}.{name} for {location}"
        try:
            try:
                client.create_table(table)
            except google_errors.Conflict:
                client.update_table(table, _UPDATED_FIELDS)  # registered before: update in place, as Glue does
        except google_errors.NotFound as exc:  # the dataset, not the table, is missing
            raise CatalogError(f"{what}: BigQuery dataset {database!r} does not exist ({exc})") from exc
        except google_errors.GoogleAPIError as exc:
            raise self._error(what, exc) from exc

    def get_table(self, database: str, name: str) -> CatalogTable:
        try:
            table = self._clients.bigquery().get_table(f"{self._clients.project}.{database}.{name}")
        except google_errors.NotFound as exc:
            raise CatalogTableNotFoundError(f"catalog table {database}.{name} does not exist ({exc})") from exc
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"reading catalog table {database}.{name}", exc) from exc
        return entry_of(database, name, table.to_api_repr())
