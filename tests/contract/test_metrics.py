"""The metrics port's contract, over every implementation: the in-memory fake, CloudWatch on the session's moto
server, CloudWatch on LocalStack, and the kit's store in the Firestore emulator (``cloud: gcp`` locally: Cloud
Monitoring has no emulator).

Each test publishes into a namespace of its own, under metric names of its own (moto's GetMetricData ignores the
namespace of a query that has dimensions), at timestamps aligned to the periods it reads back. Where an emulator
departs from CloudWatch's documented behaviour, the test is marked as an expected failure for that emulator only,
strictly, so a fixed emulator shows up as an unexpected pass.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.cloudwatch import BATCH, CloudWatchMetrics
from mlops.adapters.memory.metrics import MemoryMetrics
from mlops.local.emulator import free_port
from mlops.ports.errors import UnavailableError
from mlops.ports.metrics import MetricsError, MetricsPublisher, MetricsUnavailableError
from mlops.settings import load_settings

IMPLEMENTATIONS = ["memory", "aws-moto", "aws-localstack", "gcp-emulator"]
MOTO_ANY_DIMENSIONS = "moto 5.2 reads a metric without dimensions as every dimension set of that name"
LOCALSTACK_SUPERSETS = "LocalStack matches dimensions with LIKE '%Name=Value%': supersets and longer values match"
NO_PERCENTILES = "the emulator computes no percentiles: a query for p90 over data fails with HTTP 500"


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def metrics(impl: str, request: pytest.FixtureRequest) -> Iterator[MetricsPublisher]:
    namespace = f"MlopsKit/Contract/{uuid.uuid4().hex[:8]}"
    if impl == "memory":
        yield MemoryMetrics(namespace)
    elif impl == "aws-moto":
        yield CloudWatchMetrics(request.getfixturevalue("emulated_clients"), namespace)
    elif impl == "gcp-emulator":  # Cloud Monitoring has no emulator: the kit's store in the Firestore emulator
        from mlops.local.gcp_metrics import FirestoreEmulatorMetrics

        yield FirestoreEmulatorMetrics(request.getfixturevalue("gcp_clients"), namespace)
    else:
        yield CloudWatchMetrics(request.getfixturevalue("localstack_clients"), namespace)


def known_gap(request: pytest.FixtureRequest, impl: str, gaps: dict[str, str]) -> None:
    """Mark the running test as a strict expected failure on the emulators listed in ``gaps``."""
    if impl in gaps:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gaps[impl]))


def _metric(base: str) -> str:
    return f"{base}{uuid.uuid4().hex[:6]}"


@pytest.fixture
def start() -> datetime:
    """An hour boundary two hours back: inside every implementation's accepted range, aligned to any period used."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def _read(
    metrics: MetricsPublisher, name: str, dims: dict[str, str], start: datetime, period: int, *, statistic: str = "Sum"
) -> list[tuple[datetime, float]]:
    points = metrics.datapoints(name, dims, start, start + timedelta(hours=1), period, statistic=statistic)
    return [(p.timestamp, p.value) for p in points]


def test_values_read_back_summed_per_period_oldest_first(metrics: MetricsPublisher, start: datetime) -> None:
    name = _metric("Rows")
    for offset, value in ((10, 1.0), (20, 2.0), (70, 4.0), (190, 8.0)):
        metrics.publish({name: value}, {"Dataset": "d"}, timestamp=start + timedelta(seconds=offset))

    at = [start + timedelta(seconds=s) for s in (0, 60, 180)]
    assert _read(metrics, name, {"Dataset": "d"}, start, 60) == [(at[0], 3.0), (at[1], 4.0), (at[2], 8.0)]
    assert _read(metrics, name, {"Dataset": "d"}, start, 120) == [(start, 7.0), (start + timedelta(seconds=120), 8.0)]
    point = metrics.datapoints(name, {"Dataset": "d"}, start, start + timedelta(minutes=5), 300)[0]
    assert (point.name, point.dimensions, point.value) == (name, (("Dataset", "d"),), 15.0)


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("Sum", 12.0), ("Average", 4.0), ("Minimum", 1.0), ("Maximum", 8.0), ("SampleCount", 3.0)],
)
def test_each_standard_statistic_of_a_period(
    metrics: MetricsPublisher, start: datetime, statistic: str, expected: float
) -> None:
    name = _metric("Latency")
    for offset, value in ((5, 1.0), (15, 3.0), (25, 8.0)):
        metrics.publish({name: value}, {}, timestamp=start + timedelta(seconds=offset))
    ((when, value),) = _read(metrics, name, {}, start, 60, statistic=statistic)
    assert when == start
    assert value == pytest.approx(expected)


def test_percentiles_of_a_period(
    metrics: MetricsPublisher, impl: str, start: datetime, request: pytest.FixtureRequest
) -> None:
    known_gap(request, impl, {"aws-moto": NO_PERCENTILES, "aws-localstack": NO_PERCENTILES})
    name = _metric("Latency")
    metrics.publish({name: 0.0}, {}, timestamp=start)
    for i in range(1, 100):
        metrics.publish({name: float(i)}, {}, timestamp=start + timedelta(seconds=i % 50))
    values = dict(_read(metrics, name, {}, start, 60, statistic="p90"))
    assert values == {start: pytest.approx(89.0, abs=1.0)}


def test_only_values_inside_start_to_end_are_read(metrics: MetricsPublisher, start: datetime) -> None:
    name = _metric("Edges")
    end = start + timedelta(minutes=2)
    for moment, value in (
        (start - timedelta(seconds=1), 1.0),
        (start, 2.0),
        (end - timedelta(seconds=1), 4.0),
        (end, 8.0),
    ):
        metrics.publish({name: value}, {}, timestamp=moment)
    points = metrics.datapoints(name, {}, start, end, 120)
    assert [(p.timestamp, p.value) for p in points] == [(start, 6.0)]


