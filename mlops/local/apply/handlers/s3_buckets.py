"""S3 buckets and their per-bucket configuration resources (versioning, encryption, access, policy, lifecycle)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import (
    Applied,
    Handler,
    HandlerContext,
    Outcome,
    applied,
    error_code,
    is_not_found,
    require,
    same_json,
    tags_list,
    to_boto,
)
from mlops.local.apply.limits import applicable_bucket_policy

_PUBLIC_ACCESS_KEYS = {
    "blockPublicAcls": "BlockPublicAcls",
    "blockPublicPolicy": "BlockPublicPolicy",
    "ignorePublicAcls": "IgnorePublicAcls",
    "restrictPublicBuckets": "RestrictPublicBuckets",
}


def _bucket_name(ctx: HandlerContext, inputs: dict[str, Any], typ: str, name: str) -> str:
    return str(require(inputs, "bucket", typ, name))


def bucket(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:s3/bucket:Bucket``: create the named bucket or reuse it; tags are kept in step."""
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, "aws:s3/bucket:Bucket", name)
    outcome: Outcome = "reused"
    try:
        s3.head_bucket(Bucket=bucket_name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {"Bucket": bucket_name}
        if ctx.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            request["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        s3.create_bucket(**request)
        outcome = "created"
    tags = inputs.get("tags") or {}
    if tags and _bucket_tags(s3, bucket_name) != tags:
        s3.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tags_list(tags)})
        outcome = "updated" if outcome == "reused" else outcome
    return applied(
        bucket_name,
        inputs,
        outcome,
        bucket=bucket_name,
        arn=f"arn:aws:s3:::{bucket_name}",
        region=ctx.region,
        bucketDomainName=f"{bucket_name}.s3.amazonaws.com",
        bucketRegionalDomainName=f"{bucket_name}.s3.{ctx.region}.amazonaws.com",
    )


def _bucket_tags(s3: Any, bucket_name: str) -> dict[str, str]:
    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket_name)["TagSet"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchTagSet":
            raise
        return {}
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def _put_if_changed(current: Any, desired: Any, put: Any) -> Outcome:
    """Configuration sub-resources exist as soon as their bucket does: unchanged config means reused."""
    if current == desired:
        return "reused"
    put()
    return "created" if current in (None, {}, []) else "updated"


def _read(getter: Any, key: str, missing_codes: set[str], **request: Any) -> Any:
    try:
        return getter(**request).get(key)
    except ClientError as exc:
        if error_code(exc) in missing_codes:
            return None
        raise


def versioning(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:s3/bucketVersioning:BucketVersioning"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    status = require(inputs, "versioningConfiguration", typ, name).get("status", "Enabled")
    current = s3.get_bucket_versioning(Bucket=bucket_name).get("Status")
    outcome = _put_if_changed(
        current,
        status,
        lambda: s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": status}),
    )
    return applied(bucket_name, inputs, outcome)


def encryption(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    rules = to_boto(require(inputs, "rules", typ, name))
    current = _read(
        s3.get_bucket_encryption,
        "ServerSideEncryptionConfiguration",
        {"ServerSideEncryptionConfigurationNotFoundError"},
        Bucket=bucket_name,
    )
    outcome = _put_if_changed(
        (current or {}).get("Rules"),
        rules,
        lambda: s3.put_bucket_encryption(Bucket=bucket_name, ServerSideEncryptionConfiguration={"Rules": rules}),
    )
    return applied(bucket_name, inputs, outcome)


def public_access_block(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    desired = {boto_key: bool(inputs.get(key)) for key, boto_key in _PUBLIC_ACCESS_KEYS.items()}
    current = _read(
        s3.get_public_access_block,
        "PublicAccessBlockConfiguration",
        {"NoSuchPublicAccessBlockConfiguration"},
        Bucket=bucket_name,
    )
    outcome = _put_if_changed(
        current,
        desired,
        lambda: s3.put_public_access_block(Bucket=bucket_name, PublicAccessBlockConfiguration=desired),
    )
    return applied(bucket_name, inputs, outcome)


def ownership_controls(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    desired = {"Rules": [to_boto(require(inputs, "rule", typ, name))]}
    current = _read(
        s3.get_bucket_ownership_controls,
        "OwnershipControls",
        {"OwnershipControlsNotFoundError"},
        Bucket=bucket_name,
    )
    outcome = _put_if_changed(
        current,
        desired,
        lambda: s3.put_bucket_ownership_controls(Bucket=bucket_name, OwnershipControls=desired),
    )
    return applied(bucket_name, inputs, outcome)


def policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``BucketPolicy``: applied without the statements moto cannot honour (see ``limits``)."""
    typ = "aws:s3/bucketPolicy:BucketPolicy"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    document = applicable_bucket_policy(str(require(inputs, "policy", typ, name)), bucket_name)
    current = _read(s3.get_bucket_policy, "Policy", {"NoSuchBucketPolicy"}, Bucket=bucket_name)
    if document is None:
        outcome: Outcome = "skipped" if current is None else "updated"  # nothing sent is not "reused"
        if current is not None:
            s3.delete_bucket_policy(Bucket=bucket_name)
    elif current is not None and same_json(current, document):
        outcome = "reused"
    else:
        s3.put_bucket_policy(Bucket=bucket_name, Policy=document)
        outcome = "created" if current is None else "updated"
    return applied(bucket_name, inputs, outcome)


def lifecycle(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    rules = to_boto(require(inputs, "rules", typ, name))
    current = _read(
        s3.get_bucket_lifecycle_configuration,
        "Rules",
        {"NoSuchLifecycleConfiguration"},
        Bucket=bucket_name,
    )
    outcome = _put_if_changed(
        current,
        rules,
        lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket_name, LifecycleConfiguration={"Rules": rules}),
    )
    return applied(bucket_name, inputs, outcome)


def logging(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Access logging, put after the whole program ran: moto checks the target bucket's policy grants the
    logging service, and that policy is a sibling resource that may not be applied yet."""
    typ = "aws:s3/bucketLogging:BucketLogging"
    s3 = ctx.clients.client("s3")
    bucket_name = _bucket_name(ctx, inputs, typ, name)
    desired = {
        "TargetBucket": str(require(inputs, "targetBucket", typ, name)),
        "TargetPrefix": str(inputs.get("targetPrefix", "")),
    }
    current = s3.get_bucket_logging(Bucket=bucket_name).get("LoggingEnabled")
    if current == desired:
        return applied(bucket_name, inputs, "reused")

    def put() -> None:
        try:
            s3.put_bucket_logging(Bucket=bucket_name, BucketLoggingStatus={"LoggingEnabled": desired})
        except ClientError as exc:
            if error_code(exc) != "InvalidTargetBucketForLogging":
                raise
            raise LocalApplyError(
                f"{typ} {name!r}: access logs of bucket {bucket_name!r} cannot go to "
                f"{desired['TargetBucket']!r}: the target bucket's policy must allow "
                "logging.s3.amazonaws.com s3:PutObject on its objects"
            ) from exc

    ctx.deferred.add(f"{typ} {name!r}", put)
    return applied(bucket_name, inputs, "created" if current is None else "updated")


HANDLERS: dict[str, Handler] = {
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketVersioning:BucketVersioning": versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ownership_controls,
    "aws:s3/bucketPolicy:BucketPolicy": policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": lifecycle,
    "aws:s3/bucketLogging:BucketLogging": logging,
}
