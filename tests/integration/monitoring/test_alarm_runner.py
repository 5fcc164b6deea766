"""The local alarm runner on the applied stack: a drift score above the threshold puts the drift alarm into
ALARM in the emulator, publishes CloudWatch's message to the alarm topic and puts the state-change event that
the retrain rule matches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mlops.adapters.metrics import CloudWatchMetrics
from mlops.local.alarm_runner import DETAIL_TYPE, run_alarms
from mlops.local.platform import Platform

pytestmark = pytest.mark.emulator


def _queue_subscribed_to_topic(platform: Platform, name: str) -> str:
    sqs, sns = platform.clients.client("sqs"), platform.clients.client("sns")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=platform.outputs.alarm_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return str(url)


def _bus_forwarding_state_changes(platform: Platform, name: str, alarm_arn: str) -> str:
    """A bus with the retrain rule's pattern and an SQS target (moto delivers to SQS, not to SageMaker)."""
    sqs, events = platform.clients.client("sqs"), platform.clients.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    retrain = events.describe_rule(Name=platform.outputs.retrain_rule_name)
    assert alarm_arn in json.loads(retrain["EventPattern"])["resources"]
    events.create_event_bus(Name=name)
    events.put_rule(Name=f"{name}-rule", EventBusName=name, EventPattern=retrain["EventPattern"], State="ENABLED")
    events.put_targets(Rule=f"{name}-rule", EventBusName=name, Targets=[{"Id": "probe", "Arn": arn}])
    return str(url)


def _messages(platform: Platform, url: str) -> list[dict[str, object]]:
    response = platform.clients.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_drift_above_threshold_sets_alarm_notifies_and_matches_retrain_rule(platform: Platform) -> None:
    outputs = platform.outputs
    alarm_name = outputs.alarm("data_drift")
    cloudwatch = platform.clients.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]
    topic_queue = _queue_subscribed_to_topic(platform, "alarm-runner-topic-probe")
    probe_bus = "alarm-runner-probe"
    event_queue = _bus_forwarding_state_changes(platform, probe_bus, alarm["AlarmArn"])
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue="OK", StateReason="test starts from OK")

    # The alarm watches DataDriftScore with no dimensions (infra declares none), threshold 0.2, Maximum.
    CloudWatchMetrics(platform.clients, outputs.metrics_namespace).publish({"DataDriftScore": 0.75}, {})
    (outcome,) = run_alarms(platform, keys=["data_drift"], now=datetime.now(UTC))

    assert (outcome.evaluation.previous_state, outcome.evaluation.state, outcome.applied) == ("OK", "ALARM", True)
    assert outcome.evaluation.breaching == 1
    assert cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert outcome.notified_topics == [outputs.alarm_topic_arn]
    assert [(f.rule, f.target_id) for f in outcome.fired] == [(outputs.retrain_rule_name, "training-pipeline")]
    assert outcome.fired[0].target_arn.startswith("arn:aws:sagemaker:")
    # moto cannot deliver to a SageMaker pipeline target, so the event is not put on the default bus.
    assert outcome.event_id is None
    assert outcome.event_skipped.startswith(f"the emulator cannot deliver to target(s) {outputs.retrain_rule_name}/")
    (notification,) = _messages(platform, topic_queue)
    assert (notification["AlarmName"], notification["NewStateValue"], notification["OldStateValue"]) == (
        alarm_name,
        "ALARM",
        "OK",
    )

    # Evaluated again with the same data: no transition, so no second notification.
    (again,) = run_alarms(platform, keys=["data_drift"])
    assert (again.evaluation.state, again.applied, again.notified_topics) == ("ALARM", False, [])
    assert _messages(platform, topic_queue) == []

    # On a bus whose rule (same pattern as the retrain rule) targets SQS, the event is put and delivered.
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue="OK", StateReason="again from OK")
    (delivered,) = run_alarms(platform, keys=["data_drift"], event_bus=probe_bus)
    assert delivered.event_id is not None
    assert [(f.rule, f.target_id) for f in delivered.fired] == [(f"{probe_bus}-rule", "probe")]
    (event,) = _messages(platform, event_queue)
    assert (event["source"], event["detail-type"], event["resources"], event["id"]) == (
        "aws.cloudwatch",
        DETAIL_TYPE,
        [alarm["AlarmArn"]],
        delivered.event_id,
    )
    detail = event["detail"]
    assert isinstance(detail, dict)
    assert (detail["alarmName"], detail["state"]["value"], detail["previousState"]["value"]) == (
        alarm_name,
        "ALARM",
        "OK",
    )
