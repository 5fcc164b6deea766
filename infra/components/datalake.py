"""Data lake: one private, versioned, KMS-encrypted, TLS-only bucket per zone, access logging, Glue catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import naming, policies, promotion
from infra.components.base import StackIdentity, child, policy_json
from infra.lifecycle import Retention, lifecycle_rules
from infra.promotion import PromotionPeer

COMPONENT = "datalake"


@dataclass(frozen=True)
class DataLakeArgs:
    """Inputs of :class:`DataLake`."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    retention: Retention
    promotion_target: PromotionPeer | None = None
    """The stack receiving this stack's gated versions: its deploy role may read them in the models and features
    buckets (:data:`infra.promotion.READ_PREFIXES`)."""


class DataLake(pulumi.ComponentResource):
    """Zone buckets (``raw`` ... ``artifacts``), the access-log bucket, the catalog database and its tables."""

    buckets: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    access_logs_bucket: pulumi.Output[str]
    database_name: pulumi.Output[str]
    database_arn: pulumi.Output[str]
    predictions_table: pulumi.Output[str]

    def __init__(self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:datalake:DataLake", name, None, opts)
        self._args = args
        ident = args.identity
        # S3 server access logging cannot deliver into SSE-KMS buckets, so this one bucket uses SSE-S3.
        logs = self._bucket(naming.ACCESS_LOGS, sse_algorithm="AES256", kms_key_arn=None, log_target=None)
        self.access_logs_bucket = logs.bucket
        self.buckets = {}
        self.bucket_arns = {}
        for zone in naming.ZONES:
            bucket = self._bucket(zone, sse_algorithm="aws:kms", kms_key_arn=args.kms_key_arn, log_target=logs)
            self.buckets[zone] = bucket.bucket
            self.bucket_arns[zone] = bucket.arn

        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=naming.glue_database_name(ident.project, ident.environment),
            description=f"{ident.project} {ident.environment}: datasets of the data lake",
            tags=ident.tags(COMPONENT),
            opts=child(self),
        )
        self.database_name = database.name
        self.database_arn = database.arn
        predictions = aws.glue.CatalogTable(
            f"{name}-predictions",
            name="predictions",
            database_name=database.name,
            description="Endpoint data capture (JSON lines) written by SageMaker under data-capture/",
            table_type="EXTERNAL_TABLE",
            parameters={"classification": "json"},
            storage_descriptor={
                "location": self.buckets["monitoring"].apply(lambda b: f"s3://{b}/data-capture/"),
                "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "ser_de_info": {"serialization_library": "org.openx.data.jsonserde.JsonSerDe"},
                "columns": [
                    {"name": "capturedata", "type": "string"},
                    {"name": "eventmetadata", "type": "string"},
                    {"name": "eventversion", "type": "string"},
                ],
            },
            opts=child(self),
        )
        self.predictions_table = predictions.name
        self.register_outputs(
            {"buckets": self.buckets, "access_logs_bucket": self.access_logs_bucket, "database": self.database_name}
        )

    def _bucket_policy(
        self, zone: str, bucket: str, account_id: str, *, log_delivery_account: str | None
    ) -> dict[str, Any]:
        """TLS only; with a promotion target, that stack's deploy role reads the promoted version's objects."""
        document = policies.tls_only_bucket_policy(bucket, log_delivery_account=log_delivery_account)
        target, ident = self._args.promotion_target, self._args.identity
        if target is not None:
            here = PromotionPeer(ident.environment, account_id)
            grant = promotion.link(ident.project, ident.region, source=here, target=target, account_id=account_id)
            document["Statement"].extend(promotion.bucket_grants(grant, zone))
        return document

    def _bucket(
        self,
        zone: str,
        *,
        sse_algorithm: str,
        kms_key_arn: pulumi.Output[str] | None,
        log_target: aws.s3.Bucket | None,
    ) -> aws.s3.Bucket:
        ident = self._args.identity
        logical = f"{self._name}-{zone}"
        opts = child(self)
        bucket = aws.s3.Bucket(
            logical,
            bucket=ident.account_id.apply(
                lambda acct: naming.bucket_name(ident.project, ident.environment, zone, acct)
            ),
            force_destroy=ident.environment == "local",
            tags={**ident.tags(COMPONENT), "zone": zone},
            opts=opts,
        )
        aws.s3.BucketOwnershipControls(
            f"{logical}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{logical}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketVersioning(
            f"{logical}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{logical}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": sse_algorithm,
                        "kms_master_key_id": kms_key_arn,
                    },
                    "bucket_key_enabled": kms_key_arn is not None,
                }
            ],
            opts=opts,
        )
        is_log_bucket = log_target is None
        # The policy goes on after the public access block so a Deny policy is never briefly the only guard.
        aws.s3.BucketPolicy(
            f"{logical}-policy",
            bucket=bucket.id,
            policy=policy_json(
                lambda name, acct: self._bucket_policy(
                    zone, name, acct, log_delivery_account=acct if is_log_bucket else None
                ),
                bucket.bucket,
                ident.account_id,
            ),
            opts=child(self, depends_on=[block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{logical}-lifecycle", bucket=bucket.id, rules=lifecycle_rules(zone, self._args.retention), opts=opts
        )
        if log_target is not None:
            aws.s3.BucketLogging(
                f"{logical}-logging",
                bucket=bucket.id,
                target_bucket=log_target.id,
                target_prefix=f"{zone}/",
                opts=opts,
            )
        return bucket
