"""The table-store port's contract, over every implementation: the in-memory fake (Delta in a temporary
directory), Delta on the session's moto S3, Delta on LocalStack's S3, and Delta on the session's GCS emulator.

Each test gets a table URI of its own in a bucket of its own, so the suites never see each other's versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pytest

from mlops.errors import DatasetError
from mlops.ports.errors import ConflictError, NotFoundError
from mlops.ports.table_store import (
    TableCommitConflictError,
    TableNotFoundError,
    TableStore,
    TableStoreError,
    VersionedTable,
)


@dataclass
class Backend:
    """A table store and a fresh table location in it (``uri()`` gives another one)."""

    store: TableStore
    base: str

    def uri(self, name: str = "") -> str:
        return f"{self.base}/tables/{name or uuid.uuid4().hex[:10]}"


def _s3_backend(clients: Any) -> Backend:
    from mlops.lake.delta import DeltaTableStore

    bucket = f"contract-tables-{uuid.uuid4().hex[:10]}"
    clients.client("s3").create_bucket(Bucket=bucket)
    return Backend(DeltaTableStore(clients.storage_options), f"s3://{bucket}")


def _gcs_backend(clients: Any) -> Backend:
    """Delta on the GCS emulator, through the storage options the wiring gives ``cloud: gcp``."""
    from mlops.adapters.gcp.gcs_delta import gcs_storage_options
    from mlops.lake.delta import DeltaTableStore

    bucket = f"contract-tables-{uuid.uuid4().hex[:10]}"
    clients.storage().create_bucket(bucket)
    return Backend(DeltaTableStore(lambda: gcs_storage_options(clients)), f"gs://{bucket}")


@pytest.fixture(
    params=[
        "memory",
        pytest.param("aws-moto", marks=pytest.mark.emulator),
        "aws-localstack",
        "gcp-emulator",
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "gcp-emulator":
        yield _gcs_backend(request.getfixturevalue("gcp_clients"))
        return
    if request.param == "memory":
        from mlops.adapters.memory.table_store import MemoryTableStore

        yield Backend(MemoryTableStore(), f"memory://contract-{uuid.uuid4().hex[:8]}")
        return
    fixture = "emulated_clients" if request.param == "aws-moto" else "localstack_clients"
    yield _s3_backend(request.getfixturevalue(fixture))


def _rows(table: VersionedTable, column: str = "k") -> list[Any]:
    return sorted(table.data.column(column).to_pylist())


def test_an_absent_table_has_no_version_and_reading_it_is_not_found(backend: Backend) -> None:
    uri = backend.uri()
    assert backend.store.version(uri) is None
    assert backend.store.commit_metadata(uri) == {}
    with pytest.raises(TableNotFoundError) as missing:
        backend.store.read(uri)
    assert isinstance(missing.value, NotFoundError) and isinstance(missing.value, DatasetError)
    assert uri.rsplit("/", 1)[-1] in str(missing.value)  # the message names the table


def test_every_write_is_a_new_version_and_every_version_reads_back_exactly(backend: Backend) -> None:
    uri = backend.uri()
    v0 = backend.store.write(uri, pa.table({"k": [1, 2], "v": ["a", "b"]}), "append", {})
    v1 = backend.store.write(uri, pa.table({"k": [3], "v": ["c"]}), "append", {})
    assert (v0, v1, backend.store.version(uri)) == (0, 1, 1)
    first = backend.store.read(uri, 0)
    assert (first.version, first.uri, _rows(first)) == (0, uri, [1, 2])
    latest = backend.store.read(uri)
    assert (latest.version, _rows(latest)) == (1, [1, 2, 3])
    only_k = backend.store.read(uri, 1, columns=["k"])
    assert only_k.data.column_names == ["k"]


def test_a_version_that_does_not_exist_is_not_found_and_names_the_known_versions(backend: Backend) -> None:
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [1]}), "append", {})
    backend.store.write(uri, pa.table({"k": [2]}), "append", {})
    with pytest.raises(TableNotFoundError, match=r"has no version 5; its versions are 0\.\.1"):
        backend.store.read(uri, 5)
    with pytest.raises(TableNotFoundError, match=r"has no version -1"):
        backend.store.read(uri, -1)


def test_commit_metadata_is_kept_per_version(backend: Backend) -> None:
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [1]}), "append", {"batch_ids": ["x", "y"], "source": "s3://b/k"})
    backend.store.write(uri, pa.table({"k": [2]}), "append", {"rows_in": 1})
    backend.store.write(uri, pa.table({"k": [3]}), "append", {})
    assert backend.store.commit_metadata(uri) == {
        0: {"batch_ids": '["x", "y"]', "source": "s3://b/k"},  # strings stay as they are, the rest is JSON
        1: {"rows_in": "1"},
        2: {},
    }


def test_overwrite_replaces_rows_and_schema_and_time_travel_still_reads_the_old_version(backend: Backend) -> None:
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [1, 2], "old": [True, False]}), "append", {})
    version = backend.store.write(uri, pa.table({"k": [9], "new": [1.5]}), "overwrite", {"reason": "rebuild"})
    assert version == 1
    latest = backend.store.read(uri)
    assert (latest.data.column_names, _rows(latest)) == (["k", "new"], [9])
    before = backend.store.read(uri, 0)
    assert (before.data.column_names, _rows(before)) == (["k", "old"], [1, 2])


def test_an_append_that_does_not_fit_the_schema_is_refused_and_commits_nothing(backend: Backend) -> None:
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [1], "v": ["a"]}), "append", {})
    with pytest.raises(TableStoreError) as refused:
        backend.store.write(uri, pa.table({"k": ["not a number"], "extra": [1]}), "append", {})
    assert "append" in str(refused.value)
    assert backend.store.version(uri) == 0
    assert _rows(backend.store.read(uri)) == [1]


def test_concurrent_appends_lose_no_commit_and_each_write_returns_its_own_version(backend: Backend) -> None:
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [0]}), "append", {})

    def append(worker: int) -> list[int]:
        return [backend.store.write(uri, pa.table({"k": [worker * 10 + n]}), "append", {}) for n in range(4)]

    with ThreadPoolExecutor(3) as pool:
        versions = [v for batch in pool.map(append, [1, 2, 3]) for v in batch]
    assert sorted(versions) == list(range(1, 13))  # twelve commits, twelve distinct versions
    assert backend.store.version(uri) == 12
    assert len(_rows(backend.store.read(uri))) == 13


def test_a_commit_that_loses_to_a_concurrent_overwrite_is_a_conflict_and_commits_nothing(backend: Backend) -> None:
    """Overwrites remove the files other writers read: one of two racing writers must lose, never both win."""
    uri = backend.uri()
    backend.store.write(uri, pa.table({"k": [0]}), "append", {})
    conflicts: list[TableCommitConflictError] = []
    committed: list[int] = []
    for _round in range(6):
        outcomes = _race(backend, uri)
        committed.extend(v for v in outcomes if isinstance(v, int))
        conflicts.extend(e for e in outcomes if isinstance(e, TableCommitConflictError))
        unexpected = [e for e in outcomes if isinstance(e, Exception) and not isinstance(e, ConflictError)]
        assert unexpected == []
        if conflicts:
            break
    assert conflicts, "six rounds of racing overwrites produced no conflict"
    assert isinstance(conflicts[0], ConflictError) and uri.rsplit("/", 1)[-1] in str(conflicts[0])
    assert len(set(committed)) == len(committed)  # no version was won twice
    assert backend.store.version(uri) == len(committed)  # version 0 plus one per successful commit


def _race(backend: Backend, uri: str) -> list[int | Exception]:
    def writer(worker: int) -> Callable[[], list[int | Exception]]:
        def run() -> list[int | Exception]:
            results: list[int | Exception] = []
            for n in range(3):
                mode: Literal["append", "overwrite"] = "overwrite" if worker % 2 else "append"
                try:
                    results.append(backend.store.write(uri, pa.table({"k": [worker * 10 + n]}), mode, {}))
                except TableStoreError as exc:
                    results.append(exc)
            return results

        return run

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(writer(worker)) for worker in range(3)]
        return [outcome for future in futures for outcome in future.result()]
