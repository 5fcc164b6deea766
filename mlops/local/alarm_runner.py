"""The local CloudWatch alarm runner: evaluates the stack's alarms and performs their actions.

moto stores alarms but never evaluates them nor fires their actions. This runner does what CloudWatch would:

1. reads the stack's alarms (``DescribeAlarms`` for the names in ``outputs.alarm_names``);
2. reads each alarm's metric (``GetMetricStatistics`` with its namespace, dimensions, period and statistic)
   over its evaluation range and judges it with :func:`mlops.local.alarm_semantics.evaluate` (period, statistic,
   M of N, comparison, threshold, TreatMissingData);
3. with ``apply``, sets the new state in the emulator (``SetAlarmState`` with the reason and the datapoints);
4. on a state change, does what the emulator cannot: publishes CloudWatch's alarm message to every SNS topic
   among the state's actions, and puts the ``CloudWatch Alarm State Change`` event (the shape CloudWatch
   emits) on the default event bus, after matching it against the bus's rules and listing the targets that would
   run (the emulator runs no target). moto's PutEvents fails (500) when a matching rule has a target it cannot
   deliver to, such as the retrain rule's SageMaker pipeline; then the event is not put and ``event_skipped``
   says why.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.errors import AlarmRunnerError
from mlops.local.alarm_semantics import AlarmRule, Evaluation, evaluate, lookback, period_start, rule_from_description
from mlops.local.clients import clients_of
from mlops.platform import Platform

DETAIL_TYPE = "CloudWatch Alarm State Change"
SOURCE = "aws.cloudwatch"
_STANDARD = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
# Target services moto 5.2 delivers events to; PutEvents answers 500 when a matching rule has any other target.
_MOTO_DELIVERS = {"sqs", "logs", "events"}


@dataclass(frozen=True)
class FiredTarget:
    """A rule that matched the state-change event and one of its targets (which the emulator does not run)."""

    rule: str
    target_id: str
    target_arn: str


@dataclass
class AlarmOutcome:
    """What happened to one alarm in one evaluation."""

    key: str
    evaluation: Evaluation
    applied: bool = False
    notified_topics: list[str] = field(default_factory=list)
    event_id: str | None = None
    event_skipped: str = ""
    fired: list[FiredTarget] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        e = self.evaluation
        return {
            "key": self.key,
            "alarm": e.alarm,
            "previous_state": e.previous_state,
            "state": e.state,
            "changed": e.changed,
            "reason": e.reason,
            "datapoints": [{"period_start": start, "value": value} for start, value in e.datapoints],
            "applied": self.applied,
            "notified_topics": self.notified_topics,
            "event_id": self.event_id,
            "event_skipped": self.event_skipped,
            "fired": [vars(f) for f in self.fired],
        }


def _call(what: str, fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise AlarmRunnerError(f"{what} failed: {exc}") from exc


def read_alarms(platform: Platform, keys: Iterable[str] | None = None) -> dict[str, AlarmRule]:
    """The stack's alarms as declared in the emulator, by alarm key (``data_drift``, ...)."""
    wanted = list(keys) if keys is not None else sorted(platform.outputs.alarm_names)
    names = {platform.outputs.alarm(key): key for key in wanted}
    cloudwatch = clients_of(platform).client("cloudwatch")
    found: dict[str, AlarmRule] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        chunk = list(names)[start : start + 100]
        response = _call("DescribeAlarms", cloudwatch.describe_alarms, AlarmNames=chunk, AlarmTypes=["MetricAlarm"])
        for alarm in response.get("MetricAlarms", []):
            found[names[alarm["AlarmName"]]] = rule_from_description(alarm)
    absent = [f"{names[n]} ({n})" for n in names if names[n] not in found]
    if absent:
        raise AlarmRunnerError(f"alarm(s) declared in the stack outputs are absent from the emulator: {absent}")
    return found


