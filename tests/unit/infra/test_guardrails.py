"""Each policy rule passes a compliant resource set and fires on a deliberately broken resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import policies
from infra.guardrails import RULES, check_all
from infra.plan import PlannedResource
from tests.unit.infra.records import record

TAGS = {"project": "p", "environment": "dev", "owner": "o", "component": "c"}
FLAGS = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
KMS = "arn:aws:kms:us-east-1:123456789012:key/k"


def compliant(**overrides: dict[str, Any]) -> list[PlannedResource]:
    """A small compliant stack; ``overrides`` replace inputs of the resource with that logical name."""
    resources = [
        record(
            "aws:kms/key:Key",
            "key",
            enableKeyRotation=True,
            tags=TAGS,
            policy=json.dumps(policies.kms_key_policy("123456789012", "us-east-1")),
        ),
        record("aws:s3/bucket:Bucket", "b", bucket="b", tags=TAGS),
        record(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "b-sse",
            bucket="b-id",
            rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
        ),
        record("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "b-pab", bucket="b-id", **FLAGS),
        record(
            "aws:s3/bucketVersioning:BucketVersioning",
            "b-ver",
            bucket="b-id",
            versioningConfiguration={"status": "Enabled"},
        ),
        record(
            "aws:s3/bucketPolicy:BucketPolicy",
            "b-policy",
            bucket="b-id",
            policy=json.dumps(policies.tls_only_bucket_policy("b")),
        ),
        record("aws:kinesis/stream:Stream", "stream", encryptionType="KMS", kmsKeyId=KMS, tags=TAGS),
        record(
            "aws:dynamodb/table:Table", "table", serverSideEncryption={"enabled": True, "kmsKeyArn": KMS}, tags=TAGS
        ),
        record("aws:sns/topic:Topic", "topic", kmsMasterKeyId=KMS, tags=TAGS),
        record("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=30.0, kmsKeyId=KMS, tags=TAGS),
        record(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "epc",
            kmsKeyArn=KMS,
            dataCaptureConfig={"kmsKeyId": KMS},
            tags=TAGS,
        ),
        record(
            "aws:iam/rolePolicy:RolePolicy",
            "role-policy",
            policy=json.dumps(policies.start_pipeline_policy("arn:pipe")),
        ),
    ]
    for resource in resources:
        resource.inputs.update(overrides.get(resource.name, {}))
    return resources


def test_compliant_set_passes_every_rule() -> None:
    assert check_all(compliant()) == []


ADMIN = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
PUBLIC_READ = json.dumps(
    {
        "Statement": [
            *policies.tls_only_bucket_policy("b")["Statement"],
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        ]
    }
)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"b-sse": {"bucket": "other-id"}}, "[encryption-at-rest] b: no default encryption"),
        ({"stream": {"encryptionType": "NONE"}}, "[encryption-at-rest] stream: not KMS-encrypted"),
        (
            {"table": {"serverSideEncryption": {"enabled": False}}},
            "[encryption-at-rest] table: not encrypted with the stack's key",
        ),
        ({"topic": {"kmsMasterKeyId": None}}, "[encryption-at-rest] topic: no kmsMasterKeyId"),
        ({"logs": {"kmsKeyId": ""}}, "[encryption-at-rest] logs: no kmsKeyId"),
        (
            {"epc": {"dataCaptureConfig": {"kmsKeyId": None}}},
            "[encryption-at-rest] epc: data capture not KMS-encrypted",
        ),
        (
            {"b-pab": {"restrictPublicBuckets": False}},
            "[no-public-s3] b: public access not fully blocked "
            "(blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets)",
        ),
        ({"b-policy": {"policy": PUBLIC_READ}}, "[no-public-s3] b-policy: a statement allows every principal"),
        ({"b-ver": {"versioningConfiguration": {"status": "Suspended"}}}, "[versioning] b: versioning is not Enabled"),
        ({"role-policy": {"policy": ADMIN}}, "[no-wildcard-admin] role-policy: policy allows Action * on Resource *"),
        ({"logs": {"retentionInDays": None}}, "[log-retention] logs: retentionInDays is not set"),
        ({"key": {"enableKeyRotation": False}}, "[kms-rotation] key: enableKeyRotation is not true"),
        (
            {"topic": {"tags": {"project": "p", "environment": "dev"}}},
            "[required-tags] topic: missing tags: owner, component",
        ),
    ],
)
def test_rule_fires_on_broken_resource(overrides: dict[str, dict[str, Any]], expected: str) -> None:
    assert [str(v) for v in check_all(compliant(**overrides))] == [expected]


def test_tls_rule_fires_when_policy_lacks_secure_transport_deny() -> None:
    allow_only = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket"}]})
    assert [str(v) for v in check_all(compliant(**{"b-policy": {"policy": allow_only}}))] == [
        "[tls-only] b: no policy statement denies aws:SecureTransport=false"
    ]


def test_every_rule_is_exercised_by_a_broken_case() -> None:
    assert set(RULES) == {
        "encryption-at-rest",
        "no-public-s3",
        "tls-only",
        "versioning",
        "no-wildcard-admin",
        "log-retention",
        "kms-rotation",
        "required-tags",
    }
