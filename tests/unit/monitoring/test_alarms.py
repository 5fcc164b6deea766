"""CloudWatch alarm semantics (:mod:`mlops.alarm_semantics`): M of N, each comparison operator, each missing-data
treatment, the definitions the evaluator refuses; and how a ``DescribeAlarms`` entry becomes a definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops.adapters.aws.cloudwatch_alarms import definition_from_description
from mlops.alarm_semantics import evaluate, evaluation_range, lookback, period_start
from mlops.ports.alarms import AlarmDefinition, AlarmDefinitionError

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
PERIOD = 3600


def _rule(**overrides: object) -> AlarmDefinition:
    fields: dict[str, object] = {
        "name": "drift",
        "arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:drift",
        "namespace": "MlopsKit/local",
        "metric_name": "DataDriftScore",
        "dimensions": {},
        "statistic": "Maximum",
        "comparison": "GreaterThanThreshold",
        "threshold": 0.2,
        "period": PERIOD,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "treat_missing_data": "missing",
        "state": "OK",
    }
    fields.update(overrides)
    return AlarmDefinition(**fields)  # type: ignore[arg-type]


def _values(*points: float | None) -> dict[datetime, float]:
    starts = evaluation_range(_rule(evaluation_periods=len(points), datapoints_to_alarm=1), NOW)
    return {s: v for s, v in zip(starts, points, strict=True) if v is not None}


def test_evaluation_range_ends_with_the_period_holding_now() -> None:
    starts = evaluation_range(_rule(), NOW)
    assert starts == [NOW.replace(minute=0) - timedelta(hours=h) for h in (2, 1, 0)]


@pytest.mark.parametrize(
    ("points", "state", "breaching"),
    [
        ((0.5, 0.1, 0.5), "ALARM", 2),  # 2 of 3 breach, 2 needed
        ((0.1, 0.1, 0.5), "OK", 1),
        ((0.5, 0.5, 0.5), "ALARM", 3),
        ((0.2, 0.2, 0.2), "OK", 0),  # equal to the threshold is not greater
    ],
)
def test_m_of_n(points: tuple[float, ...], state: str, breaching: int) -> None:
    result = evaluate(_rule(), _values(*points), NOW)
    assert (result.state, result.breaching) == (state, breaching)


@pytest.mark.parametrize(
    ("comparison", "value", "state"),
    [
        ("GreaterThanThreshold", 0.2, "OK"),
        ("GreaterThanThreshold", 0.21, "ALARM"),
        ("GreaterThanOrEqualToThreshold", 0.2, "ALARM"),
        ("GreaterThanOrEqualToThreshold", 0.19, "OK"),
        ("LessThanThreshold", 0.2, "OK"),
        ("LessThanThreshold", 0.19, "ALARM"),
        ("LessThanOrEqualToThreshold", 0.2, "ALARM"),
        ("LessThanOrEqualToThreshold", 0.21, "OK"),
    ],
)
def test_comparison_operators(comparison: str, value: float, state: str) -> None:
    rule = _rule(comparison=comparison, evaluation_periods=1, datapoints_to_alarm=1)
    assert evaluate(rule, _values(value), NOW).state == state


@pytest.mark.parametrize(
    ("treatment", "points", "previous", "state"),
    [
        ("missing", (None, None, None), "ALARM", "INSUFFICIENT_DATA"),
        ("ignore", (None, None, None), "ALARM", "ALARM"),
        ("ignore", (None, None, None), "OK", "OK"),
        ("breaching", (None, None, None), "OK", "ALARM"),
        ("notBreaching", (None, None, None), "ALARM", "OK"),
        ("breaching", (None, 0.1, 0.5), "OK", "ALARM"),  # missing + breaching = 2 of 3
        ("notBreaching", (None, 0.1, 0.5), "OK", "OK"),
        ("missing", (None, 0.5, 0.5), "OK", "ALARM"),  # present points decide
        ("missing", (None, None, 0.5), "OK", "OK"),
    ],
)
def test_missing_data_treatments(treatment: str, points: tuple[float | None, ...], previous: str, state: str) -> None:
    rule = _rule(treat_missing_data=treatment, state=previous)
    result = evaluate(rule, _values(*points), NOW)
    assert result.state == state
    assert result.changed is (state != previous)


def test_reason_names_datapoints_and_threshold() -> None:
    result = evaluate(_rule(), _values(0.5, None, 0.75), NOW)
    assert result.reason == (
        "Threshold Crossed: 2 of 3 datapoint(s) [0.5, missing, 0.75] breaching (Maximum GreaterThanThreshold 0.2); "
        "2 needed: alarm was triggered"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"comparison": "LessThanLowerOrGreaterThanUpperThreshold"},
            "'LessThanLowerOrGreaterThanUpperThreshold' is not",
        ),
        ({"datapoints_to_alarm": 4}, r"DatapointsToAlarm 4 must be within 1\.\.EvaluationPeriods \(3\)"),
        ({"treat_missing_data": "zero"}, "TreatMissingData 'zero' is unknown"),
        ({"period": 0}, "Period and EvaluationPeriods must be positive"),
        ({"metric_math": True}, "metric-math alarms are not supported"),
    ],
)
def test_unsupported_definitions_are_refused_by_name(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(AlarmDefinitionError, match=message) as caught:
        evaluate(_rule(**overrides), {}, NOW)
    assert "alarm 'drift'" in str(caught.value)


def test_the_evaluation_reads_the_n_periods_ending_with_the_one_holding_now() -> None:
    start, end = lookback(_rule(), NOW)
    assert (start, end) == (datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 13, tzinfo=UTC))
    assert period_start(NOW, PERIOD) == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_values_are_matched_to_periods_by_the_periods_start() -> None:
    """The evaluator takes one value per period start, as the metrics port stamps what it reads back."""
    current = period_start(NOW, PERIOD)
    assert evaluate(_rule(evaluation_periods=1, datapoints_to_alarm=1), {current: 0.5}, NOW).state == "ALARM"
    late = current + timedelta(minutes=1)
    assert evaluate(_rule(evaluation_periods=1, datapoints_to_alarm=1), {late: 0.5}, NOW).state == "INSUFFICIENT_DATA"


def test_definition_from_description_defaults() -> None:
    updated = datetime(2026, 3, 1, 9, tzinfo=UTC)
    rule = definition_from_description(
        {
            "AlarmName": "p99",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:p99",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
            "ExtendedStatistic": "p99",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 500000.0,
            "Period": 60,
            "EvaluationPeriods": 3,
            "StateValue": "OK",
            "StateReason": "fine",
            "StateUpdatedTimestamp": updated,
            "OKActions": ["arn:aws:sns:us-east-1:1:t"],
        }
    )
    assert (rule.statistic, rule.datapoints_to_alarm, rule.treat_missing_data, dict(rule.dimensions)) == (
        "p99",
        3,
        "missing",
        {"EndpointName": "e"},
    )
    assert (rule.state, rule.state_reason, rule.state_updated, rule.metric_math) == ("OK", "fine", updated, False)
    assert rule.actions_for("OK") == ("arn:aws:sns:us-east-1:1:t",)
    assert rule.actions_for("ALARM") == rule.actions_for("INSUFFICIENT_DATA") == ()


def test_a_metric_math_alarm_is_described_but_not_evaluated() -> None:
    rule = definition_from_description(
        {
            "AlarmName": "ratio",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:ratio",
            "Metrics": [{"Id": "e1", "Expression": "m1 / m2"}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 1.0,
            "EvaluationPeriods": 1,
        }
    )
    assert (rule.metric_math, rule.metric_name, rule.state) == (True, "", "INSUFFICIENT_DATA")
    with pytest.raises(AlarmDefinitionError, match="metric-math"):
        evaluate(rule, {}, NOW)


@pytest.mark.parametrize(
    ("treatment", "points", "state"),
    [
        # CloudWatch's premature-alarm rule: fewer than M datapoints, but the oldest breaching one is at least M
        # periods old and every newer period breaches or is missing -> ALARM
        ("missing", (None, 0.5, None), "ALARM"),
        ("ignore", (None, 0.5, None), "ALARM"),
        ("missing", (None, None, 0.5), "OK"),  # only 1 period old: not yet
        ("missing", (None, 0.5, 0.1), "OK"),  # a newer datapoint does not breach
        ("notBreaching", (None, 0.5, None), "OK"),  # the rule is for missing/ignore only
    ],
)
def test_premature_alarm_rule_for_missing_data(treatment: str, points: tuple[float | None, ...], state: str) -> None:
    result = evaluate(_rule(treat_missing_data=treatment), _values(*points), NOW)
    assert result.state == state
    if state == "ALARM":
        assert "premature" in result.reason
