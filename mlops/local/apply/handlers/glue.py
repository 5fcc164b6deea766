"""Glue catalog databases and tables, jobs and triggers (moto stores them; the kit's runner runs the jobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, is_not_found, require, to_boto


def _get(getter: Callable[..., Any], key: str, **request: Any) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = getter(**request)[key]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return None
    return found


def database(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/catalogDatabase:CatalogDatabase``: id ``<catalog id>:<name>`` as the provider uses."""
    glue = ctx.clients.client("glue")
    db_name = str(require(inputs, "name", "aws:glue/catalogDatabase:CatalogDatabase", name))
    outcome: Outcome = "reused"
    if _get(glue.get_database, "Database", Name=db_name) is None:
        db_input: dict[str, Any] = {"Name": db_name, "Description": inputs.get("description", "")}
        if inputs.get("locationUri"):
            db_input["LocationUri"] = inputs["locationUri"]
        glue.create_database(DatabaseInput=db_input, Tags=dict(inputs.get("tags") or {}))
        outcome = "created"
    return applied(
        f"{ctx.account_id}:{db_name}",
        inputs,
        outcome,
        name=db_name,
        catalogId=ctx.account_id,
        arn=ctx.arn("glue", f"database/{db_name}"),
    )


def _table_input(table_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    keys = ("description", "tableType", "parameters", "storageDescriptor", "partitionKeys")
    table: dict[str, Any] = to_boto({key: inputs[key] for key in keys if key in inputs})
    # Table and SerDe parameters are free-form maps: their keys are not boto3 field names.
    if "parameters" in inputs:
        table["Parameters"] = dict(inputs["parameters"])
    serde = inputs.get("storageDescriptor", {}).get("serDeInfo", {})
    if "parameters" in serde:
        table["StorageDescriptor"]["SerdeInfo"]["Parameters"] = dict(serde["parameters"])
    return {"Name": table_name, **table}


def table(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/catalogTable:CatalogTable``: created, or updated when its definition differs."""
    typ = "aws:glue/catalogTable:CatalogTable"
    glue = ctx.clients.client("glue")
    db_name = str(require(inputs, "databaseName", typ, name))
    table_name = str(require(inputs, "name", typ, name))
    desired = _table_input(table_name, inputs)
    current = _get(glue.get_table, "Table", DatabaseName=db_name, Name=table_name)
    if current is None:
        glue.create_table(DatabaseName=db_name, TableInput=desired)
        outcome: Outcome = "created"
    elif all(current.get(key) == value for key, value in desired.items()):
        outcome = "reused"
    else:
        glue.update_table(DatabaseName=db_name, TableInput=desired)
        outcome = "updated"
    return applied(
        f"{ctx.account_id}:{db_name}:{table_name}",
        inputs,
        outcome,
        name=table_name,
        catalogId=ctx.account_id,
        arn=ctx.arn("glue", f"table/{db_name}/{table_name}"),
    )


# Free-form maps inside job definitions: their keys are argument names, not boto3 fields.
_JOB_MAPS = ("defaultArguments", "nonOverridableArguments", "tags")


def _job_request(job_name: str, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "description",
        "command",
        "glueVersion",
        "workerType",
        "numberOfWorkers",
        "timeout",
        "maxRetries",
        "executionProperty",
        "securityConfiguration",
    )
    request: dict[str, Any] = to_boto({key: inputs[key] for key in keys if key in inputs})
    request["Role"] = str(require(inputs, "roleArn", typ, name))
    for key in _JOB_MAPS[:2]:
        if key in inputs:
            request[key[:1].upper() + key[1:]] = dict(inputs[key])
    if inputs.get("connections"):
        request["Connections"] = {"Connections": list(inputs["connections"])}
    return {"Name": job_name, **request}


def job(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/job:Job``: moto has no UpdateJob, so a changed job is deleted and created again."""
    typ = "aws:glue/job:Job"
    glue = ctx.clients.client("glue")
    job_name = str(require(inputs, "name", typ, name))
    require(inputs, "command", typ, name)
    desired = _job_request(job_name, typ, name, inputs)
    current = _get(glue.get_job, "Job", JobName=job_name)
    outcome: Outcome = "created"
    if current is not None:
        if all(current.get(key) == value for key, value in desired.items()):
            outcome = "reused"
        else:
            glue.delete_job(JobName=job_name)
            outcome = "updated"
    if outcome != "reused":
        glue.create_job(**desired, Tags=dict(inputs.get("tags") or {}))
    return applied(job_name, inputs, outcome, name=job_name, arn=ctx.arn("glue", f"job/{job_name}"))


def trigger(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/trigger:Trigger``: like jobs, a changed trigger is deleted and created again."""
    typ = "aws:glue/trigger:Trigger"
    glue = ctx.clients.client("glue")
    trigger_name = str(require(inputs, "name", typ, name))
    keys = ("type", "schedule", "description", "predicate", "workflowName")
    desired: dict[str, Any] = {"Name": trigger_name, **to_boto({k: inputs[k] for k in keys if k in inputs})}
    desired["Actions"] = [
        {**to_boto({k: v for k, v in action.items() if k != "arguments"}), "Arguments": dict(action["arguments"])}
        if "arguments" in action
        else to_boto(action)
        for action in require(inputs, "actions", typ, name)
    ]
    current = _get(glue.get_trigger, "Trigger", Name=trigger_name)
    outcome: Outcome = "created"
    if current is not None:
        if all(current.get(key) == value for key, value in desired.items()):
            outcome = "reused"
        else:
            glue.delete_trigger(Name=trigger_name)
            outcome = "updated"
    if outcome != "reused":
        start = bool(inputs.get("startOnCreation", inputs.get("enabled", True))) and desired.get("Type") != "ON_DEMAND"
        glue.create_trigger(**desired, StartOnCreation=start, Tags=dict(inputs.get("tags") or {}))
    return applied(trigger_name, inputs, outcome, name=trigger_name, arn=ctx.arn("glue", f"trigger/{trigger_name}"))


SECURITY_CONFIGURATION = "aws:glue/securityConfiguration:SecurityConfiguration"
CATALOG_ENCRYPTION = "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"
CONNECTION = "aws:glue/connection:Connection"


def _encryption_configuration(config: dict[str, Any]) -> dict[str, Any]:
    s3 = config.get("s3Encryption") or {}
    cloudwatch = config.get("cloudwatchEncryption") or {}
    bookmarks = config.get("jobBookmarksEncryption") or {}

    def keyed(mode_key: str, mode: Any, key: Any) -> dict[str, Any]:
        return {mode_key: mode or "DISABLED", **({"KmsKeyArn": key} if key else {})}

    return {
        "S3Encryption": [keyed("S3EncryptionMode", s3.get("s3EncryptionMode"), s3.get("kmsKeyArn"))],
        "CloudWatchEncryption": keyed(
            "CloudWatchEncryptionMode", cloudwatch.get("cloudwatchEncryptionMode"), cloudwatch.get("kmsKeyArn")
        ),
        "JobBookmarksEncryption": keyed(
            "JobBookmarksEncryptionMode", bookmarks.get("jobBookmarksEncryptionMode"), bookmarks.get("kmsKeyArn")
        ),
    }


def security_configuration(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/securityConfiguration:SecurityConfiguration``: Glue has no update, so a changed one is replaced."""
    glue = ctx.clients.client("glue")
    config_name = str(require(inputs, "name", SECURITY_CONFIGURATION, name))
    desired = _encryption_configuration(require(inputs, "encryptionConfiguration", SECURITY_CONFIGURATION, name))
    current = _get(glue.get_security_configuration, "SecurityConfiguration", Name=config_name)
    outcome: Outcome = "created"
    if current is not None:
        if current.get("EncryptionConfiguration") == desired:
            outcome = "reused"
        else:
            glue.delete_security_configuration(Name=config_name)
            outcome = "updated"
    if outcome != "reused":
        glue.create_security_configuration(Name=config_name, EncryptionConfiguration=desired)
    return applied(config_name, inputs, outcome, name=config_name)


def catalog_encryption(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings``: the account's one setting."""
    glue = ctx.clients.client("glue")
    settings = require(inputs, "dataCatalogEncryptionSettings", CATALOG_ENCRYPTION, name)
    at_rest = settings.get("encryptionAtRest") or {}
    passwords = settings.get("connectionPasswordEncryption") or {}
    desired: dict[str, Any] = {
        "EncryptionAtRest": {
            "CatalogEncryptionMode": at_rest.get("catalogEncryptionMode", "DISABLED"),
            **({"SseAwsKmsKeyId": at_rest["sseAwsKmsKeyId"]} if at_rest.get("sseAwsKmsKeyId") else {}),
        },
        "ConnectionPasswordEncryption": {
            "ReturnConnectionPasswordEncrypted": bool(passwords.get("returnConnectionPasswordEncrypted")),
            **({"AwsKmsKeyId": passwords["awsKmsKeyId"]} if passwords.get("awsKmsKeyId") else {}),
        },
    }
    catalog_id = str(inputs.get("catalogId") or ctx.account_id)
    current = glue.get_data_catalog_encryption_settings(CatalogId=catalog_id).get("DataCatalogEncryptionSettings")
    outcome: Outcome = "reused"
    if current != desired:
        glue.put_data_catalog_encryption_settings(CatalogId=catalog_id, DataCatalogEncryptionSettings=desired)
        # The account starts with the catalog unencrypted: the first apply creates the setting.
        mode = ((current or {}).get("EncryptionAtRest") or {}).get("CatalogEncryptionMode", "DISABLED")
        outcome = "created" if mode == "DISABLED" else "updated"
    return applied(catalog_id, inputs, outcome, catalogId=catalog_id)


def connection(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:glue/connection:Connection`` (the kit's are NETWORK connections): created, or reused unchanged."""
    glue = ctx.clients.client("glue")
    connection_name = str(require(inputs, "name", CONNECTION, name))
    desired: dict[str, Any] = {
        "Name": connection_name,
        "ConnectionType": str(inputs.get("connectionType") or "JDBC"),
        "ConnectionProperties": dict(inputs.get("connectionProperties") or {}),
    }
    if inputs.get("description"):
        desired["Description"] = inputs["description"]
    physical = inputs.get("physicalConnectionRequirements")
    if physical:
        desired["PhysicalConnectionRequirements"] = {
            "AvailabilityZone": physical.get("availabilityZone"),
            "SubnetId": physical.get("subnetId"),
            "SecurityGroupIdList": list(physical.get("securityGroupIdLists") or []),
        }
    current = _get(glue.get_connection, "Connection", Name=connection_name)
    outcome: Outcome = "reused"
    if current is None:
        glue.create_connection(ConnectionInput=desired, Tags=dict(inputs.get("tags") or {}))
        outcome = "created"
    # moto's GetConnection leaves out ConnectionType, and it has neither UpdateConnection nor DeleteConnection.
    elif any(current.get(key) != value for key, value in desired.items() if key != "ConnectionType"):
        raise LocalApplyError(
            f"{CONNECTION} {name!r}: connection {connection_name!r} differs from the declared one and the emulator "
            "can neither update nor delete a Glue connection: run `mlops local reset`"
        )
    return applied(
        f"{ctx.account_id}:{connection_name}",
        inputs,
        outcome,
        name=connection_name,
        arn=ctx.arn("glue", f"connection/{connection_name}"),
    )


HANDLERS: dict[str, Handler] = {
    SECURITY_CONFIGURATION: security_configuration,
    CATALOG_ENCRYPTION: catalog_encryption,
    CONNECTION: connection,
    "aws:glue/catalogDatabase:CatalogDatabase": database,
    "aws:glue/catalogTable:CatalogTable": table,
    "aws:glue/job:Job": job,
    "aws:glue/trigger:Trigger": trigger,
}
