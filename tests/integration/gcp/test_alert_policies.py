"""Cloud Monitoring's alert-policy evaluation played on Google's emulators, through the wiring (``cloud: gcp``,
``target: gcp-emulators``, alarms ``auto``): a metric breaching for the condition's duration opens an incident,
notifies the channel's Pub/Sub topic and starts the retrain route's pipeline; its recovery closes the incident.

The evaluations are given their moment (``now``), so the periods are judged without waiting for the clock."""

from __future__ import annotations

import json
import re
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.memory.training import MemoryPipelines
from mlops.alarm_actions import read_actions
from mlops.alert_policies import policy_from_definition
from mlops.local.gcp_alert_runner import LocalAlertPolicies, put_channel, put_policy
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.alarms import AlarmDefinition
from mlops.settings import Settings, load_settings
from mlops.wiring import build_platform

pytestmark = pytest.mark.server

PIPELINE = "training-pipeline"


@dataclass
class Stack:
    platform: Platform
    policy: str
    channel: str
    subscription: str
    clients: GcpClients

    def notifications(self) -> list[dict[str, Any]]:
        """The incidents delivered to the channel's topic since the last call."""
        request = {"subscription": self.subscription, "max_messages": 50, "return_immediately": True}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            answer = self.clients.subscriber().pull(request=request, timeout=10)
        received = list(answer.received_messages)
        if received:
            acks = [m.ack_id for m in received]
            self.clients.subscriber().acknowledge(request={"subscription": self.subscription, "ack_ids": acks})
        return [json.loads(m.message.data)["incident"] for m in received]


@pytest.fixture
def stack(gcp_settings: Settings, gcp_clients: GcpClients, tmp_path: Path) -> Iterator[Stack]:
    """A local stack's monitoring as the infra program declares it: the alerts topic, its Pub/Sub channel, the
    data-drift policy (every minute of two over 0.2) and the retrain route to the training pipeline."""
    suffix = uuid.uuid4().hex[:8]
    project = gcp_clients.project
    topic, subscription = f"projects/{project}/topics/alerts-{suffix}", f"projects/{project}/subscriptions/a-{suffix}"
    gcp_clients.publisher().create_topic(request={"name": topic})
    gcp_clients.subscriber().create_subscription(request={"name": subscription, "topic": topic})
    channel = put_channel(
        gcp_clients, {"type": "pubsub", "displayName": f"alerts-{suffix}", "labels": {"topic": topic}}
    ).name
    namespace, policy = f"MLOpsKit/it-{suffix}", f"mlops-kit-it-{suffix}-data-drift"
    drift = AlarmDefinition(
        name=policy,
        arn="",
        namespace=namespace,
        metric_name="DataDriftScore",
        dimensions={},
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=0.2,
        period=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        treat_missing_data="notBreaching",
        state="INSUFFICIENT_DATA",
        description="Input feature distributions drifted",
    )
    put_policy(gcp_clients, policy_from_definition(drift, channels=[channel], labels={"alarm": "data-drift"}))
    gcp_clients.storage().create_bucket(f"monitoring-{suffix}")
    known: dict[str, Any] = {
        "metrics_namespace": namespace,
        "alarm_names": {"data_drift": policy},
        "retrain_rule_name": f"retrain-{suffix}",
        "training_pipeline_name": PIPELINE,
        "monitoring_bucket": f"monitoring-{suffix}",
    }
    outputs = StackOutputs.model_construct(**known)  # only what the monitoring services read
    settings = load_settings(
        cloud="gcp",
        target="gcp-emulators",
        gcp=gcp_settings.gcp.model_dump(),
        state_dir=tmp_path,
        services={"training": {"type": "memory"}},  # the training runner is not what this test is about
    )
    platform = build_platform(settings, outputs)
    training = platform.services.training
    assert isinstance(training, MemoryPipelines)
    training.deploy(PIPELINE, json.dumps({"Parameters": [{"Name": "TriggeredBy", "DefaultValue": "schedule"}]}))
    try:
        yield Stack(platform, policy, channel, subscription, gcp_clients)
    finally:
        gcp_clients.subscriber().delete_subscription(request={"subscription": subscription})
        gcp_clients.publisher().delete_topic(request={"topic": topic})


