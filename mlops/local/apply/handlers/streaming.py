"""Kinesis data streams and Firehose delivery streams."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, as_int, is_not_found, require

STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"


def stream(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the stream with its shard count, retention and KMS encryption, or reuse it unchanged."""
    kinesis = ctx.clients.client("kinesis")
    stream_name = str(require(inputs, "name", STREAM, name))
    mode = (inputs.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
    outcome: Outcome = "reused"
    try:
        summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {"StreamName": stream_name, "StreamModeDetails": {"StreamMode": mode}}
        if mode == "PROVISIONED":
            request["ShardCount"] = as_int(require(inputs, "shardCount", STREAM, name))
        kinesis.create_stream(**request)
        kinesis.get_waiter("stream_exists").wait(StreamName=stream_name, WaiterConfig={"Delay": 0.2})
        summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
        outcome = "created"
    if mode == "PROVISIONED" and summary["OpenShardCount"] != as_int(inputs["shardCount"]):
        raise LocalApplyError(
            f"{STREAM} {name!r}: stream {stream_name!r} has {summary['OpenShardCount']} shards but the program "
            f"declares {as_int(inputs['shardCount'])}; resharding is not done locally: run `mlops local reset`"
        )
    retention = as_int(inputs.get("retentionPeriod", 24))
    if summary["RetentionPeriodHours"] < retention:
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=retention)
        outcome = "updated" if outcome == "reused" else outcome
    if inputs.get("encryptionType") == "KMS" and summary.get("EncryptionType") != "KMS":
        key = str(require(inputs, "kmsKeyId", STREAM, name))
        kinesis.start_stream_encryption(StreamName=stream_name, EncryptionType="KMS", KeyId=key)
        outcome = "updated" if outcome == "reused" else outcome
    arn = summary["StreamARN"]
    return applied(arn, inputs, outcome, name=stream_name, arn=arn)


def _s3_destination(config: dict[str, Any]) -> dict[str, Any]:
    destination: dict[str, Any] = {
        "RoleARN": config["roleArn"],
        "BucketARN": config["bucketArn"],
        "BufferingHints": {
            "SizeInMBs": as_int(config.get("bufferingSize", 5)),
            "IntervalInSeconds": as_int(config.get("bufferingInterval", 300)),
        },
        "CompressionFormat": config.get("compressionFormat", "UNCOMPRESSED"),
    }
    for key, boto_key in (("prefix", "Prefix"), ("errorOutputPrefix", "ErrorOutputPrefix")):
        if config.get(key):
            destination[boto_key] = config[key]
    if config.get("kmsKeyArn"):
        destination["EncryptionConfiguration"] = {"KMSEncryptionConfig": {"AWSKMSKeyARN": config["kmsKeyArn"]}}
    logging = config.get("cloudwatchLoggingOptions") or {}
    if logging.get("enabled"):
        destination["CloudWatchLoggingOptions"] = {
            "Enabled": True,
            "LogGroupName": logging.get("logGroupName", ""),
            "LogStreamName": logging.get("logStreamName", ""),
        }
    return destination


def firehose(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create an ``extended_s3`` delivery stream (from Kinesis or direct put), or reuse it."""
    client = ctx.clients.client("firehose")
    stream_name = str(require(inputs, "name", FIREHOSE, name))
    destination = str(require(inputs, "destination", FIREHOSE, name))
    if destination != "extended_s3":
        raise LocalApplyError(f"{FIREHOSE} {name!r}: destination {destination!r} is not supported locally")
    outcome: Outcome = "reused"
    try:
        description = client.describe_delivery_stream(DeliveryStreamName=stream_name)["DeliveryStreamDescription"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {
            "DeliveryStreamName": stream_name,
            "ExtendedS3DestinationConfiguration": _s3_destination(
                require(inputs, "extendedS3Configuration", FIREHOSE, name)
            ),
        }
        source = inputs.get("kinesisSourceConfiguration")
        if source:
            request["DeliveryStreamType"] = "KinesisStreamAsSource"
            request["KinesisStreamSourceConfiguration"] = {
                "KinesisStreamARN": source["kinesisStreamArn"],
                "RoleARN": source["roleArn"],
            }
        else:
            request["DeliveryStreamType"] = "DirectPut"
        client.create_delivery_stream(**request)
        description = client.describe_delivery_stream(DeliveryStreamName=stream_name)["DeliveryStreamDescription"]
        outcome = "created"
    arn = description["DeliveryStreamARN"]
    return applied(arn, inputs, outcome, name=stream_name, arn=arn)


HANDLERS: dict[str, Handler] = {STREAM: stream, FIREHOSE: firehose}
