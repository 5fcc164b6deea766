"""``MetricsPublisher`` in memory: every value kept, read back per period with CloudWatch's statistics."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from mlops.ports.metrics import Datapoint, check_publish, check_query, is_percentile


def aggregate(values: Sequence[float], statistic: str) -> float:
    """One period's statistic. Percentiles are nearest-rank (the smallest value with at least p% at or below)."""
    if statistic == "Sum":
        return math.fsum(values)
    if statistic == "Average":
        return math.fsum(values) / len(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Maximum":
        return max(values)
    if statistic == "SampleCount":
        return float(len(values))
    if is_percentile(statistic):
        ordered = sorted(values)
        rank = max(1, math.ceil(float(statistic[1:]) / 100 * len(ordered)))
        return ordered[rank - 1]
    raise ValueError(f"unknown statistic {statistic!r}")  # check_query refuses it first


def per_period(
    name: str,
    dims: tuple[tuple[str, str], ...],
    samples: Iterable[tuple[datetime, float]],
    *,
    start: datetime,
    end: datetime,
    period_seconds: int,
    statistic: str,
) -> list[Datapoint]:
    """Samples inside [start, end) grouped into periods from ``start``, each period's statistic, oldest first."""
    periods: dict[int, list[float]] = {}
    for moment, value in samples:
        if start <= moment < end:
            periods.setdefault(int((moment - start).total_seconds() // period_seconds), []).append(value)
    return [
        Datapoint(name, aggregate(values, statistic), start + timedelta(seconds=index * period_seconds), dims)
        for index, values in sorted(periods.items())
    ]


class MemoryMetrics:
    """One namespace's values in a list (thread-safe)."""

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
        check_publish(self.namespace, values, dimensions)
        when = timestamp or datetime.now(UTC)
        dims = tuple(sorted(dimensions.items()))
        new = [Datapoint(n, float(v), when, dims, (units or {}).get(n, "None")) for n, v in values.items()]
        with self._lock:
            self.points.extend(new)

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
        with self._lock:
            chosen = [(p.timestamp, p.value) for p in self.points if p.name == name and p.dimensions == dims]
        return per_period(name, dims, chosen, start=start, end=end, period_seconds=period_seconds, statistic=statistic)
