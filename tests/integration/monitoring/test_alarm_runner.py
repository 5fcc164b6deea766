"""The alarms port on the applied stack in the moto emulator (``auto``: the kit's local runner): a drift score
above the threshold puts the drift alarm into ALARM in the emulator, publishes CloudWatch's message to the alarm
topic, matches the retrain rule with the state-change event, and records the change in the alarm history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mlops.adapters.aws.cloudwatch import CloudWatchMetrics
from mlops.adapters.memory.training import MemoryPipelines
from mlops.alarm_actions import read_actions
from mlops.local.alarm_actions import TargetDelivery
from mlops.local.alarm_runner import DETAIL_TYPE, LocalAlarms
from mlops.local.clients import clients_of
from mlops.local.frontdoor.client import frontdoor_url
from mlops.platform import Platform
from mlops.ports.alarms import AlarmEvaluation, AlarmNotFoundError

pytestmark = pytest.mark.emulator


def _queue_subscribed_to_topic(platform: Platform, name: str) -> str:
    clients = clients_of(platform)
    sqs, sns = clients.client("sqs"), clients.client("sns")
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
    clients = clients_of(platform)
    sqs, events = clients.client("sqs"), clients.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    retrain = events.describe_rule(Name=platform.outputs.retrain_rule_name)
    assert alarm_arn in json.loads(retrain["EventPattern"])["resources"]
    events.create_event_bus(Name=name)
    events.put_rule(Name=f"{name}-rule", EventBusName=name, EventPattern=retrain["EventPattern"], State="ENABLED")
    events.put_targets(Rule=f"{name}-rule", EventBusName=name, Targets=[{"Id": "probe", "Arn": arn}])
    return str(url)


def _messages(platform: Platform, url: str) -> list[dict[str, Any]]:
    sqs = clients_of(platform).client("sqs")
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def _emulator_state(platform: Platform, name: str) -> str:
    alarm = clients_of(platform).client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return str(alarm["StateValue"])


def _runner_recording_pipelines(platform: Platform) -> tuple[LocalAlarms, MemoryPipelines]:
    """The stack's local alarm runner, delivering to a pipeline runner that records the executions instead of
    training a model."""
    outputs = platform.outputs
    pipelines = MemoryPipelines({outputs.training_pipeline_name: json.dumps({"Parameters": [{"Name": "TriggeredBy"}]})})
    alarms = LocalAlarms(
        clients_of(platform),
        platform.services.metrics,
        history_log_group=outputs.log_groups["monitoring"],
        delivery=TargetDelivery(
            lambda: pipelines, platform.services.object_store, outputs.bucket_for_zone("monitoring")
        ),
    )
    return alarms, pipelines


def _check_the_pipeline_started(platform: Platform, outcome: AlarmEvaluation, pipelines: MemoryPipelines) -> None:
    """One execution of the stack's pipeline, with the retrain target's parameters, on record."""
    (started,) = outcome.actions
    (execution,) = pipelines.executions(platform.outputs.training_pipeline_name)
    assert (started.kind, started.outcome, started.data["execution_arn"]) == (
        "start-pipeline",
        "succeeded",
        execution.arn,
    )
    assert execution.parameters == {"TriggeredBy": "drift-alarm"}
    monitoring = platform.outputs.bucket_for_zone("monitoring")
    assert started in read_actions(platform.services.object_store, monitoring, limit=100)


def test_drift_above_threshold_sets_alarm_notifies_matches_retrain_rule_and_records_history(
    platform: Platform,
) -> None:
    outputs = platform.outputs
    assert isinstance(platform.services.alarms, LocalAlarms)  # moto never evaluates alarms: auto picks the runner
    assert isinstance(platform.services.alarms.delivery, TargetDelivery)  # ... which delivers the pipeline target
    alarms, pipelines = _runner_recording_pipelines(platform)
    alarm_name = outputs.alarm("data_drift")
    (definition,) = alarms.describe([alarm_name])
    cloudwatch = clients_of(platform).client("cloudwatch")
    topic_queue = _queue_subscribed_to_topic(platform, "alarm-runner-topic-probe")
    probe_bus = "alarm-runner-probe"
    event_queue = _bus_forwarding_state_changes(platform, probe_bus, definition.arn)
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue="OK", StateReason="test starts from OK")

    # The alarm watches DataDriftScore with no dimensions (infra declares none), threshold 0.2, Maximum.
    assert (definition.metric_name, dict(definition.dimensions), definition.statistic) == (
        "DataDriftScore",
        {},
        "Maximum",
    )
    platform.services.metrics.publish({"DataDriftScore": 0.75}, {})

    (dry,) = alarms.evaluate([alarm_name], apply=False)
    assert (dry.previous_state, dry.state, dry.applied) == ("OK", "ALARM", False)
    assert _emulator_state(platform, alarm_name) == "OK"  # a dry run changes nothing

    (outcome,) = alarms.evaluate([alarm_name], now=datetime.now(UTC))

    assert (outcome.previous_state, outcome.state, outcome.applied) == ("OK", "ALARM", True)
    assert outcome.breaching == 1
    assert _emulator_state(platform, alarm_name) == "ALARM"
    assert outcome.notified == (outputs.alarm_topic_arn,)
    assert [(t.rule, t.target_id) for t in outcome.event_targets] == [(outputs.retrain_rule_name, "training-pipeline")]
    assert outcome.event_targets[0].target_arn.startswith("arn:aws:sagemaker:")
    # moto cannot deliver to a SageMaker pipeline target, so the event is not put on the default bus: the runner
    # starts the retrain rule's pipeline itself, with the parameters the infra gives the target, and records it.
    assert outcome.event_id is None
    assert outcome.notes[0].startswith(f"the emulator cannot deliver to target(s) {outputs.retrain_rule_name}/")
    assert outcome.notes[0].endswith("the kit delivered the pipeline target(s) itself (see actions)")
    _check_the_pipeline_started(platform, outcome, pipelines)
    (notification,) = _messages(platform, topic_queue)
    assert (notification["AlarmName"], notification["NewStateValue"], notification["OldStateValue"]) == (
        alarm_name,
        "ALARM",
        "OK",
    )

    # Evaluated again with the same data: no transition, so no second notification.
    (again,) = alarms.evaluate([alarm_name])
    assert (again.state, again.applied, again.notified, again.changed) == ("ALARM", False, (), False)
    assert again.actions == () and len(pipelines.executions(outputs.training_pipeline_name)) == 1
    assert _messages(platform, topic_queue) == []

    # On a bus whose rule (same pattern as the retrain rule) targets SQS, the event is put and delivered.
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue="OK", StateReason="again from OK")
    probing = LocalAlarms(
        clients_of(platform),
        platform.services.metrics,
        history_log_group=outputs.log_groups["monitoring"],
        event_bus=probe_bus,
    )
    (delivered,) = probing.evaluate([alarm_name])
    assert delivered.event_id is not None
    assert [(t.rule, t.target_id) for t in delivered.event_targets] == [(f"{probe_bus}-rule", "probe")]
    (event,) = _messages(platform, event_queue)
    assert (event["source"], event["detail-type"], event["resources"], event["id"]) == (
        "aws.cloudwatch",
        DETAIL_TYPE,
        [definition.arn],
        delivered.event_id,
    )
    detail = event["detail"]
    assert (detail["alarmName"], detail["state"]["value"], detail["previousState"]["value"]) == (
        alarm_name,
        "ALARM",
        "OK",
    )

    # moto keeps no alarm history: the runner's own record of its two transitions, newest first.
    history = alarms.history(alarm_name, limit=2)
    assert [(h.previous_state, h.state) for h in history] == [("OK", "ALARM"), ("OK", "ALARM")]
    assert history[0].timestamp >= history[1].timestamp
    assert history[0].reason.startswith("Threshold Crossed: 1 of 1 datapoint(s) [0.75]")


def test_every_alarm_of_the_stack_is_evaluable_and_absent_ones_are_named(platform: Platform) -> None:
    """Endpoint alarms read SageMaker's namespace: the standard statistics from the emulator's CloudWatch, the p99
    latency from the front door's kept samples (no emulator computes percentiles)."""
    alarms = platform.services.alarms
    outputs = platform.outputs
    (latency,) = alarms.describe([outputs.alarm("endpoint_latency")])
    # SageMaker would publish these; a p99 query over data fails on moto (HTTP 500), so the runner must not ask.
    sagemaker = CloudWatchMetrics(clients_of(platform), latency.namespace)
    sagemaker.publish({latency.metric_name: 900_000.0}, dict(latency.dimensions))
    names = sorted(outputs.alarm_names.values())

    evaluations = alarms.evaluate(names, apply=False)

    assert [e.alarm for e in evaluations] == names
    assert {e.state for e in evaluations} <= {"OK", "ALARM"}  # notBreaching: no data is not a failure
    (judged,) = [e for e in evaluations if e.alarm == latency.name]
    # The session's emulator runs a front door: the p99 is its own (no sample of this endpoint is slow), not a
    # percentile of the 900 ms (900,000 microseconds) datapoint put in CloudWatch, and no period is left unjudged.
    assert frontdoor_url(platform.settings) is not None
    assert (latency.statistic, judged.state, judged.notes) == ("p99", "OK", ())
    # Without a front door the runner would ask the emulator's CloudWatch: it does not, and says why.
    bare = LocalAlarms(
        clients_of(platform), platform.services.metrics, history_log_group=outputs.log_groups["monitoring"]
    )
    (unjudged,) = bare.evaluate([latency.name], apply=False)
    assert (unjudged.state, unjudged.notes) == (
        "OK",
        ("the emulator computes no p99: every period was judged as missing",),
    )
    with pytest.raises(AlarmNotFoundError, match="'no-such-alarm'"):
        alarms.evaluate([names[0], "no-such-alarm"])
    with pytest.raises(AlarmNotFoundError, match="'no-such-alarm'"):
        alarms.history("no-such-alarm")


