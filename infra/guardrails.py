"""Policy rules over the resources a stack declares (as recorded by :mod:`infra.plan`'s mocks).

Each rule takes every recorded resource (inputs in camelCase, as the engine sees them) and returns the
violations it finds, each naming the resource. ``check_all`` runs every rule. They stand in for CrossGuard
policy packs, which need the Pulumi engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from infra.resource_types import is_taggable
from infra.tags import REQUIRED_TAGS

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"


class Declared(Protocol):
    """What a rule needs to know of a resource."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """One broken rule on one resource."""

    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message}"


Rule = Callable[[Sequence[Declared]], list[Violation]]


def _of(resources: Iterable[Declared], type_token: str) -> list[Declared]:
    return [r for r in resources if r.type == type_token]


def _attached(resources: Sequence[Declared], type_token: str, bucket: Declared) -> list[Declared]:
    """Bucket sub-resources (versioning, policy...) whose ``bucket`` input is this bucket's id."""
    return [r for r in _of(resources, type_token) if r.inputs.get("bucket") == bucket.id]


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def encryption_at_rest(resources: Sequence[Declared]) -> list[Violation]:
    """Buckets, streams, tables, topics, log groups, endpoint volumes and captures, uploads are encrypted."""
    found: list[Violation] = []

    def need(resource: Declared, ok: bool, what: str) -> None:
        if not ok:
            found.append(Violation("encryption-at-rest", resource.name, what))

    for bucket in _of(resources, BUCKET):
        configs = _attached(
            resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
        )
        algorithms = {
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for config in configs
            for rule in config.inputs.get("rules") or []
        }
        need(bucket, bool(algorithms) and algorithms <= {"aws:kms", "aws:kms:dsse", "AES256"}, "no default encryption")
    for stream in _of(resources, "aws:kinesis/stream:Stream"):
        need(
            stream,
            stream.inputs.get("encryptionType") == "KMS" and bool(stream.inputs.get("kmsKeyId")),
            "not KMS-encrypted",
        )
    for table in _of(resources, "aws:dynamodb/table:Table"):
        sse = table.inputs.get("serverSideEncryption") or {}
        need(table, sse.get("enabled") is True and bool(sse.get("kmsKeyArn")), "not encrypted with the stack's key")
    for topic in _of(resources, "aws:sns/topic:Topic"):
        need(topic, bool(topic.inputs.get("kmsMasterKeyId")), "no kmsMasterKeyId")
    for group in _of(resources, "aws:cloudwatch/logGroup:LogGroup"):
        need(group, bool(group.inputs.get("kmsKeyId")), "no kmsKeyId")
    for config in _of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        capture = config.inputs.get("dataCaptureConfig") or {}
        need(config, bool(config.inputs.get("kmsKeyArn")), "no kmsKeyArn for instance storage")
        need(config, not capture or bool(capture.get("kmsKeyId")), "data capture not KMS-encrypted")
    for firehose in _of(resources, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"):
        s3 = firehose.inputs.get("extendedS3Configuration") or {}
        need(firehose, bool(s3.get("kmsKeyArn")), "delivered objects not KMS-encrypted")
    for upload in _of(resources, "aws:s3/bucketObjectv2:BucketObjectv2"):
        need(upload, upload.inputs.get("serverSideEncryption") in ("aws:kms", "AES256"), "upload not encrypted")
    return found


def no_public_buckets(resources: Sequence[Declared]) -> list[Violation]:
    """Every bucket blocks all four kinds of public access and no policy allows everyone."""
    found: list[Violation] = []
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _of(resources, BUCKET):
        blocks = _attached(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        if not any(all(block.inputs.get(flag) is True for flag in flags) for block in blocks):
            found.append(
                Violation("no-public-s3", bucket.name, f"public access not fully blocked ({', '.join(flags)})")
            )
        for policy in _attached(resources, "aws:s3/bucketPolicy:BucketPolicy", bucket):
            for statement in _statements(policy.inputs.get("policy")):
                principal = statement.get("Principal")
                if statement.get("Effect") == "Allow" and principal in ("*", {"AWS": "*"}):
                    found.append(Violation("no-public-s3", policy.name, "a statement allows every principal"))
    return found


def tls_only(resources: Sequence[Declared]) -> list[Violation]:
    """Every bucket's policy denies requests made without TLS."""
    found: list[Violation] = []
    for bucket in _of(resources, BUCKET):
        denies = [
            statement
            for policy in _attached(resources, "aws:s3/bucketPolicy:BucketPolicy", bucket)
            for statement in _statements(policy.inputs.get("policy"))
            if statement.get("Effect") == "Deny"
            and (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        if not denies:
            found.append(Violation("tls-only", bucket.name, "no policy statement denies aws:SecureTransport=false"))
    return found


def versioning(resources: Sequence[Declared]) -> list[Violation]:
    """Every bucket has versioning enabled."""
    return [
        Violation("versioning", bucket.name, "versioning is not Enabled")
        for bucket in _of(resources, BUCKET)
        if not any(
            (v.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled"
            for v in _attached(resources, "aws:s3/bucketVersioning:BucketVersioning", bucket)
        )
    ]


_POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    KEY: "policy",
}


def no_wildcard_admin(resources: Sequence[Declared]) -> list[Violation]:
    """No Allow statement grants ``*`` actions on ``*`` resources (key policies' own ``*`` is the key)."""
    found: list[Violation] = []
    for resource in resources:
        field = _POLICY_INPUTS.get(resource.type)
        if field is None or resource.inputs.get(field) is None:
            continue
        for statement in _statements(resource.inputs[field]):
            actions = _as_list(statement.get("Action", []))
            targets = _as_list(statement.get("Resource", []))
            if statement.get("Effect") == "Allow" and "*" in actions and "*" in targets:
                found.append(Violation("no-wildcard-admin", resource.name, f"{field} allows Action * on Resource *"))
    return found


def log_retention(resources: Sequence[Declared]) -> list[Violation]:
    """Every log group expires its events."""
    return [
        Violation("log-retention", group.name, "retentionInDays is not set")
        for group in _of(resources, "aws:cloudwatch/logGroup:LogGroup")
        if not group.inputs.get("retentionInDays")
    ]


def kms_rotation(resources: Sequence[Declared]) -> list[Violation]:
    """Every KMS key rotates."""
    return [
        Violation("kms-rotation", key.name, "enableKeyRotation is not true")
        for key in _of(resources, KEY)
        if key.inputs.get("enableKeyRotation") is not True
    ]


def required_tags(resources: Sequence[Declared]) -> list[Violation]:
    """Every taggable resource carries project, environment, owner and component tags."""
    found: list[Violation] = []
    for resource in resources:
        if not is_taggable(resource.type):
            continue
        tags = resource.inputs.get("tags") or {}
        missing = [tag for tag in REQUIRED_TAGS if not tags.get(tag)]
        if missing:
            found.append(Violation("required-tags", resource.name, f"missing tags: {', '.join(missing)}"))
    return found


RULES: dict[str, Rule] = {
    "encryption-at-rest": encryption_at_rest,
    "no-public-s3": no_public_buckets,
    "tls-only": tls_only,
    "versioning": versioning,
    "no-wildcard-admin": no_wildcard_admin,
    "log-retention": log_retention,
    "kms-rotation": kms_rotation,
    "required-tags": required_tags,
}


def check_all(resources: Sequence[Declared]) -> list[Violation]:
    """Every rule's violations, in rule order."""
    return [violation for rule in RULES.values() for violation in rule(resources)]