def metric_values(platform: Platform, rule: AlarmRule, now: datetime) -> dict[datetime, float]:
    """One value of the alarm's statistic per period start in its evaluation range."""
    start, end = lookback(rule, now)
    request: dict[str, Any] = {
        "Namespace": rule.namespace,
        "MetricName": rule.metric_name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(rule.dimensions.items())],
        "StartTime": start,
        "EndTime": end,
        "Period": rule.period,
    }
    extended = rule.statistic not in _STANDARD
    request["ExtendedStatistics" if extended else "Statistics"] = [rule.statistic]
    cloudwatch = clients_of(platform).client("cloudwatch")
    response = _call(f"GetMetricStatistics for alarm {rule.name!r}", cloudwatch.get_metric_statistics, **request)
    values: dict[datetime, float] = {}
    for point in response.get("Datapoints", []):
        value = point.get("ExtendedStatistics", {}).get(rule.statistic) if extended else point.get(rule.statistic)
        if value is not None:
            values[period_start(point["Timestamp"], rule.period)] = float(value)
    return values


def alarm_message(rule: AlarmRule, evaluation: Evaluation, region: str, when: datetime) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an alarm's SNS topic."""
    return {
        "AlarmName": rule.name,
        "AlarmDescription": rule.description,
        "AWSAccountId": rule.arn.split(":")[4],
        "NewStateValue": evaluation.state,
        "NewStateReason": evaluation.reason,
        "StateChangeTime": when.isoformat(),
        "Region": region,
        "AlarmArn": rule.arn,
        "OldStateValue": evaluation.previous_state,
        "Trigger": {
            "MetricName": rule.metric_name,
            "Namespace": rule.namespace,
            "Statistic": rule.statistic.upper(),
            "Dimensions": [{"name": k, "value": v} for k, v in sorted(rule.dimensions.items())],
            "Period": rule.period,
            "EvaluationPeriods": rule.evaluation_periods,
            "DatapointsToAlarm": rule.datapoints_to_alarm,
            "ComparisonOperator": rule.comparison,
            "Threshold": rule.threshold,
            "TreatMissingData": rule.treat_missing_data,
        },
    }


def state_change_detail(rule: AlarmRule, evaluation: Evaluation, when: datetime) -> dict[str, Any]:
    """``detail`` of the ``CloudWatch Alarm State Change`` event."""
    return {
        "alarmName": rule.name,
        "state": {"value": evaluation.state, "reason": evaluation.reason, "timestamp": when.isoformat()},
        "previousState": {"value": evaluation.previous_state},
        "configuration": {
            "description": rule.description,
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": rule.namespace,
                            "name": rule.metric_name,
                            "dimensions": dict(rule.dimensions),
                        },
                        "period": rule.period,
                        "stat": rule.statistic,
                    },
                    "returnData": True,
                }
            ],
        },
    }


