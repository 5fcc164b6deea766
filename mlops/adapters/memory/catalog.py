"""``Catalog`` in memory, with the same Arrow -> column type mapping as the Glue adapter."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mlops.lake.columns import delta_table_entry
from mlops.ports.catalog import CatalogTable, CatalogTableNotFoundError

if TYPE_CHECKING:
    import pyarrow as pa


class MemoryCatalog:
    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], CatalogTable] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._tables[(database, name)] = entry

    def get_table(self, database: str, name: str) -> CatalogTable:
        with self._lock:
            if (database, name) not in self._tables:
                raise CatalogTableNotFoundError(f"catalog table {database}.{name} does not exist")
            return self._tables[(database, name)]
