"""``MetricsPublisher`` in memory: every datapoint kept, read back summed per period like CloudWatch's ``Sum``."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from mlops.ports.metrics import Datapoint


class MemoryMetrics:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.points: list[Datapoint] = []
        self._lock = threading.Lock()

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        when = timestamp or datetime.now(UTC)
        dims = tuple(sorted(dimensions.items()))
        new = [Datapoint(n, float(v), when, dims, (units or {}).get(n, "None")) for n, v in values.items()]
        with self._lock:
            self.points.extend(new)

    def datapoints(
        self, name: str, dimensions: Mapping[str, str], start: datetime, end: datetime, period_seconds: int
    ) -> list[Datapoint]:
        dims = tuple(sorted(dimensions.items()))
        sums: dict[datetime, float] = {}
        with self._lock:
            chosen = [p for p in self.points if p.name == name and p.dimensions == dims and start <= p.timestamp < end]
        for point in chosen:
            offset = int((point.timestamp - start).total_seconds()) // period_seconds * period_seconds
            bucket = datetime.fromtimestamp(start.timestamp() + offset, UTC)
            sums[bucket] = sums.get(bucket, 0.0) + point.value
        return [Datapoint(name, value, when, dims) for when, value in sorted(sums.items())]
