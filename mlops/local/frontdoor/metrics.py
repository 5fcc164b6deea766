"""SageMaker's endpoint invocation metrics, as the front door publishes them to the emulator's CloudWatch.

Per invocation SageMaker emits, in namespace ``AWS/SageMaker`` with dimensions ``EndpointName`` and
``VariantName``: ``Invocations`` (1), ``Invocation4XXErrors`` and ``Invocation5XXErrors`` (1 when the model
answered 4xx/5xx, else 0: their ``Average`` is the error rate), ``ModelLatency`` (the model's answer time) and
``OverheadLatency`` (the time added around it), both in microseconds.

:class:`EndpointMetrics` aggregates them per minute on the request path (a dict update under a lock) and a
background thread publishes each minute's figures as CloudWatch statistic sets (``SampleCount``, ``Sum``,
``Minimum``, ``Maximum``) with ``PutMetricData`` every ``flush_seconds`` and on shutdown; a partial minute
published twice is two statistic sets with the same timestamp, which CloudWatch aggregates into one period.
Statistic sets carry no percentiles (nor do the emulators compute any), so the aggregator also keeps a bounded
sample of each minute's latencies for three hours, from which :meth:`EndpointMetrics.percentile` answers a
``p99`` the way CloudWatch would over raw values (nearest rank); the local alarm evaluation reads it there.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/SageMaker"
COUNT_METRICS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")
LATENCY_METRICS = ("ModelLatency", "OverheadLatency")
MINUTE = 60
KEEP_SAMPLES_S = 3 * 3600
MAX_SAMPLES_PER_MINUTE = 20_000
PUT_BATCH = 1000  # PutMetricData's limit of datums per call

Publish = Callable[[str, list[dict[str, Any]]], None]
"""``publish(region, metric_data)``: one PutMetricData call in ``region`` (namespace ``AWS/SageMaker``)."""


@dataclass
class StatisticSet:
    """One metric of one variant in one minute."""

    count: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def as_statistic_values(self) -> dict[str, float]:
        return {"SampleCount": float(self.count), "Sum": self.total, "Minimum": self.minimum, "Maximum": self.maximum}


@dataclass
class _Samples:
    """A uniform sample of one minute's latencies (reservoir sampling beyond the cap)."""

    seen: int = 0
    values: list[float] = field(default_factory=list)

    def add(self, value: float, rng: random.Random) -> None:
        self.seen += 1
        if len(self.values) < MAX_SAMPLES_PER_MINUTE:
            self.values.append(value)
            return
        slot = rng.randrange(self.seen)
        if slot < MAX_SAMPLES_PER_MINUTE:
            self.values[slot] = value


Key = tuple[str, str, str, str, int]
"""(region, endpoint, variant, metric, minute start as epoch seconds)."""


def nearest_rank(values: Sequence[float], percentile: float) -> float:
    """The ``percentile`` (0-100) of ``values`` by nearest rank, as CloudWatch computes it on raw values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100.0 * len(ordered)))
    return ordered[rank - 1]


class EndpointMetrics:
    """Per-minute aggregation of invocation metrics and their publication (see the module docs)."""

    def __init__(
        self, publish: Publish, *, flush_seconds: float = 60.0, clock: Callable[[], float] | None = None
    ) -> None:
        import time

        self._publish = publish
        self._flush_seconds = flush_seconds
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._sets: dict[Key, StatisticSet] = {}
        self._samples: dict[Key, _Samples] = {}
        self._rng = random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failed = 0

    def record(
        self, region: str, endpoint: str, variant: str, *, status: int, model_us: float | None, overhead_us: float
    ) -> None:
        """One invocation answered with ``status`` by the model (``model_us`` ``None``: the model never answered,
        counted as a 5xx with no model latency)."""
        minute = int(self._clock()) // MINUTE * MINUTE
        figures = {
            "Invocations": 1.0,
            "Invocation4XXErrors": 1.0 if 400 <= status < 500 else 0.0,
            "Invocation5XXErrors": 1.0 if status >= 500 else 0.0,
            "OverheadLatency": overhead_us,
        }
        if model_us is not None:
            figures["ModelLatency"] = model_us
        with self._lock:
            for metric, value in figures.items():
                key = (region, endpoint, variant, metric, minute)
                cell = self._sets.get(key)
                if cell is None:
                    cell = self._sets[key] = StatisticSet()
                cell.add(value)
                if metric in LATENCY_METRICS:
                    samples = self._samples.get(key)
                    if samples is None:
                        samples = self._samples[key] = _Samples()
                    samples.add(value, self._rng)

    def start(self) -> EndpointMetrics:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="endpoint-metrics", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def flush(self) -> int:
        """Publish every aggregated minute now; returns the number of statistic sets published. A failed call is
        logged and its figures counted in ``failed`` (never raised into a request)."""
        with self._flush_lock:
            with self._lock:
                taken, self._sets = self._sets, {}
                self._forget_old_samples()
            by_region: dict[str, list[dict[str, Any]]] = {}
            for (region, endpoint, variant, metric, minute), cell in taken.items():
                by_region.setdefault(region, []).append(_datum(endpoint, variant, metric, minute, cell))
            done = 0
            for region, data in by_region.items():
                for start in range(0, len(data), PUT_BATCH):
                    chunk = data[start : start + PUT_BATCH]
                    try:
                        self._publish(region, chunk)
                    except Exception as exc:  # the endpoint keeps serving; the loss is counted and logged
                        self.failed += len(chunk)
                        LOG.warning("publishing %d endpoint metrics in %s failed: %s", len(chunk), region, exc)
                        continue
                    done += len(chunk)
            self.published += done
            return done

    def _forget_old_samples(self) -> None:
        horizon = self._clock() - KEEP_SAMPLES_S
        for key in [k for k in self._samples if k[4] < horizon]:
            del self._samples[key]

    def percentile(
        self, endpoint: str, variant: str, metric: str, *, statistic: str, start: float, end: float, period: int
    ) -> list[tuple[float, float]]:
        """``(period start, value)`` of percentile ``statistic`` (``p99``) of ``metric`` per ``period`` in
        ``[start, end)`` (epoch seconds; periods counted from ``start``), from the kept samples of every region."""
        percentile = float(statistic.removeprefix("p"))
        buckets: dict[float, list[float]] = {}
        with self._lock:
            for (_, ep, var, name, minute), samples in self._samples.items():
                if (ep, var, name) != (endpoint, variant, metric) or not start <= minute < end:
                    continue
                bucket = start + (minute - start) // period * period
                buckets.setdefault(bucket, []).extend(samples.values)
        return [(when, nearest_rank(values, percentile)) for when, values in sorted(buckets.items()) if values]

    def close(self) -> None:
        """Stop the publisher and publish what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._flush_seconds + 5)
            self._thread = None
        self.flush()


def _datum(endpoint: str, variant: str, metric: str, minute: int, cell: StatisticSet) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        "Timestamp": datetime.fromtimestamp(minute, tz=UTC),
        "StatisticValues": cell.as_statistic_values(),
        "Unit": "Microseconds" if metric in LATENCY_METRICS else "None",
    }
