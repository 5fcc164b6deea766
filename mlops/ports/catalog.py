"""Data catalog port: the lake's tables as query engines and people find them (Glue Data Catalog, BigLake,
memory). Each table points at its Delta location, lists its columns and carries its current version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mlops.errors import DatasetError
from mlops.ports.errors import NotFoundError, PortError

if TYPE_CHECKING:
    import pyarrow as pa


class CatalogError(PortError, DatasetError):
    """Registering or reading a catalog table failed; the message names the database and table."""


class CatalogTableNotFoundError(CatalogError, NotFoundError):
    """The catalog has no such table."""


@dataclass(frozen=True)
class CatalogTable:
    """A catalog entry: where the data is, its columns (name, type) and its parameters."""

    database: str
    name: str
    location: str
    columns: tuple[tuple[str, str], ...]
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        value = self.parameters.get("delta_version")
        return int(value) if value is not None else None


class Catalog(Protocol):
    """Tables of one catalog database per stack (``outputs.glue_database``)."""

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
        """Create or update ``database.name`` for the Delta table at ``location``, at ``version``."""
        ...

    def get_table(self, database: str, name: str) -> CatalogTable:
        """The entry; :class:`CatalogTableNotFoundError` when absent."""
        ...
