"""The Cloud Monitoring metrics adapter (``target: gcp``): the requests it builds and how it reads the answers,
with a recording stand-in for Google's ``MetricServiceClient`` (no network: Cloud Monitoring has no emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as google_errors
from google.cloud import monitoring_v3

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics, metric_service
from mlops.errors import EmulatorError
from mlops.ports.metrics import MetricsError, MetricsThrottledError, MetricsUnavailableError
from mlops.settings import load_settings

START = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


class FakeMetricService:
    """Records each request; answers ``list_time_series`` with the series given to it."""

    def __init__(self, answer: list[dict[str, Any]] | None = None, fail: Exception | None = None) -> None:
        self.created: list[dict[str, Any]] = []
        self.listed: list[dict[str, Any]] = []
        self.answer = [monitoring_v3.TimeSeries(s) for s in answer or []]
        self.fail = fail

    def create_time_series(self, request: dict[str, Any]) -> None:
        if self.fail:
            raise self.fail
        self.created.append(request)

    def list_time_series(self, request: dict[str, Any]) -> Iterator[monitoring_v3.TimeSeries]:
        if self.fail:
            raise self.fail
        self.listed.append(request)
        return iter(self.answer)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def _clients(target: str = "gcp") -> GcpClients:
    return GcpClients(load_settings(cloud="gcp", target=target, gcp={"project": "proj-1"}))


def _metrics(service: FakeMetricService, clock: Clock | None = None) -> CloudMonitoringMetrics:
    clock = clock or Clock(START)
    return CloudMonitoringMetrics(_clients(), "MLOpsKit/dev", service=service, clock=clock, sleep=clock.sleep)


def _series(labels: dict[str, str], points: list[tuple[datetime, float]], *, count: bool = False) -> dict[str, Any]:
    value = "int64_value" if count else "double_value"
    return {
        "metric": {"type": "custom.googleapis.com/MLOpsKit/dev/rows_in", "labels": labels},
        "points": [{"interval": {"end_time": when}, "value": {value: v}} for when, v in points],
    }


def test_publish_writes_one_gauge_point_per_name_on_the_global_resource() -> None:
    service = FakeMetricService()
    _metrics(service).publish(
        {"rows_in": 100, "bad_fraction": 0.25},
        {"Dataset": "card_transactions", "EndpointName": "e1"},
        units={"rows_in": "Count"},
        timestamp=START,
    )

    (request,) = service.created
    assert request["name"] == "projects/proj-1"
    rows, bad = request["time_series"]
    assert rows["metric"] == {
        "type": "custom.googleapis.com/MLOpsKit/dev/rows_in",
        "labels": {"dataset": "card_transactions", "endpoint_name": "e1"},
    }
    assert rows["resource"] == {"type": "global", "labels": {"project_id": "proj-1"}}
    assert (rows["metric_kind"], rows["value_type"], rows["unit"]) == ("GAUGE", "DOUBLE", "1")
    assert rows["points"] == [{"interval": {"end_time": START}, "value": {"double_value": 100.0}}]
    assert bad["metric"]["type"].endswith("/bad_fraction") and "unit" not in bad
    monitoring_v3.CreateTimeSeriesRequest(request)  # the request is one Google's client takes


def test_a_call_is_sent_in_requests_of_200_series() -> None:
    service = FakeMetricService()
    _metrics(service).publish({f"m{i}": float(i) for i in range(450)}, {}, timestamp=START)
    assert [len(r["time_series"]) for r in service.created] == [200, 200, 50]


def test_a_given_timestamp_within_5_s_of_the_series_last_point_is_refused_before_sending() -> None:
    service = FakeMetricService()
    metrics = _metrics(service)
    metrics.publish({"rows_in": 1}, {"Dataset": "d"}, timestamp=START)

    with pytest.raises(
        MetricsError, match=r"rows_in \{'dataset': 'd'\} last written at .*one point per series each 5 s"
    ):
        metrics.publish({"rows_in": 2, "rows_valid": 2}, {"Dataset": "d"}, timestamp=START + timedelta(seconds=4))
    with pytest.raises(MetricsError, match="in order"):
        metrics.publish({"rows_in": 2}, {"Dataset": "d"}, timestamp=START - timedelta(minutes=1))
    assert len(service.created) == 1  # nothing of the refused calls was sent

    metrics.publish({"rows_in": 3}, {"Dataset": "other"}, timestamp=START + timedelta(seconds=1))  # another series
    metrics.publish({"rows_in": 4}, {"Dataset": "d"}, timestamp=START + timedelta(seconds=5))
    assert len(service.created) == 3


def test_a_value_stamped_now_waits_out_the_rest_of_the_5_s() -> None:
    clock = Clock(START)
    service = FakeMetricService()
    metrics = _metrics(service, clock)
    metrics.publish({"rows_in": 1}, {})
    clock.now += timedelta(seconds=2)
    metrics.publish({"rows_in": 2}, {})

    assert clock.slept == [3.0]
    stamps = [r["time_series"][0]["points"][0]["interval"]["end_time"] for r in service.created]
    assert stamps == [START, START + timedelta(seconds=5)]


def test_dimensions_that_map_to_one_label_key_are_refused() -> None:
    service = FakeMetricService()
    with pytest.raises(MetricsError, match="same Cloud Monitoring label 'dataset'"):
        _metrics(service).publish({"rows_in": 1}, {"Dataset": "a", "dataset": "b"}, timestamp=START)
    assert service.created == []


def test_a_standard_statistic_is_read_with_its_aligner_and_stamped_at_the_period_start() -> None:
    end = START + timedelta(minutes=5)
    answer = [
        _series({"dataset": "d"}, [(START + timedelta(minutes=3), 7.0), (START + timedelta(minutes=1), 3.0)]),
        _series({"dataset": "d", "stage": "validation"}, [(START + timedelta(minutes=1), 99.0)]),
    ]
    service = FakeMetricService(answer)

    points = _metrics(service).datapoints("rows_in", {"Dataset": "d"}, START, end, 60, statistic="Average")

    (request,) = service.listed
    assert request["filter"] == (
        'metric.type = "custom.googleapis.com/MLOpsKit/dev/rows_in" AND resource.type = "global" '
        'AND metric.label.dataset = "d"'
    )
    assert request["interval"] == {"start_time": START, "end_time": end}
    assert request["aggregation"] == {"alignment_period": {"seconds": 60}, "per_series_aligner": "ALIGN_MEAN"}
    monitoring_v3.ListTimeSeriesRequest(request)
    # the series with a further label is another metric for the port; points move to their period's start
    assert [(p.timestamp, p.value, p.dimensions) for p in points] == [
        (START, 3.0, (("Dataset", "d"),)),
        (START + timedelta(minutes=2), 7.0, (("Dataset", "d"),)),
    ]


def test_sample_count_reads_the_int64_points_of_align_count() -> None:
    service = FakeMetricService([_series({}, [(START + timedelta(minutes=1), 3)], count=True)])
    (point,) = _metrics(service).datapoints(
        "rows_in", {}, START, START + timedelta(hours=1), 60, statistic="SampleCount"
    )
    assert service.listed[0]["aggregation"]["per_series_aligner"] == "ALIGN_COUNT"
    assert (point.timestamp, point.value) == (START, 3.0)


@pytest.mark.parametrize(
    ("period", "statistic", "end"),
    [(60, "p90", timedelta(minutes=2)), (10, "Sum", timedelta(minutes=2)), (60, "Sum", timedelta(seconds=90))],
)
def test_percentiles_short_periods_and_partial_windows_read_raw_points(
    period: int, statistic: str, end: timedelta
) -> None:
    raw = [(START + timedelta(seconds=s), float(v)) for s, v in ((0, 1), (5, 2), (8, 10), (150, 50))]
    service = FakeMetricService([_series({}, raw)])

    points = _metrics(service).datapoints("rows_in", {}, START, START + end, period, statistic=statistic)

    (request,) = service.listed
    assert "aggregation" not in request
    assert request["interval"] == {"start_time": START - timedelta(seconds=1), "end_time": START + end}
    first = points[0]
    assert first.timestamp == START
    assert first.value == {"p90": 10.0, "Sum": 13.0}[statistic]  # the first period's points, nearest-rank p90
    assert all(p.timestamp < START + end for p in points)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (google_errors.ResourceExhausted("quota"), MetricsThrottledError),  # type: ignore[no-untyped-call]
        (google_errors.ServiceUnavailable("down"), MetricsUnavailableError),  # type: ignore[no-untyped-call]
        (google_errors.InvalidArgument("Points must be in order"), MetricsError),  # type: ignore[no-untyped-call]
    ],
)
def test_service_errors_become_the_ports_errors_naming_the_metric(failure: Exception, error: type[Exception]) -> None:
    metrics = _metrics(FakeMetricService(fail=failure))
    with pytest.raises(error, match="rows_in"):
        metrics.publish({"rows_in": 1}, {}, timestamp=START)
    with pytest.raises(error, match="rows_in"):
        metrics.datapoints("rows_in", {}, START, START + timedelta(minutes=1), 60)


def test_the_emulator_target_gets_no_cloud_monitoring_client() -> None:
    with pytest.raises(EmulatorError, match="MLOPS_SERVICES__METRICS__TYPE=local"):
        metric_service(_clients("gcp-emulators"))


def test_a_google_service_metric_is_aligned_by_cloud_monitoring_percentiles_included() -> None:
    """Vertex's latencies are distributions: Cloud Monitoring computes their percentiles."""
    service = FakeMetricService([_series({"endpoint_id": "7"}, [(START + timedelta(minutes=1), 812.0)])])
    clients = _clients()
    vertex = CloudMonitoringMetrics(clients, "aiplatform.googleapis.com/prediction/online", service=service)

    (point,) = vertex.datapoints(
        "prediction_latencies", {"endpoint_id": "7"}, START, START + timedelta(minutes=3), 60, statistic="p99"
    )

    (request,) = service.listed
    assert request["filter"].startswith(
        'metric.type = "aiplatform.googleapis.com/prediction/online/prediction_latencies"'
    )
    assert request["aggregation"]["per_series_aligner"] == "ALIGN_PERCENTILE_99"
    assert (point.timestamp, point.value) == (START, 812.0)