def test_constraint_violations_notify_without_starting_the_retraining(platform: Platform) -> None:
    """Served inputs that break the baseline's constraints are a data problem: the topic hears, nothing retrains.

    A scheduled rule with a SageMaker pipeline target is on the bus (as another stack's weekly retrain would be):
    EventBridge never matches events against it, moto does and fails PutEvents (HTTP 500: the suite's failure when
    another test's program had left one), so the runner does not put the event and says why."""
    outputs = platform.outputs
    alarms, pipelines = _runner_recording_pipelines(platform)
    alarm_name = outputs.alarm("data_constraints")
    (definition,) = alarms.describe([alarm_name])
    assert (definition.metric_name, dict(definition.dimensions), definition.threshold) == (
        "ConstraintViolations",
        {},
        1,
    )
    topic_queue = _queue_subscribed_to_topic(platform, "alarm-runner-constraints-probe")
    clients_of(platform).client("cloudwatch").set_alarm_state(
        AlarmName=alarm_name, StateValue="OK", StateReason="test starts from OK"
    )
    platform.services.metrics.publish({"ConstraintViolations": 2}, {})
    events = clients_of(platform).client("events")
    events.put_rule(Name="weekly-retrain-probe", ScheduleExpression="rate(7 days)")
    pipeline = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{outputs.training_pipeline_name}"
    events.put_targets(Rule="weekly-retrain-probe", Targets=[{"Id": "pipeline", "Arn": pipeline}])
    try:
        (outcome,) = alarms.evaluate([alarm_name], now=datetime.now(UTC))
    finally:
        events.remove_targets(Rule="weekly-retrain-probe", Ids=["pipeline"])
        events.delete_rule(Name="weekly-retrain-probe")

    assert (outcome.previous_state, outcome.state, outcome.applied) == ("OK", "ALARM", True)
    assert outcome.notified == (outputs.alarm_topic_arn,)
    assert outcome.event_targets == () and outcome.actions == ()
    assert outcome.event_id is None
    # (other scheduled rules of the session's bus, e.g. a sample program's, may be named too)
    assert outcome.notes[-1].startswith("the emulator cannot deliver to target(s) ")
    assert "weekly-retrain-probe/pipeline" in outcome.notes[-1]
    assert pipelines.executions(outputs.training_pipeline_name) == []
    (notification,) = _messages(platform, topic_queue)
    assert (notification["AlarmName"], notification["NewStateValue"]) == (alarm_name, "ALARM")
