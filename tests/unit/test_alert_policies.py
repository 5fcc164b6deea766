"""Alert-policy semantics (:mod:`mlops.alert_policies`) and the Cloud Monitoring alarms adapter's requests, without
the emulators: policy <-> port definition, the filters, Cloud Monitoring's per-series rule and missing-data
options on the shared evaluation core."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import monitoring_v3

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics
from mlops.adapters.gcp.cloud_monitoring_alerts import JUDGED, CloudMonitoringAlarms
from mlops.alarm_actions import RETRAIN_ALARM_KEYS
from mlops.alert_policies import (
    Series,
    definition_of,
    incident_notification,
    judge,
    label_key,
    parse_filter,
    policy_from_definition,
)
from mlops.ports.alarms import AlarmDefinition, AlarmDefinitionError, AlarmsError
from mlops.settings import load_settings

NOW = datetime(2026, 11, 29, 7, 30, 30, tzinfo=UTC)
CHANNEL = "projects/proj-1/notificationChannels/42"


def _alarm(**changes: Any) -> AlarmDefinition:
    base = AlarmDefinition(
        name="mlops-kit-dev-data-drift",
        arn="",
        namespace="MLOpsKit/dev",
        metric_name="DataDriftScore",
        dimensions={"Dataset": "card_transactions"},
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=0.2,
        period=60,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        treat_missing_data="notBreaching",
        state="INSUFFICIENT_DATA",
        description="Input feature distributions drifted",
        alarm_actions=(CHANNEL,),
        ok_actions=(CHANNEL,),
    )
    return replace(base, **changes)


def test_a_definition_becomes_a_threshold_condition_and_back() -> None:
    policy = policy_from_definition(_alarm(), channels=[CHANNEL], labels={"alarm": "data-drift"})

    threshold = policy["conditions"][0]["conditionThreshold"]
    assert threshold == {
        "filter": 'metric.type = "custom.googleapis.com/MLOpsKit/dev/DataDriftScore" AND resource.type = "global" '
        'AND metric.label.dataset = "card_transactions"',
        "comparison": "COMPARISON_GT",
        "thresholdValue": 0.2,
        "duration": "180s",
        "aggregations": [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MAX"}],
        "trigger": {"count": 1},
        "evaluationMissingData": "EVALUATION_MISSING_DATA_INACTIVE",
    }
    assert (policy["notificationChannels"], policy["userLabels"]) == ([CHANNEL], {"alarm": "data-drift"})
    monitoring_v3.AlertPolicy.from_json(json.dumps(policy))  # Google's client takes it

    back = definition_of({**policy, "name": "projects/proj-1/alertPolicies/7"})
    assert back == _alarm(arn="projects/proj-1/alertPolicies/7", dimensions={"dataset": "card_transactions"})


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"datapoints_to_alarm": 2}, "2 of 3 datapoints: Cloud Monitoring has no M of N"),
        ({"statistic": "p90"}, "statistic 'p90' has no aligner"),
        ({"period": 10}, "period 10 s: Cloud Monitoring takes whole minutes only"),
    ],
)
def test_what_an_alert_policy_cannot_express_is_refused_by_name(changes: dict[str, Any], refusal: str) -> None:
    with pytest.raises(AlarmDefinitionError, match=re.escape(f"alarm 'mlops-kit-dev-data-drift': {refusal}")):
        policy_from_definition(_alarm(**changes), channels=[])


def test_the_local_runner_takes_periods_under_a_minute() -> None:
    policy = policy_from_definition(
        _alarm(period=10, evaluation_periods=1, datapoints_to_alarm=1), channels=[], cloud=False
    )
    assert policy["conditions"][0]["conditionThreshold"]["duration"] == "0s"
    assert definition_of(policy).period == 10


def _camel(value: Any) -> Any:
    """What Pulumi hands a provider: the program's snake_case input keys in camelCase."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m[1].upper(), k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def test_the_infra_programs_policies_are_what_the_runner_evaluates() -> None:
    from infra.gcp.components.monitoring import condition
    from infra.thresholds import RETRAIN_ALARMS, Thresholds, alarm_specs

    specs = alarm_specs(Thresholds(800, 5, 0.2, 0.15, 0.05, 3))
    policy = {
        "displayName": "mlops-kit-dev-data-drift",
        "conditions": [_camel(condition(specs["data_drift"], "dev", "1"))],
    }

    alarm = definition_of(policy)
    assert (alarm.namespace, alarm.metric_name, dict(alarm.dimensions)) == ("MLOpsKit/dev", "DataDriftScore", {})
    assert (alarm.statistic, alarm.comparison, alarm.threshold) == ("Maximum", "GreaterThanThreshold", 0.2)
    assert (alarm.period, alarm.evaluation_periods, alarm.treat_missing_data) == (3600, 1, "ignore")
    endpoint = definition_of(
        {"displayName": "e", "conditions": [_camel(condition(specs["endpoint_errors"], "dev", "7"))]}
    )
    assert (endpoint.namespace, endpoint.metric_name) == ("aiplatform.googleapis.com/prediction/online", "error_count")
    assert dict(endpoint.dimensions) == {"endpoint_id": "7"}
    assert RETRAIN_ALARM_KEYS == RETRAIN_ALARMS  # the core's copy of the retrain rule's alarms