def test_a_distribution_read_raw_is_refused_by_name() -> None:
    distribution = {
        "metric": {"type": "custom.googleapis.com/MLOpsKit/dev/rows_in"},
        "points": [{"interval": {"end_time": START}, "value": {"distribution_value": {"count": 2}}}],
    }
    with pytest.raises(MetricsError, match="distribution_value point has no single value"):
        _metrics(FakeMetricService([distribution])).datapoints("rows_in", {}, START, START + timedelta(minutes=1), 10)


def test_target_gcp_wires_cloud_monitoring_for_metrics_and_alarms() -> None:
    from mlops.adapters.gcp.cloud_monitoring_alerts import CloudMonitoringAlarms
    from mlops.outputs import StackOutputs
    from mlops.wiring import build_platform

    settings = load_settings(cloud="gcp", target="gcp", gcp={"project": "proj-1"})
    known: dict[str, Any] = {"metrics_namespace": "MLOpsKit/dev"}
    services = build_platform(settings, StackOutputs.model_construct(**known)).services  # no call is made yet

    assert isinstance(services.metrics, CloudMonitoringMetrics)
    assert services.metrics.metric_type("DataDriftScore") == "custom.googleapis.com/MLOpsKit/dev/DataDriftScore"
    assert isinstance(services.alarms, CloudMonitoringAlarms)
    vertex = services.metrics_in("aiplatform.googleapis.com/prediction/online")
    assert isinstance(vertex, CloudMonitoringMetrics)
    assert vertex.metric_type("error_count") == "aiplatform.googleapis.com/prediction/online/error_count"


def test_the_metric_types_are_under_the_stacks_metric_type_prefix_output() -> None:
    from infra import naming
    from infra.gcp import naming as gcp_naming

    metrics = _metrics(FakeMetricService())
    assert metrics.namespace == naming.metrics_namespace("dev")
    assert metrics.metric_type("DataDriftScore") == gcp_naming.metric_type("dev", "DataDriftScore")
    assert metrics.metric_type("x").startswith(gcp_naming.metrics_prefix("dev") + "/")
