"""``ObjectStore`` in memory, with an Arrow filesystem view over the same bytes (for Parquet readers/writers)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mlops.ports.object_store import ObjectNotFoundError


class MemoryObjectStore:
    """Objects in a dict; buckets exist once something is put in them or they are named in ``buckets``."""

    scheme = "memory"

    def __init__(self, buckets: tuple[str, ...] = ()) -> None:
        self._objects: dict[tuple[str, str], bytes] = {}
        self._buckets = set(buckets)
        self._lock = threading.Lock()
        self._fs: Any = None

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._lock:
            self._buckets.add(bucket)
            self._objects[(bucket, key)] = bytes(data)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.put(bucket, key, path.read_bytes())

    def get(self, bucket: str, key: str) -> bytes:
        with self._lock:
            if (bucket, key) not in self._objects:
                raise ObjectNotFoundError("get", bucket, key, "NoSuchKey", scheme=self.scheme)
            return self._objects[(bucket, key)]

    def download_file(self, bucket: str, key: str, path: Path) -> None:
        data = self.get(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def exists(self, bucket: str, key: str) -> bool:
        with self._lock:
            return (bucket, key) in self._objects

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            if bucket not in self._buckets:
                raise ObjectNotFoundError("list", bucket, prefix, "NoSuchBucket", scheme=self.scheme)
            return sorted(k for (b, k) in self._objects if b == bucket and k.startswith(prefix))

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._objects.pop((bucket, key), None)

    def filesystem(self) -> Any:
        """A ``pyarrow.fs.PyFileSystem`` over this store (paths ``bucket/key``)."""
        if self._fs is None:
            from pyarrow import fs

            from mlops.adapters.memory.arrow_fs import MemoryFsHandler

            self._fs = fs.PyFileSystem(MemoryFsHandler(self))
        return self._fs

    # used by the Arrow handler
    def _items(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [(b, k, len(v)) for (b, k), v in self._objects.items()]
