"""Versioned datasets: Delta tables on S3 read and written with delta-rs (``deltalake``), no Spark jars needed.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops.errors import DatasetError

if TYPE_CHECKING:
    import pyarrow as pa

    from mlops.clients import ClientFactory

METADATA_PREFIX = "mlops."
SAFE_COMMIT_OPTIONS = {"conditional_put": "etag"}


def delta_options(clients: ClientFactory) -> dict[str, str]:
    """delta-rs storage options for the platform's S3, with safe concurrent commits (see the module docstring)."""
    return {**clients.storage_options(), **SAFE_COMMIT_OPTIONS}


def table_uri(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/tables/<dataset>``: where a zone keeps a dataset's Delta table."""
    return f"s3://{bucket}/tables/{dataset}"


@dataclass(frozen=True)
class VersionedTable:
    """Rows of one Delta table version, and which version that is."""

    uri: str
    version: int
    data: pa.Table


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
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    latest = current_version(uri, options)
    if latest is None:
        raise DatasetError(f"no Delta table at {uri}")
    if version is not None and not 0 <= version <= latest:
        raise DatasetError(f"Delta table {uri} has no version {version}; its versions are 0..{latest}")
    try:
        table = DeltaTable(uri, storage_options=options, version=version)
        data = table.to_pyarrow_table(columns=columns)
    except DeltaError as exc:
        raise DatasetError(
            f"reading Delta table {uri} at version {latest if version is None else version} failed: {exc}"
        ) from exc
    return VersionedTable(uri=uri, version=int(table.version()), data=data)


def write_table(
    uri: str,
    options: dict[str, str],
    data: pa.Table,
    mode: Literal["append", "overwrite"],
    metadata: dict[str, Any],
) -> int:
    """Commit ``data`` as a new version and return it; ``metadata`` is stored as ``mlops.<key>`` commit info.

    ``overwrite`` replaces the rows and the schema (a feature table follows its definition); ``append`` keeps
    the schema and refuses rows that do not fit it.
    """
    from deltalake import CommitProperties, write_deltalake
    from deltalake.exceptions import DeltaError

    custom = {f"{METADATA_PREFIX}{key}": _metadata_value(value) for key, value in metadata.items()}
    try:
        write_deltalake(
            uri,
            data,
            mode=mode,
            schema_mode="overwrite" if mode == "overwrite" else None,
            storage_options=options,
            commit_properties=CommitProperties(custom_metadata=custom),
        )
    except (DeltaError, ValueError) as exc:
        raise DatasetError(f"writing {data.num_rows} rows to Delta table {uri} ({mode}) failed: {exc}") from exc
    version = current_version(uri, options)
    assert version is not None  # the write above just created it
    return version


def _metadata_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


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
