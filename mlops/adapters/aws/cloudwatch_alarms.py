"""``Alarms`` on CloudWatch, which evaluates its alarms itself: ``DescribeAlarms`` for definitions and states,
``DescribeAlarmHistory`` for state changes. The kit evaluates nothing here; ``evaluate`` reports what CloudWatch
holds (on AWS and on LocalStack, which runs the evaluation too).

:func:`definition_from_description` is also how the local runner reads the alarms moto stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, EndpointConnectionError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.alarms import (
    AlarmDefinition,
    AlarmEvaluation,
    AlarmHistoryItem,
    AlarmNotFoundError,
    AlarmsError,
    AlarmsThrottledError,
    AlarmsUnavailableError,
)

DESCRIBE_BATCH = 100  # DescribeAlarms takes at most 100 names
_THROTTLED = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")


def alarms_error(what: str, exc: Exception) -> AlarmsError:
    """The port's error for a botocore exception: not found, throttled, unreachable or refused."""
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        return AlarmsUnavailableError(f"{what}: CloudWatch did not answer: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _THROTTLED:
            return AlarmsThrottledError(f"{what}: throttled after retries ({code})")
        if code == "ResourceNotFound":
            return AlarmNotFoundError(f"{what}: {exc}")
    return AlarmsError(f"{what} failed: {exc}")


def call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)`` with botocore's exceptions turned into the port's (named after ``what``)."""
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise alarms_error(what, exc) from exc


def definition_from_description(alarm: Mapping[str, Any]) -> AlarmDefinition:
    """An :class:`AlarmDefinition` from one ``DescribeAlarms`` ``MetricAlarms`` entry."""
    math_alarm = bool(alarm.get("Metrics"))
    periods = int(alarm.get("EvaluationPeriods") or 1)
    dims = alarm.get("Dimensions") or []
    updated = alarm.get("StateUpdatedTimestamp")
    return AlarmDefinition(
        name=str(alarm["AlarmName"]),
        arn=str(alarm["AlarmArn"]),
        namespace=str(alarm.get("Namespace") or ""),
        metric_name=str(alarm.get("MetricName") or ""),
        dimensions={str(d["Name"]): str(d["Value"]) for d in dims},
        statistic=str(alarm.get("ExtendedStatistic") or alarm.get("Statistic") or ""),
        comparison=str(alarm["ComparisonOperator"]),
        threshold=float(alarm.get("Threshold") or 0.0),
        period=int(alarm.get("Period") or 0),
        evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or periods),
        treat_missing_data=str(alarm.get("TreatMissingData") or "missing"),
        state=str(alarm.get("StateValue") or "INSUFFICIENT_DATA"),
        state_reason=str(alarm.get("StateReason") or ""),
        state_updated=updated.astimezone(UTC) if isinstance(updated, datetime) else None,
        description=str(alarm.get("AlarmDescription") or ""),
        alarm_actions=tuple(str(a) for a in alarm.get("AlarmActions") or []),
        ok_actions=tuple(str(a) for a in alarm.get("OKActions") or []),
        insufficient_data_actions=tuple(str(a) for a in alarm.get("InsufficientDataActions") or []),
        actions_enabled=bool(alarm.get("ActionsEnabled", True)),
        metric_math=math_alarm,
    )


def describe_alarms(cloudwatch: Any, names: Sequence[str]) -> list[AlarmDefinition]:
    """The named metric alarms in the order of ``names``; :class:`AlarmNotFoundError` lists absent ones."""
    wanted = list(dict.fromkeys(names))
    found: dict[str, AlarmDefinition] = {}
    for start in range(0, len(wanted), DESCRIBE_BATCH):
        request: dict[str, Any] = {"AlarmNames": wanted[start : start + DESCRIBE_BATCH], "AlarmTypes": ["MetricAlarm"]}
        while True:
            answer = call("DescribeAlarms", cloudwatch.describe_alarms, **request)
            for alarm in answer.get("MetricAlarms", []):
                found[str(alarm["AlarmName"])] = definition_from_description(alarm)
            if not answer.get("NextToken"):
                break
            request["NextToken"] = answer["NextToken"]
    absent = [name for name in wanted if name not in found]
    if absent:
        raise AlarmNotFoundError(f"no metric alarm named {', '.join(repr(n) for n in absent)}")
    return [found[name] for name in wanted]


def history_item(raw: Mapping[str, Any]) -> AlarmHistoryItem | None:
    """A state change from one ``DescribeAlarmHistory`` item (``None`` for other kinds of item)."""
    if raw.get("HistoryItemType", "StateUpdate") != "StateUpdate":
        return None
    data = json.loads(raw.get("HistoryData") or "{}")
    old, new = data.get("oldState") or {}, data.get("newState") or {}
    stamp = raw["Timestamp"]
    return AlarmHistoryItem(
        alarm=str(raw["AlarmName"]),
        timestamp=stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC),
        previous_state=str(old.get("stateValue", "")),
        state=str(new.get("stateValue", "")),
        reason=str(new.get("stateReason") or raw.get("HistorySummary") or ""),
        data=dict(new.get("stateReasonData") or {}),
    )


class CloudWatchAlarms:
    """``Alarms`` where CloudWatch evaluates (AWS, LocalStack)."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    @property
    def _cloudwatch(self) -> Any:
        return self._clients.client("cloudwatch")

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        return describe_alarms(self._cloudwatch, names)

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        """The state CloudWatch holds for each alarm (it evaluates on its own clock: ``now``/``apply`` unused)."""
        return [
            AlarmEvaluation(
                alarm=alarm.name,
                previous_state=alarm.state,
                state=alarm.state,
                reason=alarm.state_reason,
                evaluated_at=alarm.state_updated,
                state_since=alarm.state_updated,
                notes=("evaluated by CloudWatch; its actions are CloudWatch's",),
            )
            for alarm in self.describe(names)
        ]

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        self.describe([name])  # CloudWatch answers an empty history for an unknown name: say it is unknown
        request: dict[str, Any] = {
            "AlarmName": name,
            "HistoryItemType": "StateUpdate",
            "ScanBy": "TimestampDescending",
            "MaxRecords": min(max(limit, 1), 100),
        }
        items: list[AlarmHistoryItem] = []
        while len(items) < limit:
            answer = call(f"DescribeAlarmHistory {name}", self._cloudwatch.describe_alarm_history, **request)
            for raw in answer.get("AlarmHistoryItems", []):
                item = history_item(raw)
                if item is not None and item.alarm == name:
                    items.append(item)
            if not answer.get("NextToken"):
                break
            request["NextToken"] = answer["NextToken"]
        items.sort(key=lambda item: item.timestamp, reverse=True)  # LocalStack ignores ScanBy
        return items[:limit]
