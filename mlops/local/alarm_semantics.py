"""CloudWatch metric-alarm semantics as a pure function: an alarm's definition and its datapoints -> a state.

What is implemented (the rules CloudWatch documents for metric alarms):

- **Evaluation range**: the ``EvaluationPeriods`` (N) periods of ``Period`` seconds ending with the period that
  holds ``now`` (periods are aligned to multiples of ``Period`` since the epoch). One datapoint per period: the
  alarm's statistic of that period.
- **Breaching**: the datapoint compared to ``Threshold`` with ``ComparisonOperator``
  (``GreaterThanThreshold``, ``GreaterThanOrEqualToThreshold``, ``LessThanThreshold``,
  ``LessThanOrEqualToThreshold``; anomaly-band operators are rejected).
- **M of N**: ALARM when at least ``DatapointsToAlarm`` (M, default N) datapoints breach, otherwise OK.
- **TreatMissingData** for periods without a datapoint:
  ``breaching`` / ``notBreaching``: the missing period counts as breaching / not breaching;
  ``missing`` (default): only present datapoints are judged; none present -> INSUFFICIENT_DATA;
  ``ignore``: as ``missing``, but none present keeps the current state.

Simplification: when datapoints are missing, real CloudWatch may look further back than N periods for
datapoints to judge; this evaluator stays inside the N periods.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
MISSING_TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


class AlarmDefinitionError(ValueError):
    """An alarm uses an operator, treatment or shape this evaluator does not implement (named in the message)."""


@dataclass(frozen=True)
class AlarmRule:
    """The parts of ``DescribeAlarms``' ``MetricAlarms[]`` entry that decide its state."""

    name: str
    arn: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    state: str
    description: str = ""
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise AlarmDefinitionError(
                f"alarm {self.name!r}: ComparisonOperator {self.comparison!r} is not supported "
                f"(supported: {', '.join(COMPARISONS)})"
            )
        if self.treat_missing_data not in MISSING_TREATMENTS:
            raise AlarmDefinitionError(f"alarm {self.name!r}: TreatMissingData {self.treat_missing_data!r} is unknown")
        if self.period <= 0 or self.evaluation_periods <= 0:
            raise AlarmDefinitionError(f"alarm {self.name!r}: Period and EvaluationPeriods must be positive")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise AlarmDefinitionError(
                f"alarm {self.name!r}: DatapointsToAlarm {self.datapoints_to_alarm} must be within "
                f"1..EvaluationPeriods ({self.evaluation_periods})"
            )


def evaluation_range(rule: AlarmRule, now: datetime) -> list[datetime]:
    """Start times of the N periods evaluated at ``now``, oldest first (the last one holds ``now``)."""
    epoch = int(now.astimezone(UTC).timestamp())
    current = epoch - epoch % rule.period
    return [
        datetime.fromtimestamp(current - i * rule.period, tz=UTC) for i in range(rule.evaluation_periods - 1, -1, -1)
    ]


@dataclass(frozen=True)
class Evaluation:
    """The state the alarm should be in, why, and the datapoints judged (``None`` = missing)."""

    alarm: str
    previous_state: str
    state: str
    reason: str
    datapoints: list[tuple[str, float | None]] = field(default_factory=list)
    breaching: int = 0

    @property
    def changed(self) -> bool:
        return self.state != self.previous_state


def _fmt(value: float) -> str:
    return f"{value:g}"


def evaluate(rule: AlarmRule, values: Mapping[datetime, float], now: datetime) -> Evaluation:
    """The alarm's state at ``now`` given one statistic value per period start (periods without one are missing)."""
    starts = evaluation_range(rule, now)
    aligned = {start.astimezone(UTC): value for start, value in values.items()}
    points: list[tuple[str, float | None]] = [(s.isoformat(), aligned.get(s)) for s in starts]
    compare = COMPARISONS[rule.comparison]
    present = [v for _, v in points if v is not None]
    missing = len(points) - len(present)
    breaching = sum(1 for v in present if compare(v, rule.threshold))
    if rule.treat_missing_data == "breaching":
        breaching += missing
    m, n = rule.datapoints_to_alarm, rule.evaluation_periods
    shown = "[" + ", ".join(_fmt(v) if v is not None else "missing" for _, v in points) + "]"
    if not present and rule.treat_missing_data in ("missing", "ignore"):
        state = "INSUFFICIENT_DATA" if rule.treat_missing_data == "missing" else rule.state
        reason = (
            f"no datapoints in the last {n} period(s) of {rule.period} s (TreatMissingData={rule.treat_missing_data})"
        )
        return Evaluation(rule.name, rule.state, state, reason, points, 0)
    state = "ALARM" if breaching >= m else "OK"
    verb = "was" if breaching >= m else "was not"
    reason = (
        f"Threshold Crossed: {breaching} of {n} datapoint(s) {shown} breaching ({rule.statistic} "
        f"{rule.comparison} {_fmt(rule.threshold)}); {m} needed: alarm {verb} triggered"
    )
    return Evaluation(rule.name, rule.state, state, reason, points, breaching)


def rule_from_description(alarm: Mapping[str, Any]) -> AlarmRule:
    """An :class:`AlarmRule` from one ``DescribeAlarms`` ``MetricAlarms`` entry."""
    if "Metrics" in alarm and alarm.get("Metrics"):
        raise AlarmDefinitionError(f"alarm {alarm.get('AlarmName')!r}: metric-math alarms are not supported")
    statistic = alarm.get("ExtendedStatistic") or alarm.get("Statistic")
    if not statistic:
        raise AlarmDefinitionError(f"alarm {alarm.get('AlarmName')!r} has neither Statistic nor ExtendedStatistic")
    periods = int(alarm["EvaluationPeriods"])
    dims = alarm.get("Dimensions") or []
    return AlarmRule(
        name=str(alarm["AlarmName"]),
        arn=str(alarm["AlarmArn"]),
        namespace=str(alarm["Namespace"]),
        metric_name=str(alarm["MetricName"]),
        dimensions={str(d["Name"]): str(d["Value"]) for d in dims},
        statistic=str(statistic),
        comparison=str(alarm["ComparisonOperator"]),
        threshold=float(alarm["Threshold"]),
        period=int(alarm["Period"]),
        evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or periods),
        treat_missing_data=str(alarm.get("TreatMissingData") or "missing"),
        state=str(alarm.get("StateValue") or "INSUFFICIENT_DATA"),
        description=str(alarm.get("AlarmDescription") or ""),
        alarm_actions=tuple(str(a) for a in alarm.get("AlarmActions") or []),
        ok_actions=tuple(str(a) for a in alarm.get("OKActions") or []),
        insufficient_data_actions=tuple(str(a) for a in alarm.get("InsufficientDataActions") or []),
    )


def period_start(timestamp: datetime, period: int) -> datetime:
    """The start of the period holding ``timestamp``."""
    epoch = int(timestamp.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


def lookback(rule: AlarmRule, now: datetime) -> tuple[datetime, datetime]:
    """``StartTime``/``EndTime`` for ``GetMetricStatistics`` covering the evaluation range."""
    starts = evaluation_range(rule, now)
    return starts[0], starts[-1] + timedelta(seconds=rule.period)
