"""The front door's parts that need no process: routing tables, the metrics aggregate, event-stream framing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from mlops.local.frontdoor.app import signed_for
from mlops.local.frontdoor.eventstream import encode_event
from mlops.local.frontdoor.metrics import EndpointMetrics, nearest_rank
from mlops.local.frontdoor.routing import (
    EndpointTable,
    Fleet,
    RoutingTableError,
    TableCache,
    read_table,
    table_path,
    write_table,
)


def _fleet(name: str, weight: float, version: str = "1") -> Fleet:
    return Fleet(name, "AllTraffic", 100, "127.0.0.1", 9000, f"models:/m/{version}", version, weight, 0.0, "")


def test_a_table_round_trips_and_the_cache_sees_every_replacement(tmp_path: Path) -> None:
    cache = TableCache(tmp_path)
    assert cache.get("ep") is None
    first = EndpointTable("ep", (_fleet("blue", 1.0),))
    write_table(tmp_path, first)
    assert cache.get("ep") == first == read_table(tmp_path, "ep")
    for share in (0.1, 0.5, 1.0):  # written faster than the clock ticks: the inode tells them apart
        write_table(tmp_path, EndpointTable("ep", (_fleet("blue", 1 - share), _fleet("green", share, "2"))))
        table = cache.get("ep")
        assert table is not None and table.fleet("green") == _fleet("green", share, "2")
    assert cache.get("../etc") is None


def test_weights_split_the_traffic_and_a_target_variant_narrows_it() -> None:
    table = EndpointTable("ep", (_fleet("blue", 0.75), _fleet("green", 0.25, "2")))
    rng = random.Random(3)
    drawn = [table.choose(rng).fleet for _ in range(4000)]  # type: ignore[union-attr]
    assert 850 < drawn.count("green") < 1150
    assert table.choose(rng, excluding=frozenset({"blue"})) == table.fleet("green")
    assert table.choose(rng, variant="Other") is None
    assert table.primary.fleet == "blue"
    assert table.with_weights({"blue": 0.0}).choose(rng) == table.fleet("green")


def test_a_route_file_of_the_single_process_runner_reads_as_one_fleet(tmp_path: Path) -> None:
    legacy = '{"endpoint": "ep", "pid": 7, "host": "127.0.0.1", "port": 1, "model_uri": "m", "version": "3",'
    table_path(tmp_path, "ep").write_text(legacy + ' "started_at": 1.0, "log_file": ""}')
    table = read_table(tmp_path, "ep")
    assert table is not None and (table.primary.pid, table.primary.weight, table.primary.variant) == (
        7,
        1.0,
        "AllTraffic",
    )
    table_path(tmp_path, "bad").write_text("{")
    with pytest.raises(RoutingTableError, match=r"bad\.json is corrupt"):
        read_table(tmp_path, "bad")


def test_metrics_are_statistic_sets_per_minute_and_variant() -> None:
    published: list[tuple[str, list[dict[str, Any]]]] = []
    now = [1_795_900_000.0 + 5]  # 5 s into a minute
    metrics = EndpointMetrics(lambda region, data: published.append((region, data)), clock=lambda: now[0])
    for status, model_us in ((200, 1000.0), (200, 3000.0), (500, 2000.0), (404, 500.0)):
        metrics.record("eu-west-1", "ep", "AllTraffic", status=status, model_us=model_us, overhead_us=100.0)
    now[0] += 60
    metrics.record("eu-west-1", "ep", "AllTraffic", status=200, model_us=10.0, overhead_us=1.0)

    assert metrics.flush() == 10
    ((region, data),) = published
    by_key = {(d["MetricName"], d["Timestamp"]): d for d in data}
    minute = datetime.fromtimestamp(1_795_900_000 - 1_795_900_000 % 60, tz=UTC)
    assert region == "eu-west-1"
    assert by_key[("Invocations", minute)]["StatisticValues"] == {
        "SampleCount": 4.0,
        "Sum": 4.0,
        "Minimum": 1.0,
        "Maximum": 1.0,
    }
    assert by_key[("Invocation5XXErrors", minute)]["StatisticValues"]["Sum"] == 1.0
    assert by_key[("Invocation4XXErrors", minute)]["StatisticValues"]["Sum"] == 1.0
    latency = by_key[("ModelLatency", minute)]
    assert latency["Unit"] == "Microseconds" and latency["StatisticValues"]["Maximum"] == 3000.0
    assert {d["Name"]: d["Value"] for d in latency["Dimensions"]} == {"EndpointName": "ep", "VariantName": "AllTraffic"}
    assert metrics.flush() == 0  # published once


def test_latency_percentiles_are_kept_after_publishing() -> None:
    now = [1_795_900_020.0]
    metrics = EndpointMetrics(lambda region, data: None, clock=lambda: now[0])
    for value in range(1, 101):
        metrics.record("r", "ep", "v", status=200, model_us=float(value), overhead_us=1.0)
    metrics.flush()
    minute = 1_795_900_020 - 1_795_900_020 % 60
    points = metrics.percentile("ep", "v", "ModelLatency", statistic="p99", start=minute, end=minute + 60, period=60)
    assert points == [(minute, 99.0)]
    assert nearest_rank([5.0, 1.0, 3.0], 50) == 3.0


def test_a_failed_publication_is_counted_not_raised() -> None:
    def broken(region: str, data: list[dict[str, Any]]) -> None:
        raise OSError("cloudwatch down")

    metrics = EndpointMetrics(broken)
    metrics.record("r", "ep", "v", status=200, model_us=1.0, overhead_us=1.0)
    assert metrics.flush() == 0 and metrics.failed == 5


def test_payload_parts_decode_as_botocore_reads_them() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_event("PayloadPart", b'{"a": 1}') + encode_event("PayloadPart", b""))
    messages = list(buffer)
    assert [m.payload for m in messages] == [b'{"a": 1}', b""]
    assert messages[0].headers[":event-type"] == "PayloadPart"


def test_the_signing_scope_names_region_and_service() -> None:
    header = "AWS4-HMAC-SHA256 Credential=test/20261129/eu-west-1/sagemaker/aws4_request, SignedHeaders=host"
    assert signed_for(header) == ("eu-west-1", "sagemaker")
    assert signed_for("") is None
