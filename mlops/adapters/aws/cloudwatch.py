"""``MetricsPublisher`` on CloudWatch: ``PutMetricData`` into the stack's namespace (``outputs.metrics_namespace``),
where dashboards and alarms of the infra program read them; ``GetMetricStatistics`` to read them back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.metrics import Datapoint, MetricsError

_BATCH = 1000  # PutMetricData accepts up to 1000 metrics per call


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
        for start in range(0, len(data), _BATCH):
            chunk = data[start : start + _BATCH]
            try:
                client.put_metric_data(Namespace=self.namespace, MetricData=chunk)
            except (ClientError, BotoCoreError) as exc:
                names = ", ".join(str(item["MetricName"]) for item in chunk)
                raise MetricsError(f"publishing metrics {names} to namespace {self.namespace!r} failed: {exc}") from exc

    def datapoints(
        self, name: str, dimensions: Mapping[str, str], start: datetime, end: datetime, period_seconds: int
    ) -> list[Datapoint]:
        dims = sorted(dimensions.items())
        try:
            answer = self._clients.client("cloudwatch").get_metric_statistics(
                Namespace=self.namespace,
                MetricName=name,
                Dimensions=[{"Name": k, "Value": v} for k, v in dims],
                StartTime=start,
                EndTime=end,
                Period=period_seconds,
                Statistics=["Sum"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise MetricsError(f"reading metric {name} of namespace {self.namespace!r} failed: {exc}") from exc
        points = [
            Datapoint(name, float(p["Sum"]), p["Timestamp"], tuple(dims), str(p.get("Unit", "None")))
            for p in answer.get("Datapoints", [])
        ]
        return sorted(points, key=lambda p: p.timestamp)
