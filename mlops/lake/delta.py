"""Versioned datasets: Delta tables on an object store read and written with delta-rs (``deltalake``), no Spark
jars needed. :class:`DeltaTableStore` is the ``TableStore`` port over these functions for any store delta-rs
reaches (S3 and its emulators, GCS, a local directory); only the storage options differ.

Every write is a new Delta version; every read says which version it read, and any version reads back exactly.
Steps record what they read in their own commit's metadata (``mlops.*`` keys), so a feature table's version
names the curated version it was built from.

Concurrent writers: two jobs may commit to one table at once (a re-run overlapping a schedule). delta-rs
commits a version by creating ``_delta_log/<version>.json`` only if absent. On S3 that relies on conditional
writes (``If-None-Match: *``, which S3 and moto honour); :func:`delta_options` asks for them explicitly and
never sets ``AWS_S3_ALLOW_UNSAFE_RENAME``, which would let a racing writer overwrite a commit. No DynamoDB lock
table is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops.ports.table_store import TableCommitConflictError, TableNotFoundError, TableStoreError, VersionedTable

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

METADATA_PREFIX = "mlops."
SAFE_COMMIT_OPTIONS = {"conditional_put": "etag"}


def delta_options(storage_options: dict[str, str]) -> dict[str, str]:
    """delta-rs options for a store's credentials, with safe concurrent commits (see the module docstring)."""
    return {**storage_options, **SAFE_COMMIT_OPTIONS}


def current_version(uri: str, options: dict[str, str]) -> int | None:
    """The latest version of the table at ``uri``, ``None`` when no table exists there yet."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return int(DeltaTable(uri, storage_options=options).version())


def read_table(
    uri: str, options: dict[str, str], version: int | None = None, columns: list[str] | None = None
) -> VersionedTable:
    """The table at ``version`` (default: the latest), optionally only ``columns``."""
    from deltalake.exceptions import DeltaError

    table = open_table(uri, options, version)
    try:
        data = table.to_pyarrow_table(columns=columns)
    except DeltaError as exc:
        raise TableStoreError(f"reading Delta table {uri} at version {table.version()} failed: {exc}") from exc
    return VersionedTable(uri=uri, version=int(table.version()), data=data)


def open_table(uri: str, options: dict[str, str], version: int | None = None) -> DeltaTable:
    """The ``DeltaTable`` at ``version`` (default: the latest); a missing table or version is a
    :class:`TableNotFoundError` naming the table and its version range."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    latest = current_version(uri, options)
    if latest is None:
        raise TableNotFoundError(f"no Delta table at {uri}")
    if version is not None and not 0 <= version <= latest:
        raise TableNotFoundError(f"Delta table {uri} has no version {version}; its versions are 0..{latest}")
    try:
        return DeltaTable(uri, storage_options=options, version=version)
    except DeltaError as exc:
        raise TableStoreError(
            f"opening Delta table {uri} at version {latest if version is None else version} failed: {exc}"
        ) from exc


def write_table(
    uri: str,
    options: dict[str, str],
    data: pa.Table,
    mode: Literal["append", "overwrite"],
    metadata: dict[str, Any],
) -> int:
    """Commit ``data`` as a new version and return it; ``metadata`` is stored as ``mlops.<key>`` commit info.

    ``overwrite`` replaces the rows and the schema (a feature table follows its definition); ``append`` keeps
    the schema and refuses rows that do not fit it. The version returned is the one THIS write committed, also
    when other writers commit meanwhile: an existing table is written through its ``DeltaTable``, whose state
    the commit moves to its own version (a fresh read of the latest version could be another writer's).
    """
    from deltalake import CommitProperties, DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    custom = commit_info(metadata)
    target: str | DeltaTable = uri
    if DeltaTable.is_deltatable(uri, storage_options=options):
        target = DeltaTable(uri, storage_options=options)
    try:
        write_deltalake(
            target,
            data,
            mode=mode,
            schema_mode="overwrite" if mode == "overwrite" else None,
            storage_options=options,
            commit_properties=CommitProperties(custom_metadata=custom),
        )
    except CommitFailedError as exc:
        raise TableCommitConflictError(
            f"writing {data.num_rows} rows to Delta table {uri} ({mode}) lost to a concurrent commit: {exc}"
        ) from exc
    except (DeltaError, ValueError) as exc:
        raise TableStoreError(f"writing {data.num_rows} rows to Delta table {uri} ({mode}) failed: {exc}") from exc
    if isinstance(target, DeltaTable):
        return int(target.version())
    version = current_version(uri, options)  # the table's first commit
    assert version is not None  # the write above just created it
    return version


def _metadata_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def commit_info(metadata: Mapping[str, Any]) -> dict[str, str]:
    """A step's metadata as commit info: ``mlops.<key>``, values JSON unless already strings."""
    return {f"{METADATA_PREFIX}{key}": _metadata_value(value) for key, value in metadata.items()}


def commit_metadata(uri: str, options: dict[str, str]) -> dict[int, dict[str, str]]:
    """The ``mlops.*`` commit metadata of every version of the table (prefix removed), by version."""
    from deltalake import DeltaTable

    if current_version(uri, options) is None:
        return {}
    found: dict[int, dict[str, str]] = {}
    for commit in DeltaTable(uri, storage_options=options).history():
        found[int(commit["version"])] = {
            key.removeprefix(METADATA_PREFIX): str(value)
            for key, value in commit.items()
            if key.startswith(METADATA_PREFIX)
        }
    return found


@dataclass(frozen=True)
class DeltaTableStore:
    """``TableStore`` on delta-rs; ``options`` gives the store's credentials/endpoint when a call needs them
    (read at call time, so temporary credentials are fresh)."""

    options: Callable[[], dict[str, str]]

    def storage_options(self) -> dict[str, str]:
        return delta_options(self.options())

    def version(self, uri: str) -> int | None:
        return current_version(uri, self.storage_options())

    def read(self, uri: str, version: int | None = None, columns: list[str] | None = None) -> VersionedTable:
        return read_table(uri, self.storage_options(), version, columns)

    def write(self, uri: str, data: pa.Table, mode: Literal["append", "overwrite"], metadata: dict[str, Any]) -> int:
        return write_table(uri, self.storage_options(), data, mode, metadata)

    def commit_metadata(self, uri: str) -> dict[int, dict[str, str]]:
        return commit_metadata(uri, self.storage_options())
