"""CloudWatch metric-alarm semantics as a pure function: an alarm's definition and its datapoints -> a state.

THE evaluation of the kit's alarm evaluators: the memory fake (:mod:`mlops.adapters.memory.alarms`) and the local
runner that plays CloudWatch where the emulator only stores alarms (:mod:`mlops.local.alarm_runner`). On AWS and
LocalStack the service evaluates; ``tests/contract/test_alarms.py`` checks both reach the same states.

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
- **Premature alarm** (``missing``/``ignore`` only): with fewer than M datapoints breaching, the alarm still goes
  to ALARM when the oldest breaching datapoint is at least M periods old and every newer period breaches or is
  missing (CloudWatch's documented rule for alarms whose newest datapoints have not arrived yet).

Simplification: when datapoints are missing, real CloudWatch may look further back than N periods for
datapoints to judge (and LocalStack counts every datapoint of N + max(N // 3, 2) periods); this evaluator stays
inside the N periods.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from mlops.ports.alarms import AlarmDefinition, AlarmDefinitionError, AlarmEvaluation
from mlops.ports.metrics import MetricsPublisher

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
MISSING_TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def check(alarm: AlarmDefinition) -> None:
    """Refuse, by name, what this evaluator does not implement or what CloudWatch would not accept."""
    if alarm.metric_math:
        raise AlarmDefinitionError(f"alarm {alarm.name!r}: metric-math alarms are not supported by the kit's evaluator")
    if alarm.comparison not in COMPARISONS:
        raise AlarmDefinitionError(
            f"alarm {alarm.name!r}: ComparisonOperator {alarm.comparison!r} is not supported "
            f"(supported: {', '.join(COMPARISONS)})"
        )
    if alarm.treat_missing_data not in MISSING_TREATMENTS:
        raise AlarmDefinitionError(f"alarm {alarm.name!r}: TreatMissingData {alarm.treat_missing_data!r} is unknown")
    if alarm.period <= 0 or alarm.evaluation_periods <= 0:
        raise AlarmDefinitionError(f"alarm {alarm.name!r}: Period and EvaluationPeriods must be positive")
    if not 1 <= alarm.datapoints_to_alarm <= alarm.evaluation_periods:
        raise AlarmDefinitionError(
            f"alarm {alarm.name!r}: DatapointsToAlarm {alarm.datapoints_to_alarm} must be within "
            f"1..EvaluationPeriods ({alarm.evaluation_periods})"
        )


def period_start(timestamp: datetime, period: int) -> datetime:
    """The start of the period (aligned to multiples of ``period`` since the epoch) holding ``timestamp``."""
    epoch = int(timestamp.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


def evaluation_range(alarm: AlarmDefinition, now: datetime) -> list[datetime]:
    """Start times of the N periods evaluated at ``now``, oldest first (the last one holds ``now``)."""
    current = period_start(now, alarm.period)
    return [current - timedelta(seconds=i * alarm.period) for i in range(alarm.evaluation_periods - 1, -1, -1)]


def lookback(alarm: AlarmDefinition, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` covering the evaluation range at ``now``."""
    starts = evaluation_range(alarm, now)
    return starts[0], starts[-1] + timedelta(seconds=alarm.period)


def read_values(metrics: MetricsPublisher, alarm: AlarmDefinition, now: datetime) -> dict[datetime, float]:
    """One value of the alarm's statistic per period of its evaluation range, read through the metrics port
    (which must hold the alarm's namespace)."""
    start, end = lookback(alarm, now)
    points = metrics.datapoints(
        alarm.metric_name, alarm.dimensions, start, end, alarm.period, statistic=alarm.statistic
    )
    return {period_start(p.timestamp, alarm.period): p.value for p in points}


def _fmt(value: float) -> str:
    return f"{value:g}"


def evaluate(alarm: AlarmDefinition, values: Mapping[datetime, float], now: datetime) -> AlarmEvaluation:
    """The alarm's state at ``now`` given one statistic value per period start (periods without one are missing).

    ``previous_state`` is the alarm's current state; nothing is applied (the caller writes a changed state).
    """
    check(alarm)
    starts = evaluation_range(alarm, now)
    aligned = {start.astimezone(UTC): value for start, value in values.items()}
    points = tuple((s, aligned.get(s)) for s in starts)
    compare = COMPARISONS[alarm.comparison]
    present = [v for _, v in points if v is not None]
    missing = len(points) - len(present)
    breaching = sum(1 for v in present if compare(v, alarm.threshold))
    if alarm.treat_missing_data == "breaching":
        breaching += missing
    m, n = alarm.datapoints_to_alarm, alarm.evaluation_periods
    shown = "[" + ", ".join(_fmt(v) if v is not None else "missing" for _, v in points) + "]"
    if not present and alarm.treat_missing_data in ("missing", "ignore"):
        state = "INSUFFICIENT_DATA" if alarm.treat_missing_data == "missing" else alarm.state
        reason = (
            f"no datapoints in the last {n} period(s) of {alarm.period} s (TreatMissingData={alarm.treat_missing_data})"
        )
        return AlarmEvaluation(alarm.name, alarm.state, state, reason, now, points, 0)
    if breaching < m and _premature_alarm(alarm, [v for _, v in points], compare):
        reason = (
            f"Threshold Crossed (premature alarm): {breaching} of {n} datapoint(s) {shown} breaching "
            f"({alarm.statistic} {alarm.comparison} {_fmt(alarm.threshold)}), the oldest at least {m} period(s) old "
            "and every newer one breaching or missing"
        )
        return AlarmEvaluation(alarm.name, alarm.state, "ALARM", reason, now, points, breaching)
    state = "ALARM" if breaching >= m else "OK"
    verb = "was" if breaching >= m else "was not"
    reason = (
        f"Threshold Crossed: {breaching} of {n} datapoint(s) {shown} breaching ({alarm.statistic} "
        f"{alarm.comparison} {_fmt(alarm.threshold)}); {m} needed: alarm {verb} triggered"
    )
    return AlarmEvaluation(alarm.name, alarm.state, state, reason, now, points, breaching)


def _premature_alarm(
    alarm: AlarmDefinition, values: list[float | None], compare: Callable[[float, float], bool]
) -> bool:
    """CloudWatch's premature-alarm rule over the N values, oldest first (see the module docstring)."""
    if alarm.treat_missing_data not in ("missing", "ignore"):
        return False
    breaching = [i for i, v in enumerate(values) if v is not None and compare(v, alarm.threshold)]
    if not breaching:
        return False
    oldest = breaching[0]
    old_enough = len(values) - oldest >= alarm.datapoints_to_alarm
    newer_ok = all(v is None or compare(v, alarm.threshold) for v in values[oldest + 1 :])
    return old_enough and newer_ok
