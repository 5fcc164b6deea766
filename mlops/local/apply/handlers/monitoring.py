"""CloudWatch alarms, dashboards and log groups; SNS topics. moto records alarms but never evaluates them."""

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
    same_json,
    tags_list,
    to_boto,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
LOG_STREAM = "aws:cloudwatch/logStream:LogStream"

_ALARM_SCALARS = {
    "alarmDescription": "AlarmDescription",
    "comparisonOperator": "ComparisonOperator",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "period": "Period",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "threshold": "Threshold",
    "treatMissingData": "TreatMissingData",
    "actionsEnabled": "ActionsEnabled",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
}


def _alarm_request(alarm_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"AlarmName": alarm_name}
    for key, boto_key in _ALARM_SCALARS.items():
        if inputs.get(key) is not None:
            request[boto_key] = to_boto(inputs[key])
    if "Threshold" in request:
        request["Threshold"] = float(request["Threshold"])  # the API's only float among these
    if inputs.get("dimensions"):
        request["Dimensions"] = [{"Name": k, "Value": v} for k, v in sorted(inputs["dimensions"].items())]
    if inputs.get("metricQueries"):
        request["Metrics"] = to_boto(inputs["metricQueries"])
    return request


def metric_alarm(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Put the alarm; reused when the stored definition already matches every declared field."""
    cloudwatch = ctx.clients.client("cloudwatch")
    alarm_name = str(require(inputs, "name", ALARM, name))
    desired = _alarm_request(alarm_name, inputs)
    found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    outcome: Outcome = "created"
    if found:
        current = found[0]
        if "Dimensions" in current:
            current = {**current, "Dimensions": sorted(current["Dimensions"], key=lambda d: d["Name"])}
        outcome = "reused" if all(current.get(k) == v for k, v in desired.items()) else "updated"
    if outcome != "reused":
        cloudwatch.put_metric_alarm(**desired, Tags=tags_list(inputs.get("tags")))
    arn = ctx.arn("cloudwatch", f"alarm:{alarm_name}")
    return applied(alarm_name, inputs, outcome, name=alarm_name, arn=arn)


def dashboard(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    cloudwatch = ctx.clients.client("cloudwatch")
    dashboard_name = str(require(inputs, "dashboardName", DASHBOARD, name))
    body = str(require(inputs, "dashboardBody", DASHBOARD, name))
    outcome: Outcome = "created"
    try:
        current = cloudwatch.get_dashboard(DashboardName=dashboard_name)["DashboardBody"]
        outcome = "reused" if same_json(current, body) else "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if outcome != "reused":
        cloudwatch.put_dashboard(DashboardName=dashboard_name, DashboardBody=body)
    arn = f"arn:aws:cloudwatch::{ctx.account_id}:dashboard/{dashboard_name}"
    return applied(dashboard_name, inputs, outcome, dashboardArn=arn)


def log_group(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the log group with its retention and KMS key; the ARN is reported without ``:*``."""
    logs = ctx.clients.client("logs")
    group = str(require(inputs, "name", LOG_GROUP, name))
    found = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if g["logGroupName"] == group]
    outcome: Outcome = "reused"
    if not found:
        request: dict[str, Any] = {"logGroupName": group, "tags": dict(inputs.get("tags") or {})}
        if inputs.get("kmsKeyId"):
            request["kmsKeyId"] = inputs["kmsKeyId"]
        logs.create_log_group(**request)
        outcome = "created"
    retention = inputs.get("retentionInDays")
    current_retention = found[0].get("retentionInDays") if found else None
    if retention and current_retention != as_int(retention):
        logs.put_retention_policy(logGroupName=group, retentionInDays=as_int(retention))
        outcome = "updated" if outcome == "reused" else outcome
    return applied(group, inputs, outcome, name=group, arn=ctx.arn("logs", f"log-group:{group}"))


def log_stream(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """A log stream in its group (Firehose writes its delivery errors to a named one)."""
    logs = ctx.clients.client("logs")
    group = str(require(inputs, "logGroupName", LOG_STREAM, name))
    stream = str(require(inputs, "name", LOG_STREAM, name))
    found = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    outcome: Outcome = "reused"
    if not any(s["logStreamName"] == stream for s in found):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        outcome = "created"
    return applied(stream, inputs, outcome, name=stream, arn=ctx.arn("logs", f"log-group:{group}:log-stream:{stream}"))


def topic(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the topic (CreateTopic is idempotent by name); existence decides created vs reused."""
    sns = ctx.clients.client("sns")
    topic_name = str(require(inputs, "name", TOPIC, name))
    arn = ctx.arn("sns", topic_name)
    outcome: Outcome = "reused"
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        attributes = {"KmsMasterKeyId": inputs["kmsMasterKeyId"]} if inputs.get("kmsMasterKeyId") else {}
        arn = sns.create_topic(Name=topic_name, Attributes=attributes, Tags=tags_list(inputs.get("tags")))["TopicArn"]
        outcome = "created"
    return applied(arn, inputs, outcome, name=topic_name, arn=arn)


HANDLERS: dict[str, Handler] = {
    ALARM: metric_alarm,
    DASHBOARD: dashboard,
    LOG_GROUP: log_group,
    LOG_STREAM: log_stream,
    TOPIC: topic,
}
