"""Monitoring: alarms on the kit's metrics and the endpoint, a dashboard, an encrypted SNS topic, log groups
with retention, and the EventBridge rule that starts retraining when drift or degradation alarms fire."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json
from infra.thresholds import RETRAIN_ALARMS, AlarmSpec, Thresholds, alarm_specs

COMPONENT = "monitoring"
LOG_PURPOSES: tuple[str, ...] = ("glue", "training", "endpoint", "monitoring")


@dataclass(frozen=True)
class MonitoringArgs:
    """Inputs of :class:`Monitoring`. ``endpoint_name`` is the name the serving component will use."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    endpoint_name: str
    pipeline_arn: pulumi.Output[str]
    thresholds: Thresholds
    log_retention_days: int


def events_role(
    parent: pulumi.Resource, logical: str, ident: StackIdentity, purpose: str, policy: pulumi.Output[str]
) -> aws.iam.Role:
    """The role EventBridge assumes to reach one rule's target (``<prefix>-<purpose>-role``, under the stack's
    boundary), with ``policy`` inline; resources ``<logical>-role`` and ``<logical>-policy``."""
    role = aws.iam.Role(
        f"{logical}-role",
        name=naming.role_name(ident.project, ident.environment, purpose),
        permissions_boundary=ident.permissions_boundary,
        assume_role_policy=policy_json(lambda: policies.assume_role_policy("events.amazonaws.com")),
        tags=ident.tags(COMPONENT),
        opts=child(parent),
    )
    aws.iam.RolePolicy(f"{logical}-policy", role=role.id, policy=policy, opts=child(parent))
    return role


def log_group_names(project: str, environment: str, endpoint_name: str) -> dict[str, str]:
    """The ``log_groups`` output: kit log groups, and the one SageMaker writes the endpoint's logs to."""
    names = {purpose: naming.log_group_name(project, environment, purpose) for purpose in LOG_PURPOSES}
    names["endpoint"] = naming.endpoint_log_group(endpoint_name)
    return names


def dashboard_body(region: str, namespace: str, endpoint_name: str, specs: dict[str, AlarmSpec]) -> str:
    """Dashboard JSON: one graph per alarm metric."""
    widgets: list[dict[str, Any]] = []
    for index, spec in enumerate(specs.values()):
        if spec.endpoint:
            metric = [
                "AWS/SageMaker",
                spec.metric_name,
                "EndpointName",
                endpoint_name,
                "VariantName",
                naming.ENDPOINT_VARIANT,
            ]
        else:
            metric = [namespace, spec.metric_name]
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * 12,
                "y": (index // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": spec.description,
                    "region": region,
                    "stat": spec.statistic,
                    "period": spec.period_seconds,
                    "metrics": [metric],
                    "annotations": {"horizontal": [{"value": spec.threshold, "label": spec.key}]},
                },
            }
        )
    return json.dumps({"widgets": widgets}, sort_keys=True)


class Monitoring(pulumi.ComponentResource):
    """Alarm names, topic, dashboard, log groups and the retraining rule of the stack."""

    topic_arn: pulumi.Output[str]
    namespace: str
    dashboard_name: pulumi.Output[str]
    alarm_names: dict[str, pulumi.Output[str]]
    log_groups: dict[str, pulumi.Output[str]]
    retrain_rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        self.namespace = naming.metrics_namespace(ident.environment)
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=naming.resource_name(ident.project, ident.environment, "alarms"),
            kms_master_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        self.topic_arn = topic.arn
        self.log_groups = {}
        for purpose, group_name in log_group_names(ident.project, ident.environment, args.endpoint_name).items():
            group = aws.cloudwatch.LogGroup(
                f"{name}-logs-{purpose}",
                name=group_name,
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=tags,
                opts=child(self),
            )
            self.log_groups[purpose] = group.name
        specs = alarm_specs(args.thresholds)
        alarms = {key: self._alarm(spec, topic, args) for key, spec in specs.items()}
        self.alarm_names = {key: alarm.name for key, alarm in alarms.items()}
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=naming.resource_name(ident.project, ident.environment, "overview"),
            dashboard_body=dashboard_body(ident.region, self.namespace, args.endpoint_name, specs),
            opts=child(self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.retrain_rule_name = self._retrain_rule([alarms[key] for key in RETRAIN_ALARMS], args)
        self.register_outputs({"topic_arn": self.topic_arn, "alarm_names": self.alarm_names})

    def _alarm(self, spec: AlarmSpec, topic: aws.sns.Topic, args: MonitoringArgs) -> aws.cloudwatch.MetricAlarm:
        ident = args.identity
        percentile = spec.statistic.startswith("p")
        dimensions = (
            {"EndpointName": args.endpoint_name, "VariantName": naming.ENDPOINT_VARIANT} if spec.endpoint else None
        )
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-alarm-{spec.key.replace('_', '-')}",
            name=naming.resource_name(ident.project, ident.environment, spec.key.replace("_", "-"), 255),
            alarm_description=spec.description,
            namespace="AWS/SageMaker" if spec.endpoint else self.namespace,
            metric_name=spec.metric_name,
            dimensions=dimensions,
            statistic=None if percentile else spec.statistic,
            extended_statistic=spec.statistic if percentile else None,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            period=spec.period_seconds,
            evaluation_periods=spec.evaluation_periods,
            # No data means no traffic or no batch: not a failure by itself.
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=ident.tags(COMPONENT),
            opts=child(self),
        )

    def _retrain_rule(self, alarms: list[aws.cloudwatch.MetricAlarm], args: MonitoringArgs) -> pulumi.Output[str]:
        ident = args.identity
        tags = ident.tags(COMPONENT)
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-retrain",
            name=naming.resource_name(ident.project, ident.environment, "retrain-on-drift"),
            description="Start the training pipeline when drift or degradation alarms enter ALARM",
            event_pattern=pulumi.Output.all(*[alarm.arn for alarm in alarms]).apply(
                lambda arns: json.dumps(
                    {
                        "source": ["aws.cloudwatch"],
                        "detail-type": ["CloudWatch Alarm State Change"],
                        "resources": list(arns),
                        "detail": {"state": {"value": ["ALARM"]}},
                    },
                    sort_keys=True,
                )
            ),
            tags=tags,
            opts=child(self),
        )
        policy = policy_json(policies.start_pipeline_policy, args.pipeline_arn)
        role = events_role(self, f"{self._name}-events", ident, "retrain-events", policy)
        aws.cloudwatch.EventTarget(
            f"{self._name}-retrain-target",
            rule=rule.name,
            target_id="training-pipeline",
            arn=args.pipeline_arn,
            role_arn=role.arn,
            sagemaker_pipeline_target={"pipeline_parameter_lists": [{"name": "TriggeredBy", "value": "drift-alarm"}]},
            opts=child(self),
        )
        return rule.name
