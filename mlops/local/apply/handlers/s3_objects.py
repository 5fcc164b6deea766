"""S3 objects declared by the program (``BucketObjectv2``), e.g. Glue job scripts uploaded from ``jobs/``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, is_not_found, require

TYPE = "aws:s3/bucketObjectv2:BucketObjectv2"


def _body(name: str, inputs: dict[str, Any]) -> bytes:
    """The object's bytes from ``source`` (a ``pulumi.FileAsset``/``StringAsset``) or ``content``."""
    source = inputs.get("source")
    if source is not None:
        path = getattr(source, "path", None)
        if path is not None:
            file = Path(str(path))
            if not file.is_file():
                raise LocalApplyError(f"{TYPE} {name!r}: source file {file} does not exist")
            return file.read_bytes()
        text = getattr(source, "text", None)
        if text is not None:
            return str(text).encode()
        raise LocalApplyError(f"{TYPE} {name!r}: source {type(source).__name__} is not a FileAsset or StringAsset")
    if inputs.get("content") is not None:
        return str(inputs["content"]).encode()
    raise LocalApplyError(f"{TYPE} {name!r}: neither 'source' nor 'content' is set")


def bucket_object(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Upload the object unless the same bytes are already there (compared by MD5 ETag)."""
    s3 = ctx.clients.client("s3")
    bucket = str(require(inputs, "bucket", TYPE, name))
    key = str(require(inputs, "key", TYPE, name))
    body = _body(name, inputs)
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    outcome: Outcome = "created"
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        outcome = "reused" if head["ETag"].strip('"') == etag else "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    version_id = None
    if outcome != "reused":
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if inputs.get("contentType"):
            request["ContentType"] = inputs["contentType"]
        if inputs.get("serverSideEncryption"):
            request["ServerSideEncryption"] = inputs["serverSideEncryption"]
        if inputs.get("kmsKeyId"):
            request["SSEKMSKeyId"] = inputs["kmsKeyId"]
        version_id = s3.put_object(**request).get("VersionId")
    state_inputs = {k: v for k, v in inputs.items() if k != "source"}  # assets are not JSON state
    return applied(
        f"{bucket}/{key}",
        state_inputs,
        outcome,
        bucket=bucket,
        key=key,
        etag=etag,
        versionId=version_id or "",
        arn=f"arn:aws:s3:::{bucket}/{key}",
        uri=f"s3://{bucket}/{key}",
    )


HANDLERS: dict[str, Handler] = {TYPE: bucket_object}
