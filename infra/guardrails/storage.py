"""Data stores: S3 buckets and objects, DynamoDB tables, Kinesis streams, Firehose, SNS topics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from infra.guardrails.model import Declared, Rule, Violation, attached, nested, of, refers, statements, value

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
TOPIC = "aws:sns/topic:Topic"

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def is_log_target(resources: Sequence[Declared], bucket: Declared) -> bool:
    """Whether S3 server access logs are delivered into ``bucket`` (it alone may use SSE-S3: log delivery
    cannot write into SSE-KMS buckets)."""
    return any(refers(logging, "targetBucket", bucket) for logging in of(resources, LOGGING))


def s3_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "s3-bucket-encryption"
    for bucket in of(resources, BUCKET):
        configs = attached(resources, SSE, bucket, "bucket")
        if not configs:
            yield Violation(rule, bucket.name, "no default encryption")
        for config in configs:
            for entry in value(config, "rules") or []:
                default = nested(entry, "applyServerSideEncryptionByDefault") or {}
                algorithm = default.get("sseAlgorithm")
                if algorithm == "AES256" and not is_log_target(resources, bucket):
                    yield Violation(rule, bucket.name, "AES256 on a data bucket: only the access-log bucket may")
                if algorithm not in (*KMS_ALGORITHMS, "AES256"):
                    yield Violation(rule, bucket.name, f"unknown sseAlgorithm {algorithm!r}")
                if algorithm in KMS_ALGORITHMS and not default.get("kmsMasterKeyId"):
                    yield Violation(rule, bucket.name, "aws:kms without kmsMasterKeyId (the AWS-managed key)")


def s3_public_access_block(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        blocks = attached(resources, PUBLIC_ACCESS_BLOCK, bucket, "bucket")
        if not any(all(value(block, flag) is True for flag in BLOCK_FLAGS) for block in blocks):
            yield Violation(
                "s3-public-access-block", bucket.name, f"public access not fully blocked ({', '.join(BLOCK_FLAGS)})"
            )


def s3_no_acls(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "s3-no-public-acl"
    for bucket in of(resources, BUCKET):
        controls = attached(resources, OWNERSHIP, bucket, "bucket")
        if not any(nested(c.inputs, "rule", "objectOwnership") == "BucketOwnerEnforced" for c in controls):
            yield Violation(rule, bucket.name, "ACLs are enabled (object ownership is not BucketOwnerEnforced)")
        if value(bucket, "acl") in PUBLIC_ACLS:
            yield Violation(rule, bucket.name, f"canned ACL {value(bucket, 'acl')}")
    for acl in of(resources, *BUCKET_ACLS):
        if value(acl, "acl") in PUBLIC_ACLS:
            yield Violation(rule, acl.name, f"canned ACL {value(acl, 'acl')}")
        grants = nested(acl.inputs, "accessControlPolicy", "grants") or []
        if any(nested(grant, "grantee", "uri") in PUBLIC_GROUPS for grant in grants):
            yield Violation(rule, acl.name, "grants access to AllUsers or AuthenticatedUsers")


def s3_tls_only(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        denies = [
            statement
            for policy in attached(resources, BUCKET_POLICY, bucket, "bucket")
            for statement in statements(value(policy, "policy"))
            if statement.get("Effect") == "Deny"
            and str(nested(statement, "Condition", "Bool", "aws:SecureTransport")).lower() == "false"
        ]
        if not denies:
            yield Violation("s3-tls-only", bucket.name, "no policy statement denies aws:SecureTransport=false")


def s3_versioning(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        versioning = attached(resources, VERSIONING, bucket, "bucket")
        if not any(nested(v.inputs, "versioningConfiguration", "status") == "Enabled" for v in versioning):
            yield Violation("s3-versioning", bucket.name, "versioning is not Enabled")


def s3_access_logging(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        if not is_log_target(resources, bucket) and not attached(resources, LOGGING, bucket, "bucket"):
            yield Violation("s3-access-logging", bucket.name, "no server access logging")


def s3_object_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "s3-object-encryption"
    for upload in of(resources, OBJECT):
        if value(upload, "serverSideEncryption") not in KMS_ALGORITHMS:
            yield Violation(rule, upload.name, "upload not encrypted with aws:kms")
        elif not value(upload, "kmsKeyId"):
            yield Violation(rule, upload.name, "aws:kms upload without kmsKeyId (the AWS-managed key)")


def dynamodb_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for table in of(resources, TABLE):
        sse = value(table, "serverSideEncryption") or {}
        if sse.get("enabled") is not True or not sse.get("kmsKeyArn"):
            yield Violation("dynamodb-encryption", table.name, "not encrypted with the stack's key")


def dynamodb_pitr(resources: Sequence[Declared]) -> Iterator[Violation]:
    for table in of(resources, TABLE):
        if nested(table.inputs, "pointInTimeRecovery", "enabled") is not True:
            yield Violation("dynamodb-pitr", table.name, "point-in-time recovery is off")


def dynamodb_deletion_protection(resources: Sequence[Declared]) -> Iterator[Violation]:
    for table in of(resources, TABLE):
        if value(table, "deletionProtectionEnabled") is not True:
            yield Violation("dynamodb-deletion-protection", table.name, "deletion protection is off")


def kinesis_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for stream in of(resources, STREAM):
        if value(stream, "encryptionType") != "KMS" or not value(stream, "kmsKeyId"):
            yield Violation("kinesis-encryption", stream.name, "not KMS-encrypted with the stack's key")


def firehose_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for firehose in of(resources, FIREHOSE):
        if not nested(firehose.inputs, "extendedS3Configuration", "kmsKeyArn"):
            yield Violation("firehose-encryption", firehose.name, "delivered objects not KMS-encrypted")


def firehose_error_logging(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "firehose-error-logging"
    for firehose in of(resources, FIREHOSE):
        logging = nested(firehose.inputs, "extendedS3Configuration", "cloudwatchLoggingOptions") or {}
        if logging.get("enabled") is not True:
            yield Violation(rule, firehose.name, "delivery errors are not logged")
        elif not logging.get("logGroupName") or not logging.get("logStreamName"):
            yield Violation(rule, firehose.name, "error logging names no log group and stream")


def sns_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for topic in of(resources, TOPIC):
        if not value(topic, "kmsMasterKeyId"):
            yield Violation("sns-encryption", topic.name, "no kmsMasterKeyId")


RULES: tuple[Rule, ...] = (
    Rule(
        "s3-bucket-encryption",
        "encryption",
        "Every bucket encrypts by default with a KMS key; SSE-S3 (AES256) only on the access-log bucket.",
        s3_encryption,
    ),
    Rule("s3-object-encryption", "encryption", "Uploaded objects are SSE-KMS with a named key.", s3_object_encryption),
    Rule(
        "s3-public-access-block",
        "public-access",
        "Every bucket blocks all four kinds of public access.",
        s3_public_access_block,
    ),
    Rule(
        "s3-no-public-acl", "public-access", "ACLs are disabled (BucketOwnerEnforced) and none is public.", s3_no_acls
    ),
    Rule("s3-tls-only", "encryption-in-transit", "Every bucket policy denies requests without TLS.", s3_tls_only),
    Rule("s3-versioning", "operations", "Every bucket keeps versions.", s3_versioning),
    Rule("s3-access-logging", "logging", "Every bucket but the log bucket logs server access.", s3_access_logging),
    Rule("dynamodb-encryption", "encryption", "Tables are encrypted with the stack's KMS key.", dynamodb_encryption),
    Rule("dynamodb-pitr", "operations", "Tables keep point-in-time recovery.", dynamodb_pitr),
    Rule(
        "dynamodb-deletion-protection",
        "operations",
        "Tables are protected from deletion.",
        dynamodb_deletion_protection,
    ),
    Rule("kinesis-encryption", "encryption", "Streams are KMS-encrypted with the stack's key.", kinesis_encryption),
    Rule(
        "firehose-encryption", "encryption", "Firehose encrypts what it delivers with a KMS key.", firehose_encryption
    ),
    Rule(
        "firehose-error-logging",
        "logging",
        "Firehose logs delivery errors to a named group and stream.",
        firehose_error_logging,
    ),
    Rule("sns-encryption", "encryption", "Topics are KMS-encrypted.", sns_encryption),
)