def test_other_dimension_values_and_names_are_other_metrics(metrics: MetricsPublisher, start: datetime) -> None:
    name = _metric("Score")
    metrics.publish({name: 1.0}, {"Dataset": "a"}, timestamp=start)
    assert _read(metrics, name, {"Dataset": "b"}, start, 3600) == []
    assert _read(metrics, name, {"Model": "a"}, start, 3600) == []
    assert _read(metrics, f"{name}x", {"Dataset": "a"}, start, 3600) == []
    assert _read(metrics, name, {"Dataset": "a"}, start, 3600) == [(start, 1.0)]


def test_no_dimensions_is_a_metric_of_its_own(
    metrics: MetricsPublisher, impl: str, start: datetime, request: pytest.FixtureRequest
) -> None:
    """What the kit's alarms rely on: the monitoring runs publish each score with and without ``Dataset``."""
    known_gap(request, impl, {"aws-moto": MOTO_ANY_DIMENSIONS})
    name = _metric("Score")
    metrics.publish({name: 1.0}, {}, timestamp=start)
    metrics.publish({name: 10.0}, {"Dataset": "a"}, timestamp=start)
    assert _read(metrics, name, {}, start, 3600) == [(start, 1.0)]


def test_a_dimension_set_does_not_match_its_supersets(
    metrics: MetricsPublisher, impl: str, start: datetime, request: pytest.FixtureRequest
) -> None:
    known_gap(request, impl, {"aws-localstack": LOCALSTACK_SUPERSETS})
    name = _metric("Score")
    metrics.publish({name: 10.0}, {"Dataset": "a"}, timestamp=start)
    metrics.publish({name: 100.0}, {"Dataset": "a", "Zone": "x"}, timestamp=start)
    metrics.publish({name: 1000.0}, {"Dataset": "ab"}, timestamp=start)
    assert _read(metrics, name, {"Dataset": "a"}, start, 3600) == [(start, 10.0)]
    assert _read(metrics, name, {"Zone": "x", "Dataset": "a"}, start, 3600) == [(start, 100.0)]


def test_more_values_than_one_call_takes_all_arrive(metrics: MetricsPublisher, start: datetime) -> None:
    prefix = _metric("Feature")
    count = BATCH + BATCH // 2
    metrics.publish({f"{prefix}_{i}": float(i) for i in range(count)}, {"Batch": "big"}, timestamp=start)
    for i in (0, BATCH - 1, BATCH, count - 1):
        assert _read(metrics, f"{prefix}_{i}", {"Batch": "big"}, start, 3600) == [(start, float(i))]


@pytest.mark.parametrize(
    ("values", "dimensions", "message"),
    [
        ({"ok": 1.0, "bad": math.nan}, {}, r"metric\(s\) \['bad'\] have an empty name or a non-finite value"),
        ({"ok": 1.0, "bad": math.inf}, {}, r"\['bad'\]"),
        ({"ok": 1.0}, {"Dataset": ""}, r"dimension\(s\) \['Dataset'\] have an empty name or value"),
        ({"ok": 1.0}, {f"d{i}": "v" for i in range(31)}, "31 dimensions given, at most 30"),
    ],
)
def test_an_invalid_publish_is_refused_whole_and_named(
    metrics: MetricsPublisher, start: datetime, values: dict[str, float], dimensions: dict[str, str], message: str
) -> None:
    named = {f"{k}{metrics.namespace[-8:]}": v for k, v in values.items()}
    with pytest.raises(MetricsError, match=message.replace("'bad'", f"'bad{metrics.namespace[-8:]}'")) as caught:
        metrics.publish(named, dimensions, timestamp=start)
    assert metrics.namespace in str(caught.value)
    # nothing of the call was sent (read without dimensions: on moto that sees every dimension set too)
    assert _read(metrics, f"ok{metrics.namespace[-8:]}", {}, start, 3600) == []


@pytest.mark.parametrize(
    "case",
    [
        (timedelta(0), 60, "Sum", "is not before end"),
        (timedelta(hours=1), 0, "Sum", "period must be positive seconds, got 0"),
        (timedelta(hours=1), 60, "Median", "statistic 'Median' is not one of"),
    ],
    ids=["empty-range", "zero-period", "unknown-statistic"],
)
def test_an_invalid_read_is_refused_and_names_the_metric(
    metrics: MetricsPublisher, start: datetime, case: tuple[timedelta, int, str, str]
) -> None:
    shift, period, statistic, message = case
    with pytest.raises(MetricsError, match=message) as caught:
        metrics.datapoints("Rows", {}, start, start + shift, period, statistic=statistic)
    assert f"metric 'Rows' of namespace {metrics.namespace!r}" in str(caught.value)


def test_an_unanswering_cloudwatch_is_unavailable_by_condition() -> None:
    """The AWS adapter only: the port's error is both the metrics error and the condition."""
    settings = load_settings(target="localstack", endpoint_url=f"http://127.0.0.1:{free_port()}")
    metrics = CloudWatchMetrics(ClientFactory(settings), "MlopsKit/Contract/down")
    with pytest.raises(MetricsUnavailableError, match="publishing metrics Rows to namespace 'MlopsKit/Contract/down'"):
        metrics.publish({"Rows": 1.0}, {})
    with pytest.raises(UnavailableError, match="reading metric 'Rows'"):
        now = datetime.now(UTC)
        metrics.datapoints("Rows", {}, now - timedelta(hours=1), now, 60)
