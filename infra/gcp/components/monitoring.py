"""Monitoring on Google Cloud: one alert policy per AWS alarm (endpoint errors and latency on Vertex's metrics;
data quality, drift and model quality on the kit's custom metrics) plus pipeline failures, a Pub/Sub
notification channel (the SNS topic's role) with a subscription the retraining follow-through reads, and a
dashboard of every alerted metric."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity
from infra.thresholds import AlarmSpec, Thresholds, alarm_specs

COMPONENT = "monitoring"
VERTEX_METRICS = {
    "endpoint_errors": "aiplatform.googleapis.com/prediction/online/error_count",
    "endpoint_latency": "aiplatform.googleapis.com/prediction/online/prediction_latencies",
}
ALIGNERS = {"Sum": "ALIGN_SUM", "Maximum": "ALIGN_MAX", "p99": "ALIGN_PERCENTILE_99"}
COMPARISONS = {"GreaterThanThreshold": "COMPARISON_GT", "GreaterThanOrEqualToThreshold": "COMPARISON_GE"}
PIPELINE_FAILURES = "pipeline_failures"


def metric_filter(spec: AlarmSpec, environment: str, endpoint_id: str) -> str:
    """The Cloud Monitoring filter of an alarm's metric: Vertex's endpoint metrics, or the kit's custom metric."""
    if spec.key in VERTEX_METRICS:
        return (
            f'metric.type="{VERTEX_METRICS[spec.key]}" AND resource.type="aiplatform.googleapis.com/Endpoint" '
            f'AND resource.label.endpoint_id="{endpoint_id}"'
        )
    return f'metric.type="{gcp_naming.metric_type(environment, spec.metric_name)}" AND resource.type="global"'


def threshold(spec: AlarmSpec) -> float:
    """Vertex reports latency in milliseconds (the AWS spec holds SageMaker's microseconds)."""
    return spec.threshold / 1000.0 if spec.key == "endpoint_latency" else spec.threshold


def condition(spec: AlarmSpec, environment: str, endpoint_id: str) -> dict[str, Any]:
    """The threshold condition of one alarm, over ``evaluation_periods`` periods as the CloudWatch alarm."""
    return {
        "display_name": spec.description,
        "condition_threshold": {
            "filter": metric_filter(spec, environment, endpoint_id),
            "comparison": COMPARISONS[spec.comparison],
            "threshold_value": threshold(spec),
            "duration": f"{spec.period_seconds * spec.evaluation_periods}s",
            "aggregations": [
                {"alignment_period": f"{spec.period_seconds}s", "per_series_aligner": ALIGNERS[spec.statistic]}
            ],
            "trigger": {"count": 1},
        },
    }


def dashboard_json(specs: dict[str, AlarmSpec], environment: str, endpoint_id: str) -> str:
    """Dashboard: one chart per alerted metric."""
    tiles = [
        {
            "title": spec.description,
            "xyChart": {
                "dataSets": [
                    {
                        "timeSeriesQuery": {
                            "timeSeriesFilter": {
                                "filter": metric_filter(spec, environment, endpoint_id),
                                "aggregation": {
                                    "alignmentPeriod": f"{spec.period_seconds}s",
                                    "perSeriesAligner": ALIGNERS[spec.statistic],
                                },
                            }
                        }
                    }
                ]
            },
        }
        for spec in specs.values()
    ]
    return json.dumps(
        {"displayName": f"mlops-kit {environment}", "gridLayout": {"columns": "2", "widgets": tiles}}, sort_keys=True
    )


@dataclass(frozen=True)
class GcpMonitoringArgs:
    """Inputs of :class:`GcpMonitoring`."""

    identity: GcpIdentity
    pubsub_key: pulumi.Output[str]
    endpoint_id: str
    thresholds: Thresholds


class GcpMonitoring(pulumi.ComponentResource):
    """Alert policies by alarm key, the notification channel, its topic and the dashboard."""

    alert_policies: dict[str, pulumi.Output[str]]
    topic: pulumi.Output[str]
    channel: pulumi.Output[str]
    dashboard: pulumi.Output[str]
    retrain_subscription: pulumi.Output[str]

    def __init__(self, name: str, args: GcpMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, None, opts)
        ident = args.identity
        topic = gcp.pubsub.Topic(
            f"{name}-alerts",
            name=naming.resource_name(ident.project, ident.environment, "alerts", 255),
            project=ident.gcp_project,
            kms_key_name=args.pubsub_key,
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        gcp.pubsub.TopicIAMMember(
            f"{name}-alerts-publisher",
            topic=topic.id,
            role="roles/pubsub.publisher",
            member=ident.agent("monitoring"),
            opts=child(self),
        )
        retrain = gcp.pubsub.Subscription(
            f"{name}-retrain",
            name=naming.resource_name(ident.project, ident.environment, "retrain", 255),
            project=ident.gcp_project,
            topic=topic.id,
            ack_deadline_seconds=60,
            expiration_policy={"ttl": ""},
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        channel = gcp.monitoring.NotificationChannel(
            f"{name}-channel",
            display_name=naming.resource_name(ident.project, ident.environment, "alerts"),
            project=ident.gcp_project,
            type="pubsub",
            labels={"topic": topic.id},
            user_labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        specs = alarm_specs(args.thresholds)
        self.alert_policies = {}
        for key, spec in specs.items():
            policy = gcp.monitoring.AlertPolicy(
                f"{name}-{key.replace('_', '-')}",
                display_name=naming.resource_name(ident.project, ident.environment, key.replace("_", "-")),
                project=ident.gcp_project,
                combiner="OR",
                conditions=[cast(Any, condition(spec, ident.environment, args.endpoint_id))],
                notification_channels=[channel.name],
                documentation={"content": spec.description, "mime_type": "text/markdown"},
                user_labels={**ident.labels(COMPONENT), "alarm": key.replace("_", "-")},
                opts=child(self),
            )
            self.alert_policies[key] = policy.display_name
        failures = gcp.monitoring.AlertPolicy(
            f"{name}-pipeline-failures",
            display_name=naming.resource_name(ident.project, ident.environment, "pipeline-failures"),
            project=ident.gcp_project,
            combiner="OR",
            conditions=[
                {
                    "display_name": "A Dataproc batch or Vertex pipeline run failed",
                    "condition_matched_log": {
                        "filter": (
                            '(resource.type="cloud_dataproc_batch" OR '
                            'resource.type="aiplatform.googleapis.com/PipelineJob") '
                            f'AND severity>=ERROR AND labels.environment="{ident.environment}"'
                        )
                    },
                }
            ],
            alert_strategy={"notification_rate_limit": {"period": "300s"}},
            notification_channels=[channel.name],
            user_labels={**ident.labels(COMPONENT), "alarm": "pipeline-failures"},
            opts=child(self),
        )
        self.alert_policies[PIPELINE_FAILURES] = failures.display_name
        dashboard = gcp.monitoring.Dashboard(
            f"{name}-dashboard",
            project=ident.gcp_project,
            dashboard_json=dashboard_json(specs, ident.environment, args.endpoint_id),
            opts=child(self),
        )
        self.topic, self.channel, self.dashboard = topic.id, channel.name, dashboard.id
        self.retrain_subscription = retrain.name
        self.register_outputs({"alert_policies": self.alert_policies})
