"""``MetricsPublisher`` on CloudWatch: ``PutMetricData`` into the stack's namespace (``outputs.metrics_namespace``),
where dashboards and alarms of the infra program read them; ``GetMetricData`` to read them back.

Why ``GetMetricData`` and not ``GetMetricStatistics``: it counts periods from the request's start time on every
implementation, while moto's ``GetMetricStatistics`` starts its first period at the first datapoint it finds, so
two values in one aligned period could come back in two. Known emulator gaps, checked by the contract suite:
moto matches an empty dimension set as "any dimensions" (CloudWatch and LocalStack match exactly), LocalStack
matches non-empty ones as substrings (supersets match too), and neither computes percentiles (a ``p99`` query
over data fails with HTTP 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, EndpointConnectionError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.metrics import (
    Datapoint,
    MetricsError,
    MetricsThrottledError,
    MetricsUnavailableError,
    check_publish,
    check_query,
)

BATCH = 1000  # PutMetricData accepts up to 1000 values per call
_THROTTLED = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException")


def metrics_error(what: str, exc: Exception) -> MetricsError:
    """The port's error for a botocore exception: throttled, unreachable or refused."""
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        return MetricsUnavailableError(f"{what}: CloudWatch did not answer: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _THROTTLED:
            return MetricsThrottledError(f"{what}: throttled after retries ({code})")
    return MetricsError(f"{what} failed: {exc}")


class CloudWatchMetrics:
    """``MetricsPublisher`` on CloudWatch in one namespace."""

    def __init__(self, clients: ClientFactory, namespace: str) -> None:
        self._clients = clients
        self.namespace = namespace

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        check_publish(self.namespace, values, dimensions)
        units = units or {}
        when = timestamp or datetime.now(UTC)
        dims = [{"Name": name, "Value": value} for name, value in sorted(dimensions.items())]
        data = [
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": when,
                "Value": float(value),
                "Unit": units.get(name, "None"),
            }
            for name, value in values.items()
        ]
        client = self._clients.client("cloudwatch")
        for start in range(0, len(data), BATCH):
            chunk = data[start : start + BATCH]
            try:
                client.put_metric_data(Namespace=self.namespace, MetricData=chunk)
            except (ClientError, BotoCoreError) as exc:
                names = ", ".join(str(item["MetricName"]) for item in chunk[:5]) + (", ..." if len(chunk) > 5 else "")
                raise metrics_error(f"publishing metrics {names} to namespace {self.namespace!r}", exc) from exc

    def datapoints(
        self,
        name: str,
        dimensions: Mapping[str, str],
        start: datetime,
        end: datetime,
        period_seconds: int,
        *,
        statistic: str = "Sum",
    ) -> list[Datapoint]:
        check_query(self.namespace, name, start, end, period=period_seconds, statistic=statistic)
        dims = tuple(sorted(dimensions.items()))
        query = {
            "Id": "m0",
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                },
                "Period": period_seconds,
                "Stat": statistic,
            },
            "ReturnData": True,
        }
        request: dict[str, Any] = {
            "MetricDataQueries": [query],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        values: dict[datetime, float] = {}
        client = self._clients.client("cloudwatch")
        while True:
            try:
                answer = client.get_metric_data(**request)
            except (ClientError, BotoCoreError) as exc:
                raise metrics_error(f"reading metric {name!r} of namespace {self.namespace!r}", exc) from exc
            for result in answer.get("MetricDataResults", []):
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    if value is not None:  # an emulator without the statistic (percentiles) answers null
                        values[_period_of(stamp, start, period_seconds)] = float(value)
            token = answer.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        return [Datapoint(name, value, when, dims) for when, value in sorted(values.items())]


def _period_of(stamp: datetime, start: datetime, period: int) -> datetime:
    """The start of the port's period (counted from ``start``) that holds ``stamp``."""
    offset = (stamp.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
    return start.astimezone(UTC) + timedelta(seconds=int(offset // period) * period)
