"""The catalog for ``cloud: gcp`` on Google's emulators: BigQuery has no emulator, so the kit keeps the catalog's
entries in the Firestore emulator with the port's (the Glue catalog's) semantics, as :mod:`mlops.local.gcp_metrics`
keeps the metrics there. Every process of a local stack (the CLI, a job run by the local Dataproc runner) sees the
same tables.

One document per table in the ``catalog_tables`` collection, its id ``<database>.<table>`` (catalog names hold
letters, digits and underscores, never ``/``): database, name, Delta location, the columns as a list of
``{name, type}`` maps in order (Firestore holds no nested arrays) and the parameters (``delta_version`` ...).
Registering writes the whole entry in one ``set``, so a table is updated in place, as Glue's ``UpdateTable``
does, and a reader never sees half an entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.lake.columns import delta_table_entry
from mlops.ports.catalog import CatalogError, CatalogTable, CatalogTableNotFoundError
from mlops.ports.errors import UnavailableError

if TYPE_CHECKING:
    import pyarrow as pa

COLLECTION = "catalog_tables"


class CatalogUnavailableError(CatalogError, UnavailableError):
    """The Firestore emulator did not answer."""


def _error(what: str, exc: Exception) -> CatalogError:
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return CatalogUnavailableError(f"{what}: the Firestore emulator did not answer: {exc}")
    return CatalogError(f"{what} failed: {exc}")


class FirestoreEmulatorCatalog:
    """``Catalog`` kept in the Firestore emulator (one document per table)."""

    def __init__(self, clients: GcpClients, collection: str = COLLECTION) -> None:
        self._clients = clients
        self.collection = collection

    def _document(self, database: str, name: str) -> Any:
        return self._clients.firestore().collection(self.collection).document(f"{database}.{name}")

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
        entry = delta_table_entry(
            database=database, name=name, location=location, schema=schema, version=version, parameters=parameters
        )
        body = {
            "database": database,
            "name": name,
            "location": location,
            "columns": [{"name": column, "type": kind} for column, kind in entry.columns],
            "parameters": entry.parameters,
        }
        try:
            self._document(database, name).set(body)
        except google_errors.GoogleAPIError as exc:
            raise _error(f"registering catalog table {database}.{name} for {location}", exc) from exc

    def get_table(self, database: str, name: str) -> CatalogTable:
        try:
            snapshot = self._document(database, name).get()
        except google_errors.GoogleAPIError as exc:
            raise _error(f"reading catalog table {database}.{name}", exc) from exc
        if not snapshot.exists:
            raise CatalogTableNotFoundError(f"catalog table {database}.{name} does not exist")
        body = snapshot.to_dict()
        return CatalogTable(
            database=database,
            name=name,
            location=str(body["location"]),
            columns=tuple((str(c["name"]), str(c["type"])) for c in body["columns"]),
            parameters={str(k): str(v) for k, v in body["parameters"].items()},
        )
