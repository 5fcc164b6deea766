"""Metrics port: publish named figures with dimensions into the stack's namespace (CloudWatch, Cloud
Monitoring, memory), where dashboards and alarms read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mlops.ports.errors import PortError


class MetricsError(PortError):
    """Publishing or reading metrics failed; the message names the namespace and the metrics."""


@dataclass(frozen=True)
class Datapoint:
    """One published value."""

    name: str
    value: float
    timestamp: datetime
    dimensions: tuple[tuple[str, str], ...]
    unit: str = "None"


class MetricsPublisher(Protocol):
    """Named figures with dimensions, e.g. ``{"rows_in": 100}`` with ``{"Dataset": "card_transactions"}``."""

    namespace: str

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """Publish each value under its name (``units`` maps a name to a unit; default now)."""
        ...

    def datapoints(
        self, name: str, dimensions: Mapping[str, str], start: datetime, end: datetime, period_seconds: int
    ) -> list[Datapoint]:
        """Values of metric ``name`` with exactly ``dimensions`` in ``[start, end)``, aggregated per period
        as their sum (one datapoint per period that has data), oldest first."""
        ...
