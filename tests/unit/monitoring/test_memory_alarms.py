"""The in-memory alarms beyond the contract suite: a dry run changes nothing, disabled actions do not run, an
alarm on another namespace (SageMaker's endpoint metrics, p99) reads that namespace, forced states are checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops.adapters.memory.alarms import MemoryAlarms
from mlops.adapters.memory.metrics import MemoryMetrics
from mlops.ports.alarms import AlarmDefinition, AlarmsError

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:000000000000:alarms"


def _alarm(**overrides: object) -> AlarmDefinition:
    fields: dict[str, object] = {
        "name": "drift",
        "arn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:drift",
        "namespace": "MlopsKit/unit",
        "metric_name": "DataDriftScore",
        "dimensions": {},
        "statistic": "Maximum",
        "comparison": "GreaterThanThreshold",
        "threshold": 0.2,
        "period": 3600,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "treat_missing_data": "notBreaching",
        "state": "OK",
        "alarm_actions": (TOPIC,),
        "ok_actions": (TOPIC,),
    }
    fields.update(overrides)
    return AlarmDefinition(**fields)  # type: ignore[arg-type]


@pytest.fixture
def metrics() -> MemoryMetrics:
    return MemoryMetrics("MlopsKit/unit")


@pytest.fixture
def alarms(metrics: MemoryMetrics) -> MemoryAlarms:
    return MemoryAlarms(metrics)


def test_a_dry_run_judges_but_changes_nothing(alarms: MemoryAlarms, metrics: MemoryMetrics) -> None:
    alarms.put_alarm(_alarm())
    metrics.publish({"DataDriftScore": 0.5}, {}, timestamp=NOW)

    (dry,) = alarms.evaluate(["drift"], NOW, apply=False)

    assert (dry.previous_state, dry.state, dry.applied, dry.notified) == ("OK", "ALARM", False, ())
    assert alarms.describe(["drift"])[0].state == "OK"
    assert alarms.history("drift") == []
    assert alarms.delivered == []


def test_an_applied_change_is_stored_notified_and_recorded(alarms: MemoryAlarms, metrics: MemoryMetrics) -> None:
    alarms.put_alarm(_alarm())
    metrics.publish({"DataDriftScore": 0.5}, {}, timestamp=NOW)

    (applied,) = alarms.evaluate(["drift"], NOW)
    (again,) = alarms.evaluate(["drift"], NOW + timedelta(minutes=1))

    assert (applied.state, applied.applied, applied.notified, applied.state_since) == ("ALARM", True, (TOPIC,), NOW)
    assert (again.changed, again.applied, again.state_since) == (False, False, NOW)
    stored = alarms.describe(["drift"])[0]
    assert (stored.state, stored.state_updated) == ("ALARM", NOW)
    assert stored.state_reason.startswith("Threshold Crossed: 1 of 1 datapoint(s) [0.5]")
    (item,) = alarms.history("drift")
    assert (item.previous_state, item.state, item.timestamp) == ("OK", "ALARM", NOW)
    assert [action for action, _ in alarms.delivered] == [TOPIC]


def test_disabled_actions_do_not_run(alarms: MemoryAlarms, metrics: MemoryMetrics) -> None:
    alarms.put_alarm(_alarm(actions_enabled=False))
    metrics.publish({"DataDriftScore": 0.5}, {}, timestamp=NOW)
    (evaluation,) = alarms.evaluate(["drift"], NOW)
    assert (evaluation.state, evaluation.notified, alarms.delivered) == ("ALARM", (), [])


def test_an_alarm_on_another_namespace_reads_that_namespace(alarms: MemoryAlarms, metrics: MemoryMetrics) -> None:
    latency = _alarm(
        name="latency",
        namespace="AWS/SageMaker",
        metric_name="ModelLatency",
        dimensions={"EndpointName": "e", "VariantName": "AllTraffic"},
        statistic="p99",
        threshold=500_000.0,
        period=60,
    )
    alarms.put_alarm(latency)
    sagemaker = alarms.metrics_of("AWS/SageMaker")
    assert sagemaker is not metrics and alarms.metrics_of("MlopsKit/unit") is metrics
    for i in range(100):  # 99 fast answers and one slow one: p99 is the 99th smallest
        sagemaker.publish({"ModelLatency": 900_000.0 if i == 0 else 1000.0}, dict(latency.dimensions), timestamp=NOW)
    (evaluation,) = alarms.evaluate(["latency"], NOW)
    assert evaluation.state == "OK"
    sagemaker.publish({"ModelLatency": 900_000.0}, dict(latency.dimensions), timestamp=NOW)
    (evaluation,) = alarms.evaluate(["latency"], NOW)
    assert evaluation.state == "ALARM"


def test_a_forced_state_must_be_a_state(alarms: MemoryAlarms) -> None:
    alarms.put_alarm(_alarm())
    with pytest.raises(AlarmsError, match="alarm 'drift': state 'BROKEN' is not one of OK, ALARM, INSUFFICIENT_DATA"):
        alarms.set_state("drift", "BROKEN", "test")
    alarms.set_state("drift", "INSUFFICIENT_DATA", "reset", NOW)
    (stored,) = alarms.describe(["drift"])
    assert (stored.state, stored.state_reason, stored.state_updated) == ("INSUFFICIENT_DATA", "reset", NOW)