def test_filters_the_kit_does_not_evaluate_are_refused() -> None:
    assert parse_filter('metric.type="a/b" AND metric.labels."k"="v \\"q\\""') == ("a/b", {"k": 'v "q"'})
    with pytest.raises(AlarmDefinitionError, match="is not an equality"):
        parse_filter('metric.type="a" OR metric.type="b"')
    with pytest.raises(AlarmDefinitionError, match=r"names no metric\.type"):
        parse_filter('resource.type="global"')
    assert label_key("EndpointName") == "endpoint_name"


def test_a_log_match_policy_is_described_and_left_to_cloud_monitoring() -> None:
    policy = {"displayName": "failures", "conditions": [{"conditionMatchedLog": {"filter": "severity>=ERROR"}}]}
    assert definition_of(policy).metric_math


def _window(*values: float | None) -> dict[datetime, float]:
    """Values of the last periods, oldest first, ending with the period holding NOW (``None``: no point)."""
    last = NOW.replace(second=0)
    starts = [last - timedelta(minutes=i) for i in range(len(values) - 1, -1, -1)]
    return {s: v for s, v in zip(starts, values, strict=True) if v is not None}


def test_the_condition_is_met_when_every_point_of_the_duration_violates() -> None:
    alarm = _alarm(treat_missing_data="ignore")
    assert judge(alarm, {(): _window(0.3, 0.5, 0.4)}, NOW).state == "ALARM"
    assert judge(alarm, {(): _window(0.3, 0.1, 0.4)}, NOW).state == "OK"


def test_each_series_the_filter_selects_is_judged_and_one_violating_series_meets_it() -> None:
    alarm = _alarm(dimensions={})
    series: dict[Series, dict[datetime, float]] = {
        (("dataset", "a"),): _window(0.1, 0.1, 0.1),
        (("dataset", "b"),): _window(0.3, 0.3, 0.3),
    }
    judged = judge(alarm, series, NOW)
    assert judged.state == "ALARM"
    assert judged.reason.startswith("series [dataset=b] (1 of 2 series): ")


@pytest.mark.parametrize(
    ("treatment", "state", "expected"),
    [
        ("notBreaching", "ALARM", "OK"),
        ("breaching", "OK", "ALARM"),
        ("ignore", "ALARM", "ALARM"),
        ("ignore", "OK", "OK"),
    ],
)
def test_missing_data_follows_evaluation_missing_data(treatment: str, state: str, expected: str) -> None:
    assert judge(_alarm(treat_missing_data=treatment, state=state), {}, NOW).state == expected


