"""Delivering alarm state changes to rule targets (the retrain rule's pipeline) and the action records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.adapters.memory.training import MemoryPipelines
from mlops.alarm_actions import AlarmAction, read_actions, write_action
from mlops.errors import MonitoringError
from mlops.local.alarm_actions import TargetDelivery, pipeline_of, pipeline_parameters
from mlops.ports.alarms import AlarmDefinition, AlarmEvaluation, EventTarget

BUCKET = "monitoring"
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mlops-kit-local-training"
RAW_TARGET = {
    "Id": "training-pipeline",
    "Arn": PIPELINE_ARN,
    "SageMakerPipelineParameters": {"PipelineParameterList": [{"Name": "TriggeredBy", "Value": "drift-alarm"}]},
}
TARGET = EventTarget("retrain-on-drift", "training-pipeline", PIPELINE_ARN)
DEFINITION = json.dumps({"Parameters": [{"Name": "TriggeredBy", "DefaultValue": "manual"}]})


def _alarm(name: str) -> AlarmDefinition:
    return AlarmDefinition(
        name=name,
        arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        namespace="MlopsKit/local",
        metric_name="ModelQualityDrop",
        dimensions={},
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=0.05,
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="notBreaching",
        state="OK",
    )


def _change(name: str) -> AlarmEvaluation:
    return AlarmEvaluation(name, "OK", "ALARM", f"{name} crossed its threshold")


@pytest.fixture
def delivery() -> tuple[TargetDelivery, MemoryPipelines, MemoryObjectStore]:
    pipelines = MemoryPipelines({"mlops-kit-local-training": DEFINITION})
    store = MemoryObjectStore((BUCKET,))
    return TargetDelivery(lambda: pipelines, store, BUCKET), pipelines, store


def test_targets_are_read_as_eventbridge_lists_them() -> None:
    assert pipeline_of(PIPELINE_ARN) == "mlops-kit-local-training"
    assert pipeline_of("arn:aws:sqs:us-east-1:123456789012:queue") is None
    assert pipeline_parameters(RAW_TARGET) == {"TriggeredBy": "drift-alarm"}
    assert pipeline_parameters({"Id": "x", "Arn": PIPELINE_ARN}) == {}


def test_the_retrain_target_starts_the_pipeline_with_its_parameters_and_is_recorded(
    delivery: tuple[TargetDelivery, MemoryPipelines, MemoryObjectStore],
) -> None:
    runner, pipelines, store = delivery
    action = runner.deliver(_alarm("degradation"), _change("degradation"), TARGET, RAW_TARGET)

    (execution,) = pipelines.executions("mlops-kit-local-training")
    assert execution.parameters["TriggeredBy"] == "drift-alarm"
    assert execution.display_name == "degradation ALARM"
    assert (action.kind, action.outcome, action.alarm, action.rule) == (
        "start-pipeline",
        "succeeded",
        "degradation",
        "retrain-on-drift",
    )
    assert action.data["execution_arn"] == execution.arn
    assert execution.arn in action.ran
    assert read_actions(store, BUCKET) == [action]


def test_alarms_changing_in_one_evaluation_share_one_execution_until_the_next_round(
    delivery: tuple[TargetDelivery, MemoryPipelines, MemoryObjectStore],
) -> None:
    runner, pipelines, store = delivery
    first = runner.deliver(_alarm("drift"), _change("drift"), TARGET, RAW_TARGET)
    joined = runner.deliver(_alarm("degradation"), _change("degradation"), TARGET, RAW_TARGET)
    assert len(pipelines.executions("mlops-kit-local-training")) == 1
    assert (joined.outcome, joined.caused_by, joined.ran) == ("skipped", first.action_id, first.ran)
    assert "joined the execution started for alarm 'drift'" in joined.detail

    runner.new_round()
    runner.deliver(_alarm("drift"), _change("drift"), TARGET, RAW_TARGET)
    assert len(pipelines.executions("mlops-kit-local-training")) == 2
    assert len(read_actions(store, BUCKET)) == 3


def test_a_target_that_cannot_start_is_recorded_as_failed_not_raised() -> None:
    store = MemoryObjectStore((BUCKET,))
    runner = TargetDelivery(MemoryPipelines, store, BUCKET)  # the pipeline is not deployed
    action = runner.deliver(_alarm("drift"), _change("drift"), TARGET, RAW_TARGET)
    assert action.outcome == "failed"
    assert "mlops-kit-local-training" in action.detail and "not deployed" in action.detail
    assert read_actions(store, BUCKET) == [action]


def test_records_are_listed_newest_first_and_limited() -> None:
    store = MemoryObjectStore((BUCKET,))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = [
        AlarmAction("rollback", "a", "ALARM", "r", f"run {i}", "succeeded", started_at=start + timedelta(minutes=i))
        for i in range(3)
    ]
    for action in written:
        write_action(store, BUCKET, action)
    assert [a.ran for a in read_actions(store, BUCKET)] == ["run 2", "run 1", "run 0"]
    assert [a.ran for a in read_actions(store, BUCKET, limit=1)] == ["run 2"]


def test_a_foreign_record_is_named() -> None:
    store = MemoryObjectStore((BUCKET,))
    store.put(BUCKET, "alarm-actions/20260101T000000000000Z-x.json", b'{"kind": "start-pipeline"}')
    with pytest.raises(MonitoringError, match=r"alarm-actions/20260101T000000000000Z-x\.json"):
        read_actions(store, BUCKET)
