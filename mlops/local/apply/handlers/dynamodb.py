"""DynamoDB tables (stream checkpoints, online feature store)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.local.apply.base import (
    Applied,
    Handler,
    HandlerContext,
    Outcome,
    applied,
    as_int,
    is_not_found,
    require,
    tags_list,
)

TYPE = "aws:dynamodb/table:Table"


def _create_request(table_name: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    schema = [{"AttributeName": str(require(inputs, "hashKey", TYPE, name)), "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        schema.append({"AttributeName": str(inputs["rangeKey"]), "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": schema,
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in require(inputs, "attributes", TYPE, name)
        ],
        "BillingMode": inputs.get("billingMode", "PAY_PER_REQUEST"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": as_int(inputs.get("readCapacity", 1)),
            "WriteCapacityUnits": as_int(inputs.get("writeCapacity", 1)),
        }
    sse = inputs.get("serverSideEncryption") or {}
    if sse.get("enabled"):
        request["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
        if sse.get("kmsKeyArn"):
            request["SSESpecification"]["KMSMasterKeyId"] = sse["kmsKeyArn"]
    if inputs.get("streamEnabled"):
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": inputs.get("streamViewType", "NEW_AND_OLD_IMAGES"),
        }
    if inputs.get("deletionProtectionEnabled"):
        request["DeletionProtectionEnabled"] = True
    if inputs.get("tags"):
        request["Tags"] = tags_list(inputs["tags"])
    return request


def table(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the table, then keep TTL and point-in-time recovery as declared."""
    dynamodb = ctx.clients.client("dynamodb")
    table_name = str(require(inputs, "name", TYPE, name))
    outcome: Outcome = "reused"
    try:
        description = dynamodb.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        description = dynamodb.create_table(**_create_request(table_name, name, inputs))["TableDescription"]
        outcome = "created"
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        current = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") != "ENABLED" or current.get("AttributeName") != ttl["attributeName"]:
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
            )
            outcome = "updated" if outcome == "reused" else outcome
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        backups = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
        status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        if status != "ENABLED":
            dynamodb.update_continuous_backups(
                TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
            outcome = "updated" if outcome == "reused" else outcome
    protected = bool(inputs.get("deletionProtectionEnabled"))
    if bool(description.get("DeletionProtectionEnabled")) != protected:
        dynamodb.update_table(TableName=table_name, DeletionProtectionEnabled=protected)
        outcome = "updated" if outcome == "reused" else outcome
    arn = description["TableArn"]
    return applied(
        table_name,
        inputs,
        outcome,
        name=table_name,
        arn=arn,
        streamArn=description.get("LatestStreamArn", ""),
    )


HANDLERS: dict[str, Handler] = {TYPE: table}
