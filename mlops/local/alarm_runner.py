"""The local CloudWatch alarm runner: the ``Alarms`` port where the emulator stores alarms but never evaluates
them nor fires their actions (moto). The wiring picks it for ``services.alarms.type: local`` (``auto`` on moto).

For each alarm it does what CloudWatch would:

1. reads the alarm as the emulator stores it (``DescribeAlarms``, via the CloudWatch adapter's reader);
2. reads the alarm's statistic per period over its evaluation range through the metrics port (the platform's
   for the stack's namespace; the emulator's CloudWatch for another namespace such as ``AWS/SageMaker``) and
   judges it with :func:`mlops.alarm_semantics.evaluate` (period, statistic, M of N, comparison, threshold,
   TreatMissingData). The emulators compute no percentile: a p99 alarm is judged on missing data, with a note;
3. with ``apply``, on a state change: sets the new state in the emulator (``SetAlarmState`` with the reason and
   the datapoints), records the change in the alarm history (a log stream of the stack's monitoring log group,
   since moto has no ``DescribeAlarmHistory``), publishes CloudWatch's alarm message to every SNS topic among
   the state's actions, and puts the ``CloudWatch Alarm State Change`` event (the shape CloudWatch emits) on the
   event bus after matching it against the bus's rules and listing the targets that would run (the emulator
   runs no target). moto's PutEvents fails (500) when a matching rule has a target it cannot deliver to, such
   as the retrain rule's SageMaker pipeline, or a scheduled rule has one (moto matches those against every
   event); then the event is not put and a note says why;
4. delivers the matched targets the emulator cannot run (:mod:`mlops.local.alarm_actions`): the retrain rule's
   SageMaker pipeline target starts the training pipeline through the training port, as EventBridge starts it on
   AWS; each delivery is recorded in the monitoring zone (``mlops monitor status``) and listed in the
   evaluation's ``actions``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.cloudwatch import CloudWatchMetrics
from mlops.adapters.aws.cloudwatch_alarms import call, describe_alarms
from mlops.alarm_semantics import evaluate, read_values
from mlops.local.alarm_actions import TargetDelivery
from mlops.ports.alarms import (
    AlarmDefinition,
    AlarmEvaluation,
    AlarmHistoryItem,
    AlarmsError,
    EventTarget,
)
from mlops.ports.metrics import MetricsPublisher, is_percentile

DETAIL_TYPE = "CloudWatch Alarm State Change"
SOURCE = "aws.cloudwatch"
HISTORY_STREAM = "alarm-history"
# Target services moto 5.2 delivers events to; PutEvents answers 500 when a matching rule has any other target.
_MOTO_DELIVERS = {"sqs", "logs", "events"}


def alarm_message(alarm: AlarmDefinition, evaluation: AlarmEvaluation, region: str, when: datetime) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an alarm's SNS topic."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": alarm.arn.split(":")[4],
        "NewStateValue": evaluation.state,
        "NewStateReason": evaluation.reason,
        "StateChangeTime": when.isoformat(),
        "Region": region,
        "AlarmArn": alarm.arn,
        "OldStateValue": evaluation.previous_state,
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "Statistic": alarm.statistic.upper(),
            "Dimensions": [{"name": k, "value": v} for k, v in sorted(alarm.dimensions.items())],
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "ComparisonOperator": alarm.comparison,
            "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data,
        },
    }


def state_change_detail(alarm: AlarmDefinition, evaluation: AlarmEvaluation, when: datetime) -> dict[str, Any]:
    """``detail`` of the ``CloudWatch Alarm State Change`` event."""
    return {
        "alarmName": alarm.name,
        "state": {"value": evaluation.state, "reason": evaluation.reason, "timestamp": when.isoformat()},
        "previousState": {"value": evaluation.previous_state},
        "configuration": {
            "description": alarm.description,
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": alarm.namespace,
                            "name": alarm.metric_name,
                            "dimensions": dict(alarm.dimensions),
                        },
                        "period": alarm.period,
                        "stat": alarm.statistic,
                    },
                    "returnData": True,
                }
            ],
        },
    }


def reason_data(evaluation: AlarmEvaluation) -> dict[str, Any]:
    """``StateReasonData`` as CloudWatch writes it: the judged datapoints."""
    return {
        "version": "1.0",
        "evaluatedDatapoints": [
            {"timestamp": start.isoformat(), "value": value}
            for start, value in evaluation.datapoints
            if value is not None
        ],
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
            raise AlarmsError(f"event pattern field {key!r} must be a list or an object, got {expected!r}")
        if any(isinstance(v, Mapping) for v in expected):
            raise AlarmsError(f"event pattern field {key!r} uses a content filter this runner does not match")
        values = actual if isinstance(actual, list) else [actual]
        if not any(v in expected for v in values):
            return False
    return True


class LocalAlarms:
    """``Alarms`` evaluated by the kit on an emulator's stored alarms (see the module docs)."""

    def __init__(
        self,
        clients: ClientFactory,
        metrics: MetricsPublisher,
        *,
        history_log_group: str,
        event_bus: str = "default",
        delivery: TargetDelivery | None = None,
        sources: Mapping[str, MetricsPublisher] | None = None,
    ) -> None:
        self._clients = clients
        # ``sources``: metrics of other namespaces read elsewhere (AWS/SageMaker latency percentiles: the front door)
        self._metrics: dict[str, MetricsPublisher] = {**(sources or {}), metrics.namespace: metrics}
        self.history_log_group = history_log_group
        self.event_bus = event_bus
        self.delivery = delivery
        self._history_ready = False
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        return self._clients.client(service)

    def _metrics_of(self, namespace: str) -> MetricsPublisher:
        """The platform's metrics port for its namespace; the emulator's CloudWatch for any other."""
        with self._lock:
            if namespace not in self._metrics:
                self._metrics[namespace] = CloudWatchMetrics(self._clients, namespace)
            return self._metrics[namespace]

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        return describe_alarms(self._client("cloudwatch"), names)

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        moment = now or datetime.now(UTC)
        results: list[AlarmEvaluation] = []
        if self.delivery is not None:
            self.delivery.new_round()
        for alarm in self.describe(names):
            judged = self._judge(alarm, moment)
            if not judged.changed:
                results.append(replace(judged, state_since=alarm.state_updated))
            elif apply:
                results.append(self._apply(alarm, judged, moment))
            else:
                results.append(judged)
        return results

    def _judge(self, alarm: AlarmDefinition, moment: datetime) -> AlarmEvaluation:
        source = self._metrics_of(alarm.namespace)
        if is_percentile(alarm.statistic) and isinstance(source, CloudWatchMetrics) and self._clients.is_emulated:
            # Neither moto nor LocalStack computes percentiles (their GetMetricData fails with HTTP 500, after the
            # client's retries): judge the periods as missing, and say so, rather than fail every evaluation.
            judged = evaluate(alarm, {}, moment)
            note = f"the emulator computes no {alarm.statistic}: every period was judged as missing"
            return replace(judged, notes=(note,))
        return evaluate(alarm, read_values(source, alarm, moment), moment)

    def _apply(self, alarm: AlarmDefinition, judged: AlarmEvaluation, when: datetime) -> AlarmEvaluation:
        cloudwatch = self._client("cloudwatch")
        call(
            f"SetAlarmState {alarm.name}",
            cloudwatch.set_alarm_state,
            AlarmName=alarm.name,
            StateValue=judged.state,
            StateReason=judged.reason[:1023],
            StateReasonData=json.dumps(reason_data(judged)),
        )
        self._record(AlarmHistoryItem(alarm.name, when, judged.previous_state, judged.state, judged.reason))
        applied = replace(judged, applied=True, state_since=when)
        if not alarm.actions_enabled:
            return replace(applied, notes=(*applied.notes, "actions are disabled on this alarm"))
        return self._perform_actions(alarm, applied, when)

    def _perform_actions(self, alarm: AlarmDefinition, evaluation: AlarmEvaluation, when: datetime) -> AlarmEvaluation:
        region = self._clients.settings.region
        message = json.dumps(alarm_message(alarm, evaluation, region, when))
        subject = f'{evaluation.state}: "{alarm.name}" in {region}'[:100]
        notified: list[str] = []
        for arn in alarm.actions_for(evaluation.state):
            if arn.startswith("arn:aws:sns:"):
                call(
                    f"SNS Publish to {arn}", self._client("sns").publish, TopicArn=arn, Subject=subject, Message=message
                )
                notified.append(arn)
        detail = state_change_detail(alarm, evaluation, when)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": SOURCE,
            "account": alarm.arn.split(":")[4],
            "time": when.isoformat(),
            "region": region,
            "resources": [alarm.arn],
            "detail": detail,
        }
        matched, scheduled = self._bus_targets(event)
        targets = [target for target, _ in matched]
        result = replace(evaluation, notified=tuple(notified), event_targets=tuple(targets))
        result = self._deliver(alarm, result, matched)
        blocked = [t for t in (*targets, *scheduled) if t.target_arn.split(":")[2] not in _MOTO_DELIVERS]
        if blocked and self._clients.is_emulated:
            # moto raises NotImplementedError (HTTP 500) inside PutEvents for such targets: the event cannot be put
            # on this bus of the emulator at all. The match itself was decided above with the rules' own patterns.
            named = ", ".join(f"{t.rule}/{t.target_id} ({t.target_arn})" for t in blocked)
            note = f"the emulator cannot deliver to target(s) {named}; PutEvents not sent"
            if result.actions:
                note += "; the kit delivered the pipeline target(s) itself (see actions)"
            return replace(result, notes=(*result.notes, note))
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Resources": [alarm.arn],
            "Detail": json.dumps(detail),
            "EventBusName": self.event_bus,
        }
        response = call("PutEvents", self._client("events").put_events, Entries=[entry])
        if response.get("FailedEntryCount"):
            raise AlarmsError(f"PutEvents rejected the state change of alarm {alarm.name!r}: {response['Entries']}")
        return replace(result, event_id=str(response["Entries"][0]["EventId"]))

    def _deliver(
        self, alarm: AlarmDefinition, evaluation: AlarmEvaluation, matched: list[tuple[EventTarget, dict[str, Any]]]
    ) -> AlarmEvaluation:
        """Run the matched targets the emulator cannot (the retrain rule's pipeline); each delivery is recorded."""
        if self.delivery is None or not self._clients.is_emulated:
            return evaluation
        actions = tuple(
            self.delivery.deliver(alarm, evaluation, target, raw)
            for target, raw in matched
            if self.delivery.handles(target)
        )
        notes = tuple(f"{a.rule}: {a.ran}: {a.outcome} ({a.detail})" for a in actions if a.outcome == "failed")
        return replace(evaluation, actions=actions, notes=(*evaluation.notes, *notes))

    def _bus_targets(
        self, event: Mapping[str, Any]
    ) -> tuple[list[tuple[EventTarget, dict[str, Any]]], list[EventTarget]]:
        """One walk of the bus's enabled rules: the targets (as listed) of those whose pattern matches ``event``,
        and, on the emulator, those of the scheduled rules (no pattern). EventBridge never matches an event against
        a scheduled rule; moto 5.2 matches every event (an empty pattern matches all) and then fails PutEvents on a
        target it cannot deliver to, such as a scheduled SageMaker pipeline."""
        events = self._client("events")
        rules = call("ListRules", events.list_rules, EventBusName=self.event_bus).get("Rules", [])
        matched: list[tuple[EventTarget, dict[str, Any]]] = []
        scheduled: list[EventTarget] = []
        for rule in rules:
            if rule.get("State", "ENABLED") != "ENABLED":
                continue
            pattern = rule.get("EventPattern") or None
            fires = pattern is not None and pattern_matches(json.loads(pattern), event)
            if not fires and (pattern is not None or not self._clients.is_emulated):
                continue
            listed = call(
                f"ListTargetsByRule {rule['Name']}",
                events.list_targets_by_rule,
                Rule=rule["Name"],
                EventBusName=self.event_bus,
            ).get("Targets", [])
            found = [(EventTarget(rule["Name"], t["Id"], t["Arn"]), t) for t in listed]
            if fires:
                matched.extend(found)
            else:
                scheduled.extend(target for target, _ in found)
        return matched, scheduled

    # --- history: moto has no DescribeAlarmHistory, so the runner keeps one in the emulator's CloudWatch Logs ---

    def _record(self, item: AlarmHistoryItem) -> None:
        logs = self._client("logs")
        if not self._history_ready:
            for what, fn, kwargs in (
                ("CreateLogGroup", logs.create_log_group, {"logGroupName": self.history_log_group}),
                (
                    "CreateLogStream",
                    logs.create_log_stream,
                    {"logGroupName": self.history_log_group, "logStreamName": HISTORY_STREAM},
                ),
            ):
                try:
                    fn(**kwargs)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                        raise AlarmsError(
                            f"{what} {self.history_log_group} for the alarm history failed: {exc}"
                        ) from exc
            self._history_ready = True
        message = {
            "alarm": item.alarm,
            "timestamp": item.timestamp.isoformat(),
            "previous_state": item.previous_state,
            "state": item.state,
            "reason": item.reason,
        }
        call(
            f"PutLogEvents {self.history_log_group}/{HISTORY_STREAM}",
            logs.put_log_events,
            logGroupName=self.history_log_group,
            logStreamName=HISTORY_STREAM,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(message)}],
        )

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        self.describe([name])
        logs = self._client("logs")
        request: dict[str, Any] = {
            "logGroupName": self.history_log_group,
            "logStreamName": HISTORY_STREAM,
            "startFromHead": True,
        }
        items: list[AlarmHistoryItem] = []
        while True:
            try:
                answer = logs.get_log_events(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return []  # nothing was ever recorded
                raise AlarmsError(f"reading the alarm history of {name!r} failed: {exc}") from exc
            for event in answer.get("events", []):
                record = json.loads(event["message"])
                if record.get("alarm") == name:
                    items.append(
                        AlarmHistoryItem(
                            name,
                            datetime.fromisoformat(record["timestamp"]),
                            record["previous_state"],
                            record["state"],
                            record["reason"],
                        )
                    )
            token = answer.get("nextForwardToken")
            if not answer.get("events") or not token or token == request.get("nextToken"):
                break
            request["nextToken"] = token
        items.sort(key=lambda item: item.timestamp, reverse=True)
        return items[:limit]
