"""Metrics: publish named figures with dimensions.

``MetricsPublisher`` is the interface; ``CloudWatchMetrics`` puts them into the stack's CloudWatch namespace
(``outputs.metrics_namespace``), where dashboards and alarms of the infra program read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mlops.clients import ClientFactory
from mlops.errors import MlopsError

_BATCH = 1000  # PutMetricData accepts up to 1000 metrics per call


class MetricsError(MlopsError):
    """Publishing metrics failed; the message names the namespace and the metrics."""


class MetricsPublisher(Protocol):
    """Named figures with dimensions, e.g. ``{"rows_in": 100}`` with ``{"Dataset": "card_transactions"}``."""

    def publish(
        self, values: Mapping[str, float], dimensions: Mapping[str, str], units: Mapping[str, str] | None = None
    ) -> None:
        """Publish each value under its name; ``units`` maps a name to a CloudWatch unit (default ``None``)."""
        ...


class CloudWatchMetrics:
    """``MetricsPublisher`` on CloudWatch ``PutMetricData`` in one namespace."""

    def __init__(self, clients: ClientFactory, namespace: str) -> None:
        self._clients = clients
        self.namespace = namespace

    def publish(
        self, values: Mapping[str, float], dimensions: Mapping[str, str], units: Mapping[str, str] | None = None
    ) -> None:
        units = units or {}
        now = datetime.now(UTC)
        dims = [{"Name": name, "Value": value} for name, value in sorted(dimensions.items())]
        data = [
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": now,
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
