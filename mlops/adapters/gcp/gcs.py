"""``ObjectStore`` on Google Cloud Storage (or the GCS emulator) through google-cloud-storage.

Files go up through the library's resumable upload above its chunk size. Every failure raises an
:class:`~mlops.ports.object_store.ObjectStoreError` naming the ``gs://`` bucket and key
(:class:`ObjectNotFoundError` for a missing object or bucket, :class:`ObjectStoreThrottledError` for 429/503).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.ports.errors import ThrottledError
from mlops.ports.object_store import ObjectNotFoundError, ObjectStoreError

SCHEME = "gs"
_THROTTLED = (google_errors.TooManyRequests, google_errors.ServiceUnavailable)


class GcsThrottledError(ObjectStoreError, ThrottledError):
    """GCS kept answering 429/503 after the client's retries."""


def _fail(operation: str, bucket: str, key: str, exc: Exception) -> ObjectStoreError:
    detail = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    if isinstance(exc, google_errors.NotFound):
        return ObjectNotFoundError(operation, bucket, key, detail, scheme=SCHEME)
    if isinstance(exc, _THROTTLED):
        return GcsThrottledError(operation, bucket, key, detail, scheme=SCHEME)
    return ObjectStoreError(operation, bucket, key, detail, scheme=SCHEME)


_ERRORS = (google_errors.GoogleAPIError, OSError)


class GcsObjectStore:
    """``ObjectStore`` on GCS buckets, through the factory's storage client."""

    scheme = SCHEME

    def __init__(self, clients: GcpClients) -> None:
        self._clients = clients

    def _blob(self, bucket: str, key: str) -> Any:
        return self._clients.storage().bucket(bucket).blob(key)

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self._blob(bucket, key).upload_from_string(data, content_type=content_type)
        except google_errors.GoogleAPIError as exc:
            raise _fail("put", bucket, key, exc) from exc

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        if not path.is_file():
            raise ObjectStoreError("upload", bucket, key, f"cannot read {path}: not a file", scheme=SCHEME)
        try:
            self._blob(bucket, key).upload_from_filename(str(path))
        except _ERRORS as exc:
            raise _fail("upload", bucket, key, exc) from exc

    def get(self, bucket: str, key: str) -> bytes:
        try:
            data: bytes = self._blob(bucket, key).download_as_bytes()
        except google_errors.GoogleAPIError as exc:
            raise _fail("get", bucket, key, exc) from exc
        return data

    def download_file(self, bucket: str, key: str, path: Path) -> None:
        """Downloads beside ``path`` and renames, so a failed download leaves no partial file at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        try:
            self._blob(bucket, key).download_to_filename(str(partial))
            partial.replace(path)
        except _ERRORS as exc:
            raise _fail("download", bucket, key, exc) from exc
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            return bool(self._blob(bucket, key).exists())
        except google_errors.GoogleAPIError as exc:
            raise _fail("head", bucket, key, exc) from exc

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        try:
            return sorted(blob.name for blob in self._clients.storage().list_blobs(bucket, prefix=prefix or None))
        except google_errors.GoogleAPIError as exc:
            raise _fail("list", bucket, prefix, exc) from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._blob(bucket, key).delete()
        except google_errors.NotFound:
            return  # absent already: not an error, as the port says
        except google_errors.GoogleAPIError as exc:
            raise _fail("delete", bucket, key, exc) from exc

    def filesystem(self) -> Any:
        return self._clients.arrow_filesystem()
