"""EventBridge rules and targets (e.g. the scheduled or drift-triggered retraining rule)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, is_not_found, require, tags_list

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
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
    bus = {"EventBusName": inputs["eventBusName"]} if inputs.get("eventBusName") else {}
    current = [t for t in events.list_targets_by_rule(Rule=rule_name, **bus)["Targets"] if t["Id"] == target_id]
    outcome: Outcome = "created"
    if current:
        outcome = "reused" if all(current[0].get(k) == v for k, v in desired.items()) else "updated"
    if outcome != "reused":
        events.put_targets(Rule=rule_name, Targets=[desired], **bus)
    return applied(f"{rule_name}-{target_id}", inputs, outcome, targetId=target_id)


HANDLERS: dict[str, Handler] = {RULE: rule, TARGET: target}
