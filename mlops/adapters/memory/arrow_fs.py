"""An Arrow ``FileSystemHandler`` over :class:`MemoryObjectStore`, so Parquet/CSV readers see the same objects."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyarrow import fs

if TYPE_CHECKING:
    from mlops.adapters.memory.object_store import MemoryObjectStore


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.strip("/").partition("/")
    return bucket, key


class _Sink(io.BytesIO):
    def __init__(self, store: MemoryObjectStore, path: str) -> None:
        super().__init__()
        self._store = store
        self._path = path

    def close(self) -> None:
        if not self.closed:
            bucket, key = _split(self._path)
            self._store.put(bucket, key, self.getvalue())
        super().close()


class MemoryFsHandler(fs.FileSystemHandler):  # type: ignore[misc]  # pyarrow ships no stubs
    """Files are objects; directories are key prefixes (as on S3)."""

    def __init__(self, store: MemoryObjectStore) -> None:
        self.store = store

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryFsHandler) and other.store is self.store

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self.store)

    def get_type_name(self) -> str:
        return "memory-object-store"

    def normalize_path(self, path: str) -> str:
        return path.strip("/")

    def _info(self, path: str) -> Any:
        bucket, key = _split(path)
        for b, k, size in self.store._items():
            if b == bucket and k == key:
                return fs.FileInfo(path, fs.FileType.File, size=size)
        prefix = key.rstrip("/") + "/" if key else ""
        if any(b == bucket and k.startswith(prefix) for b, k, _ in self.store._items()):
            return fs.FileInfo(path, fs.FileType.Directory)
        return fs.FileInfo(path, fs.FileType.NotFound)

    def get_file_info(self, paths: list[str]) -> list[Any]:
        return [self._info(p.strip("/")) for p in paths]

    def get_file_info_selector(self, selector: Any) -> list[Any]:
        base = selector.base_dir.strip("/")
        bucket, key = _split(base)
        prefix = key.rstrip("/") + "/" if key else ""
        infos: dict[str, Any] = {}
        for b, k, size in self.store._items():
            if b != bucket or not k.startswith(prefix):
                continue
            rest = k[len(prefix) :]
            parts = rest.split("/")
            if selector.recursive:
                for depth in range(1, len(parts)):
                    d = f"{bucket}/{prefix}{'/'.join(parts[:depth])}"
                    infos[d] = fs.FileInfo(d, fs.FileType.Directory)
                infos[f"{bucket}/{k}"] = fs.FileInfo(f"{bucket}/{k}", fs.FileType.File, size=size)
            elif len(parts) == 1:
                infos[f"{bucket}/{k}"] = fs.FileInfo(f"{bucket}/{k}", fs.FileType.File, size=size)
            else:
                d = f"{bucket}/{prefix}{parts[0]}"
                infos[d] = fs.FileInfo(d, fs.FileType.Directory)
        if not infos and not selector.allow_not_found and self._info(base).type == fs.FileType.NotFound:
            raise FileNotFoundError(base)
        return list(infos.values())

    def create_dir(self, path: str, recursive: bool) -> None:
        return None  # prefixes need no creation

    def delete_dir(self, path: str) -> None:
        self.delete_dir_contents(path, missing_dir_ok=True)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        bucket, key = _split(path)
        prefix = key.rstrip("/") + "/" if key else ""
        for b, k, _ in self.store._items():
            if b == bucket and k.startswith(prefix):
                self.store.delete(b, k)

    def delete_root_dir_contents(self) -> None:
        for b, k, _ in self.store._items():
            self.store.delete(b, k)

    def delete_file(self, path: str) -> None:
        self.store.delete(*_split(path))

    def move(self, src: str, dest: str) -> None:
        self.copy_file(src, dest)
        self.delete_file(src)

    def copy_file(self, src: str, dest: str) -> None:
        self.store.put(*_split(dest), self.store.get(*_split(src)))

    def open_input_stream(self, path: str) -> Any:
        return pa.BufferReader(self.store.get(*_split(path)))

    def open_input_file(self, path: str) -> Any:
        return pa.BufferReader(self.store.get(*_split(path)))

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return pa.PythonFile(_Sink(self.store, path), mode="w")

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        raise NotImplementedError("append streams are not supported by object stores")