def test_the_notification_is_cloud_monitorings_incident_message() -> None:
    alarm = _alarm()
    judged = judge(alarm, {(("dataset", "card_transactions"),): _window(0.3, 0.5, 0.4)}, NOW)
    message = incident_notification(
        alarm, judged, incident_id="i1", started=NOW, project="proj-1", user_labels={"alarm": "data-drift"}
    )
    incident = message["incident"]
    assert (message["version"], incident["state"], incident["ended_at"]) == ("1.2", "open", None)
    assert (incident["policy_name"], incident["observed_value"], incident["threshold_value"]) == (
        alarm.name,
        "0.4",
        "0.2",
    )
    assert incident["metric"]["type"] == "custom.googleapis.com/MLOpsKit/dev/DataDriftScore"
    assert incident["policy_user_labels"] == {"alarm": "data-drift"}


class FakeAlertPolicyService:
    def __init__(self, policies: list[dict[str, Any]]) -> None:
        self.policies = [monitoring_v3.AlertPolicy.from_json(json.dumps(p)) for p in policies]
        self.created: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []

    def list_alert_policies(self, request: dict[str, Any]) -> Iterator[monitoring_v3.AlertPolicy]:
        assert request == {"name": "projects/proj-1"}
        return iter(self.policies)

    def create_alert_policy(self, request: dict[str, Any]) -> monitoring_v3.AlertPolicy:
        self.created.append(request)
        return monitoring_v3.AlertPolicy(name="projects/proj-1/alertPolicies/new")

    def update_alert_policy(self, request: dict[str, Any]) -> monitoring_v3.AlertPolicy:
        self.updated.append(request)
        return request["alert_policy"]  # type: ignore[no-any-return]


class FakeMetricService:
    def __init__(self, series: list[dict[str, Any]]) -> None:
        self.series = [monitoring_v3.TimeSeries(s) for s in series]

    def list_time_series(self, request: dict[str, Any]) -> Iterator[monitoring_v3.TimeSeries]:
        return iter(self.series)


def _adapter(policies: list[dict[str, Any]], series: list[dict[str, Any]]) -> tuple[CloudMonitoringAlarms, Any]:
    clients = GcpClients(load_settings(cloud="gcp", target="gcp", gcp={"project": "proj-1"}))
    service = FakeAlertPolicyService(policies)
    metrics = CloudMonitoringMetrics(clients, "MLOpsKit/dev", service=FakeMetricService(series))
    return CloudMonitoringAlarms(clients, metrics, service=service), service


def test_the_cloud_adapter_describes_judges_and_writes_policies() -> None:
    declared = {**policy_from_definition(_alarm(), channels=[CHANNEL]), "name": "projects/proj-1/alertPolicies/1"}
    points = [
        {
            "interval": {"end_time": NOW.replace(second=0) - timedelta(minutes=i) + timedelta(minutes=1)},
            "value": {"double_value": 0.5},
        }
        for i in range(3)
    ]
    series = [
        {
            "metric": {
                "type": "custom.googleapis.com/MLOpsKit/dev/DataDriftScore",
                "labels": {"dataset": "card_transactions"},
            },
            "points": points,
        }
    ]
    adapter, service = _adapter([declared], series)

    (described,) = adapter.describe([_alarm().name])
    assert (described.arn, described.evaluation_periods, described.alarm_actions) == (declared["name"], 3, (CHANNEL,))
    (evaluation,) = adapter.evaluate([_alarm().name], NOW)
    assert (evaluation.previous_state, evaluation.state, evaluation.applied) == ("ALARM", "ALARM", False)
    assert JUDGED in evaluation.notes
    with pytest.raises(AlarmsError, match="lists no incidents"):
        adapter.history(_alarm().name)

    assert adapter.put(_alarm(), channels=[CHANNEL]) == declared["name"]  # same display name: replaced
    assert service.updated[0]["alert_policy"].name == declared["name"]
    adapter.put(_alarm(name="another"), channels=[CHANNEL])
    (created,) = service.created
    assert created["name"] == "projects/proj-1"
    assert created["alert_policy"].conditions[0].condition_threshold.duration.total_seconds() == 180