def test_breaching_for_the_duration_opens_an_incident_runs_the_retrain_route_and_recovery_closes_it(
    stack: Stack,
) -> None:
    services = stack.platform.services
    alarms, metrics = services.alarms, services.metrics
    assert isinstance(alarms, LocalAlertPolicies)
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

    def at(seconds: int) -> datetime:
        return t0 + timedelta(seconds=seconds)

    metrics.publish({"DataDriftScore": 0.5}, {}, timestamp=at(10))
    metrics.publish({"DataDriftScore": 0.9}, {"Dataset": "card_transactions"}, timestamp=at(12))  # a second series
    (first,) = alarms.evaluate([stack.policy], at(70))
    assert (first.previous_state, first.state) == ("INSUFFICIENT_DATA", "OK")  # one minute of two is not the duration
    assert "[0.5, missing]" in first.reason and not first.actions

    metrics.publish({"DataDriftScore": 0.6}, {}, timestamp=at(75))
    (dry,) = alarms.evaluate([stack.policy], at(90), apply=False)
    assert (dry.state, dry.applied) == ("ALARM", False)
    (opened,) = alarms.evaluate([stack.policy], at(90))
    assert (opened.previous_state, opened.state, opened.applied, opened.notified) == (
        "OK",
        "ALARM",
        True,
        (stack.channel,),
    )
    assert opened.reason.startswith(
        "series [no labels] (1 of 2 series): Threshold Crossed: 2 of 2 datapoint(s) [0.5, 0.6]"
    )
    (action,) = opened.actions
    assert (action.kind, action.outcome, action.rule) == (
        "start-pipeline",
        "succeeded",
        stack.platform.outputs.retrain_rule_name,
    )
    training = services.training
    assert isinstance(training, MemoryPipelines)
    (execution,) = training.executions(PIPELINE)
    assert execution.parameters["TriggeredBy"] == "drift-alarm"
    (incident,) = stack.notifications()
    assert (incident["state"], incident["policy_name"], incident["observed_value"]) == ("open", stack.policy, "0.6")
    assert incident["policy_user_labels"] == {"alarm": "data-drift"}

    (again,) = alarms.evaluate([stack.policy], at(100))  # still met: the incident stays open, nothing runs again
    assert (again.changed, again.actions, again.state_since) == (False, (), at(90))
    assert len(training.executions(PIPELINE)) == 1

    metrics.publish({"DataDriftScore": 0.1}, {}, timestamp=at(130))
    metrics.publish({"DataDriftScore": 0.1}, {"Dataset": "card_transactions"}, timestamp=at(131))
    (closed,) = alarms.evaluate([stack.policy], at(150))
    assert (closed.previous_state, closed.state, closed.notified) == ("ALARM", "OK", (stack.channel,))
    (recovery,) = stack.notifications()
    assert (recovery["state"], recovery["incident_id"]) == ("closed", incident["incident_id"])
    assert recovery["ended_at"] == int(at(150).timestamp())

    other_process = LocalAlertPolicies(stack.clients, metrics)  # type: ignore[arg-type]  # the store, not memory
    (described,) = other_process.describe([stack.policy])
    assert (described.state, described.state_updated) == ("OK", at(150))
    history = other_process.history(stack.policy)
    assert [(h.previous_state, h.state) for h in history] == [
        ("ALARM", "OK"),
        ("OK", "ALARM"),
        ("INSUFFICIENT_DATA", "OK"),
    ]
    assert history[0].data["incident_id"] == history[1].data["incident_id"] == incident["incident_id"]
    records = read_actions(services.object_store, stack.platform.outputs.monitoring_bucket)
    assert [(r.kind, r.alarm, r.outcome) for r in records] == [("start-pipeline", stack.policy, "succeeded")]


def _camel(value: Any) -> Any:
    """The program's snake_case condition as the Pulumi mocks hand it to the local apply: camelCase keys."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m[1].upper(), k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def test_the_programs_policies_applied_locally_are_evaluated_and_a_reapply_keeps_their_state(
    gcp_clients: GcpClients,
) -> None:
    """The local apply's handlers declare the GCP program's policies and channel; the runner judges them."""
    from infra.gcp.components.monitoring import condition
    from infra.thresholds import Thresholds, alarm_specs
    from mlops.local.gcp_apply.handlers import GcpHandlerContext, alert_policy, notification_channel
    from mlops.local.gcp_metrics import FirestoreEmulatorMetrics

    ctx = GcpHandlerContext(gcp_clients, tracking_uri="sqlite:///unused.db")  # no handler here tracks runs
    project, env = gcp_clients.project, f"it{uuid.uuid4().hex[:6]}"
    channel = notification_channel(
        ctx,
        "monitoring-channel",
        {"displayName": f"{env}-alerts", "type": "pubsub", "labels": {"topic": f"projects/{project}/topics/{env}"}},
    ).state["name"]
    specs = alarm_specs(Thresholds(800, 5, 0.2, 0.15, 0.05, 3))

    def declare(key: str, conditions: list[dict[str, Any]]) -> str:
        inputs = {
            "displayName": f"{env}-{key}",
            "combiner": "OR",
            "conditions": conditions,
            "notificationChannels": [channel],
            "userLabels": {"alarm": key.replace("_", "-")},
            "project": project,
        }
        return str(alert_policy(ctx, f"monitoring-{key}", inputs).state["displayName"])

    drift = declare("data_drift", [_camel(condition(specs["data_drift"], env, "7"))])
    latency = declare("endpoint_latency", [_camel(condition(specs["endpoint_latency"], env, "7"))])
    failures = declare("pipeline_failures", [{"displayName": "failed", "conditionMatchedLog": {"filter": "x"}}])
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    FirestoreEmulatorMetrics(gcp_clients, f"MLOpsKit/{env}").publish({"DataDriftScore": 0.4}, {}, timestamp=now)

    runner = LocalAlertPolicies(gcp_clients, FirestoreEmulatorMetrics(gcp_clients, f"MLOpsKit/{env}"))
    judged = {e.alarm: e for e in runner.evaluate([drift, latency, failures], now)}
    assert (judged[drift].state, judged[drift].applied) == ("ALARM", True)
    # the program's topic is not created in this test: the note says so, the state is written all the same
    assert judged[drift].notified == () and "publishing to" in judged[drift].notes[0]
    assert judged[latency].state == "INSUFFICIENT_DATA"  # no Vertex latency figures here; NO_OP keeps the state
    assert "Cloud Monitoring evaluates this one" in judged[failures].reason

    declare("data_drift", [_camel(condition(specs["data_drift"], env, "7"))])  # the next apply
    assert runner.describe([drift])[0].state == "ALARM"
