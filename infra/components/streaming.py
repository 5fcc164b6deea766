"""Streaming: an encrypted Kinesis stream, Firehose delivery into the raw zone, a consumer checkpoint table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json

COMPONENT = "streaming"


@dataclass(frozen=True)
class StreamingArgs:
    """Inputs of :class:`Streaming`. ``shard_count`` applies only to ``PROVISIONED`` mode."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    raw_bucket: pulumi.Output[str]
    raw_bucket_arn: pulumi.Output[str]
    mode: Literal["ON_DEMAND", "PROVISIONED"]
    shard_count: int
    retention_hours: int
    buffer_seconds: int
    log_retention_days: int

    def __post_init__(self) -> None:
        if self.mode == "ON_DEMAND" and self.shard_count != 1:
            raise ValueError("StreamingArgs.shard_count is only valid with mode PROVISIONED")


class Streaming(pulumi.ComponentResource):
    """Events enter through the stream; Firehose lands them as gzip JSON in ``raw/events/``."""

    stream_name: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    firehose_name: pulumi.Output[str]
    checkpoint_table: pulumi.Output[str]

    def __init__(self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:streaming:Streaming", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        stream = aws.kinesis.Stream(
            f"{name}-stream",
            name=naming.resource_name(ident.project, ident.environment, "events"),
            stream_mode_details={"stream_mode": args.mode},
            shard_count=args.shard_count if args.mode == "PROVISIONED" else None,
            retention_period=args.retention_hours,
            encryption_type="KMS",
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-firehose-role",
            name=naming.role_name(ident.project, ident.environment, "firehose"),
            permissions_boundary=ident.permissions_boundary,
            assume_role_policy=policy_json(lambda: policies.assume_role_policy("firehose.amazonaws.com")),
            tags=tags,
            opts=child(self),
        )
        # Delivery errors (throttling, KMS, S3 access) are logged here instead of being visible nowhere.
        error_logs = aws.cloudwatch.LogGroup(
            f"{name}-firehose-errors",
            name=naming.log_group_name(ident.project, ident.environment, "firehose"),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        error_stream = aws.cloudwatch.LogStream(
            f"{name}-firehose-errors-stream", name="S3Delivery", log_group_name=error_logs.name, opts=child(self)
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-firehose-policy",
            role=role.id,
            policy=policy_json(policies.firehose_policy, stream.arn, args.raw_bucket, args.kms_key_arn, error_logs.arn),
            opts=child(self),
        )
        firehose = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-firehose",
            name=naming.resource_name(ident.project, ident.environment, "events-to-raw"),
            destination="extended_s3",
            kinesis_source_configuration={"kinesis_stream_arn": stream.arn, "role_arn": role.arn},
            extended_s3_configuration={
                "bucket_arn": args.raw_bucket_arn,
                "role_arn": role.arn,
                "prefix": "events/dt=!{timestamp:yyyy-MM-dd}/",
                "error_output_prefix": "events-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
                "buffering_interval": args.buffer_seconds,
                "buffering_size": 64,
                "compression_format": "GZIP",
                "kms_key_arn": args.kms_key_arn,
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": error_logs.name,
                    "log_stream_name": error_stream.name,
                },
            },
            tags=tags,
            # Firehose validates its role on creation: the policy must exist first.
            opts=child(self, depends_on=[role_policy]),
        )
        checkpoints = aws.dynamodb.Table(
            f"{name}-checkpoints",
            name=naming.resource_name(ident.project, ident.environment, "stream-checkpoints"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="consumer",
            range_key="shard_id",
            attributes=[{"name": "shard_id", "type": "S"}, {"name": "consumer", "type": "S"}],
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            point_in_time_recovery={"enabled": True},
            deletion_protection_enabled=True,
            tags=tags,
            opts=child(self),
        )
        self.stream_name = stream.name
        self.stream_arn = stream.arn
        self.firehose_name = firehose.name
        self.checkpoint_table = checkpoints.name
        self.register_outputs({"stream_name": self.stream_name, "firehose_name": self.firehose_name})