def pattern_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge matching for exact-value patterns: every pattern field must hold one of its listed values.

    Content filters (``prefix``, ``anything-but``, ``numeric`` ...) are rejected by name rather than guessed.
    """
    for key, expected in pattern.items():
        actual = event.get(key)
        if isinstance(expected, Mapping):
            if not isinstance(actual, Mapping) or not pattern_matches(expected, actual):
                return False
            continue
        if not isinstance(expected, list):
            raise AlarmRunnerError(f"event pattern field {key!r} must be a list or an object, got {expected!r}")
        if any(isinstance(v, Mapping) for v in expected):
            raise AlarmRunnerError(f"event pattern field {key!r} uses a content filter this runner does not match")
        values = actual if isinstance(actual, list) else [actual]
        if not any(v in expected for v in values):
            return False
    return True


def matching_targets(platform: Platform, event: Mapping[str, Any], bus: str) -> list[FiredTarget]:
    """Targets of every rule on ``bus`` whose pattern matches ``event``."""
    events = clients_of(platform).client("events")
    rules = _call("ListRules", events.list_rules, EventBusName=bus).get("Rules", [])
    fired: list[FiredTarget] = []
    for rule in rules:
        if rule.get("State", "ENABLED") != "ENABLED" or not rule.get("EventPattern"):
            continue
        if not pattern_matches(json.loads(rule["EventPattern"]), event):
            continue
        targets = _call(
            f"ListTargetsByRule {rule['Name']}", events.list_targets_by_rule, Rule=rule["Name"], EventBusName=bus
        )
        fired.extend(FiredTarget(rule["Name"], t["Id"], t["Arn"]) for t in targets.get("Targets", []))
    return fired


def _undeliverable_on_emulator(platform: Platform, fired: list[FiredTarget]) -> list[FiredTarget]:
    if not clients_of(platform).is_emulated:
        return []
    return [f for f in fired if f.target_arn.split(":")[2] not in _MOTO_DELIVERS]


def _perform_actions(platform: Platform, rule: AlarmRule, outcome: AlarmOutcome, when: datetime, bus: str) -> None:
    evaluation = outcome.evaluation
    actions = {
        "ALARM": rule.alarm_actions,
        "OK": rule.ok_actions,
        "INSUFFICIENT_DATA": rule.insufficient_data_actions,
    }[evaluation.state]
    region = platform.settings.region
    sns = clients_of(platform).client("sns")
    message = alarm_message(rule, evaluation, region, when)
    for arn in actions:
        if arn.startswith("arn:aws:sns:"):
            subject = f'{evaluation.state}: "{rule.name}" in {region}'[:100]
            _call(f"SNS Publish to {arn}", sns.publish, TopicArn=arn, Subject=subject, Message=json.dumps(message))
            outcome.notified_topics.append(arn)
    detail = state_change_detail(rule, evaluation, when)
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": rule.arn.split(":")[4],
        "time": when.isoformat(),
        "region": region,
        "resources": [rule.arn],
        "detail": detail,
    }
    outcome.fired = matching_targets(platform, event, bus)
    blocked = _undeliverable_on_emulator(platform, outcome.fired)
    if blocked:
        # moto raises NotImplementedError (HTTP 500) inside PutEvents for such targets: the event cannot be put
        # on this bus of the emulator at all. The match itself was decided above with the rules' own patterns.
        named = ", ".join(f"{f.rule}/{f.target_id} ({f.target_arn})" for f in blocked)
        outcome.event_skipped = f"the emulator cannot deliver to target(s) {named}; PutEvents not sent"
        return
    entry = {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [rule.arn],
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }
    response = _call("PutEvents", clients_of(platform).client("events").put_events, Entries=[entry])
    if response.get("FailedEntryCount"):
        raise AlarmRunnerError(f"PutEvents rejected the state change of alarm {rule.name!r}: {response['Entries']}")
    outcome.event_id = str(response["Entries"][0]["EventId"])


def run_alarms(
    platform: Platform,
    *,
    keys: Iterable[str] | None = None,
    apply: bool = True,
    now: datetime | None = None,
    event_bus: str = "default",
) -> list[AlarmOutcome]:
    """Evaluate the stack's alarms at ``now``; with ``apply``, set changed states and perform their actions.

    State-change events go to ``event_bus`` (CloudWatch uses the account's default bus).
    """
    moment = now or datetime.now(UTC)
    outcomes: list[AlarmOutcome] = []
    cloudwatch = clients_of(platform).client("cloudwatch")
    for key, rule in sorted(read_alarms(platform, keys).items()):
        evaluation = evaluate(rule, metric_values(platform, rule, moment), moment)
        outcome = AlarmOutcome(key=key, evaluation=evaluation)
        if apply and evaluation.changed:
            reason_data = {"version": "1.0", "evaluatedDatapoints": evaluation.datapoints}
            _call(
                f"SetAlarmState {rule.name}",
                cloudwatch.set_alarm_state,
                AlarmName=rule.name,
                StateValue=evaluation.state,
                StateReason=evaluation.reason[:1023],
                StateReasonData=json.dumps(reason_data),
            )
            outcome.applied = True
            _perform_actions(platform, rule, outcome, moment, event_bus)
        outcomes.append(outcome)
    return outcomes
