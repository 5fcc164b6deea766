"""``ObjectStore`` on S3 (or an emulator's S3) through the client factory's S3 client.

Files go up through boto3's managed transfer, which switches to a parallel multipart upload above
``multipart_threshold``. Every failure raises an :class:`~mlops.ports.object_store.ObjectStoreError` naming the
bucket and key (:class:`ObjectNotFoundError` for a missing object or bucket).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.errors import ThrottledError
from mlops.ports.object_store import ObjectNotFoundError, ObjectStoreError

DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
_MISSING = ("NoSuchKey", "404", "NotFound")
_THROTTLED = ("SlowDown", "503", "Throttling", "RequestLimitExceeded")


class ObjectStoreThrottledError(ObjectStoreError, ThrottledError):
    """S3 kept answering SlowDown after the client's retries."""


def _detail(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        return code, f"{code}: {error.get('Message', '') or exc}"
    return "client", str(exc)


class S3ObjectStore:
    """``ObjectStore`` on S3 (or the emulator), through the client factory's S3 client."""

    scheme = "s3"

    def __init__(self, clients: ClientFactory, multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD) -> None:
        self._clients = clients
        self._multipart_threshold = multipart_threshold

    def _fail(self, operation: str, bucket: str, key: str, exc: Exception) -> ObjectStoreError:
        code, detail = _detail(exc)
        if code in _MISSING or code == "NoSuchBucket":
            return ObjectNotFoundError(operation, bucket, key, detail)
        if code in _THROTTLED:
            return ObjectStoreThrottledError(operation, bucket, key, detail)
        return ObjectStoreError(operation, bucket, key, detail)

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self._clients.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("put", bucket, key, exc) from exc

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=self._multipart_threshold, multipart_chunksize=self._chunk())
        try:
            self._clients.client("s3").upload_file(str(path), bucket, key, Config=config)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._fail("upload", bucket, key, exc) from exc
        except OSError as exc:
            raise ObjectStoreError("upload", bucket, key, f"cannot read {path}: {exc}") from exc

    def _chunk(self) -> int:
        # S3 parts must be at least 5 MiB (except the last)
        return max(5 * 1024 * 1024, self._multipart_threshold // 4)

    def get(self, bucket: str, key: str) -> bytes:
        try:
            body: bytes = self._clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("get", bucket, key, exc) from exc
        return body

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._clients.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code, _ = _detail(exc)
            if code in _MISSING:
                return False
            raise self._fail("head", bucket, key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("head", bucket, key, exc) from exc
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        try:
            paginator = self._clients.client("s3").get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", bucket, prefix, exc) from exc
        return sorted(keys)

    def download_file(self, bucket: str, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._clients.client("s3").download_file(bucket, key, str(path))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("download", bucket, key, exc) from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._clients.client("s3").delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", bucket, key, exc) from exc

    def filesystem(self) -> Any:
        return self._clients.arrow_filesystem()
