"""EventBridge rules and targets (e.g. the scheduled or drift-triggered retraining rule), and the connection and API
destination a rule calls an HTTP API with (the retrained-workflow dispatch). The emulator stores them; it delivers
nothing to an API destination."""

from __future__ import annotations

import hashlib
import json
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

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"
API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
_RULE_FIELDS = {
    "scheduleExpression": "ScheduleExpression",
    "eventPattern": "EventPattern",
    "description": "Description",
    "roleArn": "RoleArn",
    "eventBusName": "EventBusName",
}


def rule(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    events = ctx.clients.client("events")
    rule_name = str(require(inputs, "name", RULE, name))
    desired: dict[str, Any] = {"Name": rule_name}
    for key, boto_key in _RULE_FIELDS.items():
        if inputs.get(key):
            desired[boto_key] = inputs[key]
    enabled = inputs.get("state", "ENABLED" if inputs.get("isEnabled", True) else "DISABLED")
    desired["State"] = enabled
    bus = {"EventBusName": desired["EventBusName"]} if "EventBusName" in desired else {}
    outcome: Outcome = "created"
    try:
        current = events.describe_rule(Name=rule_name, **bus)
        outcome = "reused" if all(current.get(k) == v for k, v in desired.items()) else "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if outcome == "reused":
        arn = current["Arn"]
    else:
        tags = {"Tags": tags_list(inputs.get("tags"))} if outcome == "created" else {}
        arn = events.put_rule(**desired, **tags)["RuleArn"]
    return applied(rule_name, inputs, outcome, name=rule_name, arn=arn)


def target(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Put the target on its rule; the logical name is the target id when the program sets none."""
    events = ctx.clients.client("events")
    rule_name = str(require(inputs, "rule", TARGET, name))
    target_id = str(inputs.get("targetId") or name)
    desired: dict[str, Any] = {"Id": target_id, "Arn": str(require(inputs, "arn", TARGET, name))}
    if inputs.get("roleArn"):
        desired["RoleArn"] = inputs["roleArn"]
    if inputs.get("input"):
        desired["Input"] = inputs["input"]
    pipeline = inputs.get("sagemakerPipelineTarget") or {}
    if pipeline.get("pipelineParameterLists"):
        # the parameters EventBridge starts the pipeline with (the retrain rule's TriggeredBy=drift-alarm)
        listed = [{"Name": p["name"], "Value": p["value"]} for p in pipeline["pipelineParameterLists"]]
        desired["SageMakerPipelineParameters"] = {"PipelineParameterList": listed}
    transformer = inputs.get("inputTransformer") or {}
    if transformer.get("inputTemplate"):
        desired["InputTransformer"] = {
            "InputPathsMap": dict(transformer.get("inputPaths") or {}),
            "InputTemplate": transformer["inputTemplate"],
        }
    retry = inputs.get("retryPolicy") or {}
    if retry:
        desired["RetryPolicy"] = {
            "MaximumRetryAttempts": as_int(retry.get("maximumRetryAttempts", 185)),
            "MaximumEventAgeInSeconds": as_int(retry.get("maximumEventAgeInSeconds", 86400)),
        }
    bus = {"EventBusName": inputs["eventBusName"]} if inputs.get("eventBusName") else {}
    current = [t for t in events.list_targets_by_rule(Rule=rule_name, **bus)["Targets"] if t["Id"] == target_id]
    outcome: Outcome = "created"
    if current:
        outcome = "reused" if all(current[0].get(k) == v for k, v in desired.items()) else "updated"
    if outcome != "reused":
        events.put_targets(Rule=rule_name, Targets=[desired], **bus)
    return applied(f"{rule_name}-{target_id}", inputs, outcome, targetId=target_id)


def _auth_parameters(pulumi_form: dict[str, Any]) -> dict[str, Any]:
    """Pulumi's ``authParameters`` (API key or basic) in the API's shape, with the extra HTTP headers."""
    auth: dict[str, Any] = {}
    if pulumi_form.get("apiKey"):
        key = pulumi_form["apiKey"]
        auth["ApiKeyAuthParameters"] = {"ApiKeyName": key["key"], "ApiKeyValue": key["value"]}
    if pulumi_form.get("basic"):
        basic = pulumi_form["basic"]
        auth["BasicAuthParameters"] = {"Username": basic["username"], "Password": basic["password"]}
    headers = (pulumi_form.get("invocationHttpParameters") or {}).get("headers") or []
    if headers:
        listed = [
            {"Key": h["key"], "Value": h["value"], "IsValueSecret": bool(h.get("isValueSecret"))} for h in headers
        ]
        auth["InvocationHttpParameters"] = {"HeaderParameters": listed}
    return auth


def connection(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """A connection's authorization. Its secret is never read back, so a digest of what was put is kept under the
    state dir (``<state_dir>/events/connections/<name>.sha256``, never the secret itself), where a re-apply
    compares it: unchanged inputs reuse the connection, as ``pulumi up`` would."""
    events = ctx.clients.client("events")
    connection_name = str(require(inputs, "name", CONNECTION, name))
    desired = {
        "Name": connection_name,
        "AuthorizationType": str(require(inputs, "authorizationType", CONNECTION, name)),
        "AuthParameters": _auth_parameters(require(inputs, "authParameters", CONNECTION, name)),
    }
    if inputs.get("description"):
        desired["Description"] = inputs["description"]
    digest = hashlib.sha256(json.dumps(desired, sort_keys=True).encode()).hexdigest()
    kept = ctx.state_dir / "events" / "connections" / f"{connection_name}.sha256"
    try:
        arn = events.describe_connection(Name=connection_name)["ConnectionArn"]
        outcome: Outcome = "reused" if kept.is_file() and kept.read_text() == digest else "updated"
        if outcome == "updated":
            events.update_connection(**desired)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        arn = events.create_connection(**desired)["ConnectionArn"]
        outcome = "created"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(digest)
    return applied(connection_name, inputs, outcome, name=connection_name, arn=arn)


def api_destination(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    events = ctx.clients.client("events")
    destination_name = str(require(inputs, "name", API_DESTINATION, name))
    desired: dict[str, Any] = {
        "Name": destination_name,
        "ConnectionArn": str(require(inputs, "connectionArn", API_DESTINATION, name)),
        "InvocationEndpoint": str(require(inputs, "invocationEndpoint", API_DESTINATION, name)),
        "HttpMethod": str(require(inputs, "httpMethod", API_DESTINATION, name)),
    }
    if inputs.get("invocationRateLimitPerSecond"):
        desired["InvocationRateLimitPerSecond"] = as_int(inputs["invocationRateLimitPerSecond"])
    if inputs.get("description"):
        desired["Description"] = inputs["description"]
    outcome: Outcome = "created"
    try:
        current = events.describe_api_destination(Name=destination_name)
        outcome = "reused" if all(current.get(k) == v for k, v in desired.items()) else "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if outcome == "reused":
        arn = current["ApiDestinationArn"]
    elif outcome == "updated":
        arn = events.update_api_destination(**desired)["ApiDestinationArn"]
    else:
        arn = events.create_api_destination(**desired)["ApiDestinationArn"]
    return applied(destination_name, inputs, outcome, name=destination_name, arn=arn)


HANDLERS: dict[str, Handler] = {
    RULE: rule,
    TARGET: target,
    CONNECTION: connection,
    API_DESTINATION: api_destination,
}
