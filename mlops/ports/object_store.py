"""Object store port: bytes addressed by bucket and key (S3, GCS, the emulator's S3, memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mlops.errors import DatasetError
from mlops.ports.errors import NotFoundError, PortError


class ObjectStoreError(PortError, DatasetError):
    """An object-store operation failed; ``bucket`` and ``key`` say where."""

    def __init__(self, operation: str, bucket: str, key: str, detail: str, scheme: str = "s3") -> None:
        self.operation = operation
        self.bucket = bucket
        self.key = key
        super().__init__(f"{operation} {scheme}://{bucket}/{key} failed: {detail}")


class ObjectNotFoundError(ObjectStoreError, NotFoundError):
    """The object (or its bucket) does not exist."""


class ObjectStore(Protocol):
    """Objects addressed by bucket and key. ``scheme`` is the URI scheme of its objects (``s3``, ``gs``)."""

    scheme: str

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key``, replacing any object there."""
        ...

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        """Upload a local file (multipart/resumable when it is large)."""
        ...

    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFoundError` when it does not exist."""
        ...

    def download_file(self, bucket: str, key: str, path: Path) -> None:
        """Write the object to a local file; :class:`ObjectNotFoundError` when it does not exist."""
        ...

    def exists(self, bucket: str, key: str) -> bool:
        """Whether an object exists under exactly ``key``."""
        ...

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted."""
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; removing an absent object is not an error (as on S3 and GCS)."""
        ...

    def filesystem(self) -> Any:
        """A ``pyarrow.fs.FileSystem`` over the same store, for Parquet/CSV readers and writers; paths are
        ``bucket/key`` (see :func:`mlops.layout.filesystem_path`)."""
        ...
