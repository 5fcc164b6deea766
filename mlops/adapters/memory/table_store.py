"""``TableStore`` in a private temporary directory: real Delta tables (delta-rs on the local filesystem), so the
fake has Delta's versioning and conditional commits, not an imitation of them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops.lake import delta
from mlops.ports.table_store import VersionedTable

if TYPE_CHECKING:
    import pyarrow as pa


class MemoryTableStore:
    """Tables at ``<scheme>://<bucket>/<key>`` live under ``<root>/<bucket>/<key>``."""

    def __init__(self, root: Path | None = None) -> None:
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="mlops-tables-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]

    def _path(self, uri: str) -> str:
        _, _, rest = uri.partition("://")
        path = self.root / rest.rstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def storage_options(self) -> dict[str, str]:
        return {}

    def version(self, uri: str) -> int | None:
        return delta.current_version(self._path(uri), {})

    def read(self, uri: str, version: int | None = None, columns: list[str] | None = None) -> VersionedTable:
        found = delta.read_table(self._path(uri), {}, version, columns)
        return VersionedTable(uri=uri, version=found.version, data=found.data)

    def write(self, uri: str, data: pa.Table, mode: Literal["append", "overwrite"], metadata: dict[str, Any]) -> int:
        return delta.write_table(self._path(uri), {}, data, mode, metadata)

    def commit_metadata(self, uri: str) -> dict[int, dict[str, str]]:
        return delta.commit_metadata(self._path(uri), {})
