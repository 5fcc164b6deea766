"""Glue catalog databases and tables, jobs and triggers (moto stores them; the kit's runner runs the jobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

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


HANDLERS: dict[str, Handler] = {
    "aws:glue/catalogDatabase:CatalogDatabase": database,
    "aws:glue/catalogTable:CatalogTable": table,
    "aws:glue/job:Job": job,
    "aws:glue/trigger:Trigger": trigger,
}
