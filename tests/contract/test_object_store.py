"""The object-store port's contract, over every implementation: the in-memory fake, S3 on the session's moto
server, S3 on LocalStack and GCS on the session's GCS emulator.

Each test gets a bucket of its own (created empty), so listings see only what the test put there.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.errors import DatasetError
from mlops.ports.errors import NotFoundError
from mlops.ports.object_store import ObjectNotFoundError, ObjectStore, ObjectStoreError


@dataclass
class Backend:
    store: ObjectStore
    bucket: str
    missing_bucket: str


def _s3(clients: Any) -> Backend:
    from mlops.adapters.aws.s3 import S3ObjectStore

    bucket = f"contract-objects-{uuid.uuid4().hex[:10]}"
    clients.client("s3").create_bucket(Bucket=bucket)
    return Backend(S3ObjectStore(clients), bucket, f"absent-{uuid.uuid4().hex[:10]}")


def _gcs(clients: Any) -> Backend:
    from mlops.adapters.gcp.gcs import GcsObjectStore

    bucket = f"contract-objects-{uuid.uuid4().hex[:10]}"
    clients.storage().create_bucket(bucket)
    return Backend(GcsObjectStore(clients), bucket, f"absent-{uuid.uuid4().hex[:10]}")


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
        yield _gcs(request.getfixturevalue("gcp_clients"))
        return
    if request.param == "memory":
        from mlops.adapters.memory.object_store import MemoryObjectStore

        bucket = f"contract-{uuid.uuid4().hex[:8]}"
        yield Backend(MemoryObjectStore(buckets=(bucket,)), bucket, f"absent-{uuid.uuid4().hex[:10]}")
        return
    fixture = "emulated_clients" if request.param == "aws-moto" else "localstack_clients"
    yield _s3(request.getfixturevalue(fixture))


BINARY = bytes(range(256)) * 4  # every byte value, including NUL and invalid UTF-8


def test_put_then_get_returns_the_exact_bytes_and_a_second_put_replaces_them(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    store.put(bucket, "a/b.bin", BINARY)
    assert store.get(bucket, "a/b.bin") == BINARY
    store.put(bucket, "a/b.bin", b"{}", content_type="application/json")
    assert store.get(bucket, "a/b.bin") == b"{}"
    store.put(bucket, "empty", b"")
    assert store.get(bucket, "empty") == b""


def test_list_keys_is_sorted_and_filters_by_plain_prefix(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    for key in ("ds/b/2.json", "ds/a/1.json", "ds/b/1.json", "ds-other/x", "top"):
        store.put(bucket, key, b"x")
    assert store.list_keys(bucket) == ["ds-other/x", "ds/a/1.json", "ds/b/1.json", "ds/b/2.json", "top"]
    assert store.list_keys(bucket, "ds/") == ["ds/a/1.json", "ds/b/1.json", "ds/b/2.json"]
    assert store.list_keys(bucket, "ds") == ["ds-other/x", "ds/a/1.json", "ds/b/1.json", "ds/b/2.json"]
    assert store.list_keys(bucket, "ds/b/1") == ["ds/b/1.json"]
    assert store.list_keys(bucket, "nothing/") == []


def test_exists_is_true_only_for_an_exact_key(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    store.put(bucket, "dir/file.txt", b"x")
    assert store.exists(bucket, "dir/file.txt")
    assert not store.exists(bucket, "dir")  # a prefix is not an object
    assert not store.exists(bucket, "dir/")
    assert not store.exists(bucket, "dir/file.tx")


def test_delete_removes_the_object_and_deleting_an_absent_one_is_not_an_error(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    store.put(bucket, "gone", b"x")
    store.put(bucket, "kept", b"y")
    store.delete(bucket, "gone")
    assert not store.exists(bucket, "gone")
    assert store.list_keys(bucket) == ["kept"]
    store.delete(bucket, "gone")
    store.delete(bucket, "never/was")
    assert store.get(bucket, "kept") == b"y"


def test_files_go_up_and_come_down_unchanged(backend: Backend, tmp_path: Path) -> None:
    store, bucket = backend.store, backend.bucket
    source = tmp_path / "in.bin"
    source.write_bytes(BINARY * 64)
    store.put_file(bucket, "files/in.bin", source)
    target = tmp_path / "deeper" / "still" / "out.bin"  # parents are created
    store.download_file(bucket, "files/in.bin", target)
    assert target.read_bytes() == BINARY * 64
    assert store.get(bucket, "files/in.bin") == BINARY * 64


def test_a_missing_object_is_not_found_by_type_and_named(backend: Backend, tmp_path: Path) -> None:
    store, bucket = backend.store, backend.bucket
    with pytest.raises(ObjectNotFoundError) as missing:
        store.get(bucket, "no/such/key")
    error = missing.value
    assert isinstance(error, NotFoundError) and isinstance(error, ObjectStoreError) and isinstance(error, DatasetError)
    assert (error.bucket, error.key, error.operation) == (bucket, "no/such/key", "get")
    assert f"{store.scheme}://{bucket}/no/such/key" in str(error)
    with pytest.raises(ObjectNotFoundError) as not_downloaded:
        store.download_file(bucket, "no/such/key", tmp_path / "x")
    assert not_downloaded.value.key == "no/such/key"
    assert not (tmp_path / "x").exists()


def test_a_missing_bucket_is_not_found(backend: Backend) -> None:
    store, absent = backend.store, backend.missing_bucket
    with pytest.raises(ObjectNotFoundError) as missing:
        store.get(absent, "k")
    assert missing.value.bucket == absent
    with pytest.raises(ObjectNotFoundError):
        store.list_keys(absent)


def test_the_arrow_filesystem_sees_the_same_objects(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    filesystem = store.filesystem()
    table = pa.table({"id": [1, 2, 3], "name": ["a", None, "c"], "score": [0.5, 1.5, None]})
    # written through Arrow, read through the port
    pq.write_table(table, f"{bucket}/parquet/part-0.parquet", filesystem=filesystem)
    assert store.exists(bucket, "parquet/part-0.parquet")
    assert pq.read_table(io.BytesIO(store.get(bucket, "parquet/part-0.parquet"))).equals(table)
    # written through the port, read through Arrow, alone and as a dataset directory
    sink = io.BytesIO()
    pq.write_table(table.slice(0, 1), sink)
    store.put(bucket, "parquet/part-1.parquet", sink.getvalue())
    assert pq.read_table(f"{bucket}/parquet/part-1.parquet", filesystem=filesystem).equals(table.slice(0, 1))
    both = pq.read_table(f"{bucket}/parquet", filesystem=filesystem)
    assert sorted(both.column("id").to_pylist()) == [1, 1, 2, 3]
    from pyarrow import fs

    listed = filesystem.get_file_info(fs.FileSelector(f"{bucket}/parquet"))
    assert sorted(info.base_name for info in listed) == ["part-0.parquet", "part-1.parquet"]
    assert filesystem.get_file_info(f"{bucket}/parquet/absent.parquet").type == fs.FileType.NotFound
