"""Metrics port: publish named figures with dimensions into the stack's namespace (CloudWatch, Cloud
Monitoring, memory), where dashboards and alarms read them, and read them back per period.

The contract every implementation keeps (``tests/contract/test_metrics.py``): a metric is identified by its
namespace, name and its *exact* set of dimensions (publishing with ``{"Dataset": "d"}`` and reading with ``{}``
are two different metrics, as CloudWatch has it); values read back are aggregated per period with a statistic;
invalid requests are refused with :class:`MetricsError` before anything is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mlops.ports.errors import PortError, ThrottledError, UnavailableError

STANDARD_STATISTICS: tuple[str, ...] = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DIMENSIONS = 30  # CloudWatch's limit per metric
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")


class MetricsError(PortError):
    """Publishing or reading metrics failed, or the request was invalid; the message names the namespace and
    the metrics."""


class MetricsThrottledError(MetricsError, ThrottledError):
    """The metrics service refused the call for rate, and the retries did not help."""


class MetricsUnavailableError(MetricsError, UnavailableError):
    """The metrics service (or emulator) did not answer."""


@dataclass(frozen=True)
class Datapoint:
    """One value: a published one, or (read back) one period's statistic with the period's start as timestamp."""

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
        """Publish each value under its name (``units`` maps a name to a unit; default now). Any number of values:
        the implementation batches them as its service requires."""
        ...

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
        """Values of metric ``name`` with exactly ``dimensions`` in ``[start, end)``, aggregated per period with
        ``statistic`` (``Sum``, ``Average``, ``Minimum``, ``Maximum``, ``SampleCount`` or a percentile ``p99``):
        one datapoint per period that has data, stamped with the period's start, oldest first. Periods are
        counted from ``start``; pass a ``start`` aligned to a multiple of the period (CloudWatch rounds others)."""
        ...


def is_percentile(statistic: str) -> bool:
    """``p50``, ``p99``, ``p99.9`` ..."""
    return bool(_PERCENTILE.match(statistic))


def check_publish(namespace: str, values: Mapping[str, float], dimensions: Mapping[str, str]) -> None:
    """Refuse what CloudWatch refuses (empty names, more than 30 dimensions, empty dimension values, non-finite
    values), before any value of the call is sent: a call publishes all its values or none."""
    if not namespace:
        raise MetricsError("the metrics namespace is empty")
    if len(dimensions) > MAX_DIMENSIONS:
        raise MetricsError(
            f"namespace {namespace!r}: {len(dimensions)} dimensions given, at most {MAX_DIMENSIONS} per metric"
        )
    empty = sorted(k for k, v in dimensions.items() if not k or not v)
    if empty:
        raise MetricsError(f"namespace {namespace!r}: dimension(s) {empty} have an empty name or value")
    bad = sorted(str(name) for name, value in values.items() if not name or not math.isfinite(float(value)))
    if bad:
        raise MetricsError(f"namespace {namespace!r}: metric(s) {bad} have an empty name or a non-finite value")


def check_query(namespace: str, name: str, start: datetime, end: datetime, *, period: int, statistic: str) -> None:
    """Refuse a read that no implementation can answer (the message names the metric)."""
    what = f"metric {name!r} of namespace {namespace!r}"
    if start.tzinfo is None or end.tzinfo is None:
        raise MetricsError(f"{what}: start and end must carry a time zone (got {start!r}, {end!r})")
    if start >= end:
        raise MetricsError(f"{what}: start {start.isoformat()} is not before end {end.isoformat()}")
    if period <= 0:
        raise MetricsError(f"{what}: period must be positive seconds, got {period}")
    if statistic not in STANDARD_STATISTICS and not is_percentile(statistic):
        raise MetricsError(
            f"{what}: statistic {statistic!r} is not one of {', '.join(STANDARD_STATISTICS)} or a percentile pNN"
        )
