"""Table store port: versioned tables (Delta Lake) at an object-store URI.

Every write is a new version; every read says which version it read and any version reads back exactly.
Commits are conditional: two writers never both win the same version (:class:`~mlops.ports.errors.ConflictError`
when a commit loses). ``metadata`` is stored with the commit (``mlops.<key>``) so a version names its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlops.errors import DatasetError
from mlops.ports.errors import ConflictError, NotFoundError, PortError

if TYPE_CHECKING:
    import pyarrow as pa


class TableStoreError(PortError, DatasetError):
    """Reading or writing a table failed; the message names the table URI and version."""


class TableNotFoundError(TableStoreError, NotFoundError):
    """No table (or no such version of it) exists at the URI."""


class TableCommitConflictError(TableStoreError, ConflictError):
    """A concurrent commit changed what this write depended on (e.g. removed the rows it replaced), so this
    commit lost; nothing of it was committed. Re-run the step against the new version."""


@dataclass(frozen=True)
class VersionedTable:
    """Rows of one table version, and which version that is."""

    uri: str
    version: int
    data: pa.Table


class TableStore(Protocol):
    """Versioned tables addressed by URI (``<scheme>://<bucket>/tables/<dataset>``, see :mod:`mlops.layout`)."""

    def version(self, uri: str) -> int | None:
        """The latest version of the table, ``None`` when no table exists there yet."""
        ...

    def read(self, uri: str, version: int | None = None, columns: list[str] | None = None) -> VersionedTable:
        """The table at ``version`` (default: the latest), optionally only ``columns``."""
        ...

    def write(self, uri: str, data: pa.Table, mode: Literal["append", "overwrite"], metadata: dict[str, Any]) -> int:
        """Commit ``data`` as a new version and return it (``overwrite`` replaces rows and schema)."""
        ...

    def commit_metadata(self, uri: str) -> dict[int, dict[str, str]]:
        """The ``mlops.*`` commit metadata of every version (prefix removed), by version; ``{}`` if no table."""
        ...

    def storage_options(self) -> dict[str, str]:
        """delta-rs storage options for the same store (for engines that open the table themselves)."""
        ...
