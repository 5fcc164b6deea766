"""``MetricsPublisher`` on Cloud Monitoring (``target: gcp``): the port's figures as custom metrics, read back with
``timeSeries.list``.

**Names.** A metric ``name`` of namespace ``N`` is the metric type ``custom.googleapis.com/N/name`` (the stack's
namespace gives the ``metric_type_prefix`` output, ``custom.googleapis.com/MLOpsKit/<env>``, where the infra
program's alert policies and dashboard look); its dimensions are metric labels, keyed in lower snake case
(``EndpointName`` -> ``endpoint_name``: label keys are lower-case letters, digits and underscores), on the
``global`` monitored resource. Values are ``GAUGE`` ``DOUBLE`` points; the descriptor is created by the first
write (with the point's unit, mapped to UCUM: ``Count`` -> ``1``, ``Seconds`` -> ``s`` ...).

**Cloud Monitoring's limits, and what the adapter does about them** (documented quotas of custom metrics):

- 200 time series per ``CreateTimeSeries`` request, one point per series per request: a call's values (one
  series per name) are sent in requests of 200;
- 30 labels per metric descriptor: the port's 30 dimensions (``check_publish``);
- the end times of a series' points at least 5 s apart, written in order. The adapter remembers, per process,
  when it last wrote each series. A value stamped *now* (no ``timestamp``) that comes sooner waits out the rest of
  the 5 s before the call is sent (at most 5 s, for a figure published twice in a row); a value with an explicit
  ``timestamp`` within 5 s after (or before) the last one is refused before anything of the call is sent, naming
  the series: sleeping does not move a given timestamp. Writes of other processes are refused by the service
  (``InvalidArgument``), reported as :class:`MetricsError` naming the metrics;
- points older than 25 hours are refused by the service (the same error).

**Reading.** ``datapoints`` reads the series whose labels are exactly the dimensions (the port's exact match: the
filter selects the label values, series with further labels are dropped). The standard statistics are Cloud
Monitoring's aligners (``Sum`` ALIGN_SUM, ``Average`` ALIGN_MEAN, ``Minimum`` ALIGN_MIN, ``Maximum`` ALIGN_MAX,
``SampleCount`` ALIGN_COUNT) with the period as alignment period, when the period is at least 60 s (the service's
minimum) and ``[start, end)`` holds whole periods; otherwise, and for percentiles (Cloud Monitoring's percentile
aligners take distribution values only, the kit writes doubles), the raw points are read and aggregated per period
as the other stores do (:func:`mlops.adapters.memory.metrics.per_period`). A Google service's own metric
(``metrics_in("aiplatform.googleapis.com/prediction/online")``: Vertex's latencies are distributions) is aligned by
Cloud Monitoring, percentiles included (``p99`` ALIGN_PERCENTILE_99, ``p95``, ``p50``, ``p5``). An aligned point is
stamped by Cloud Monitoring at the end of its period; it is returned at the period's start. Cloud Monitoring's
periods are closed at their end, the port's at their start: a point exactly on a period boundary is counted one
period earlier on the aligned path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.memory.metrics import per_period
from mlops.alert_policies import ALIGNERS, METRIC_PREFIX, Series, label_set, metric_filter, metric_type_of
from mlops.errors import EmulatorError
from mlops.ports.metrics import (
    STANDARD_STATISTICS,
    Datapoint,
    MetricsError,
    MetricsThrottledError,
    MetricsUnavailableError,
    check_publish,
    check_query,
)

BATCH = 200  # time series per CreateTimeSeries request
MIN_SPACING = timedelta(seconds=5)  # between the end times of one series' points
MIN_ALIGNMENT = 60  # seconds: the shortest alignment period timeSeries.list takes
UNITS = {
    "Count": "1",
    "Seconds": "s",
    "Milliseconds": "ms",
    "Microseconds": "us",
    "Bytes": "By",
    "Kilobytes": "kBy",
    "Megabytes": "MBy",
    "Percent": "%",
    "Count/Second": "1/s",
}


def metrics_error(what: str, exc: Exception) -> MetricsError:
    """The port's error for a Google API exception: throttled, unreachable or refused."""
    if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted):
        return MetricsThrottledError(f"{what}: throttled after retries: {exc}")
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return MetricsUnavailableError(f"{what}: Cloud Monitoring did not answer: {exc}")
    return MetricsError(f"{what} failed: {exc}")


class CloudMonitoringMetrics:
    """``MetricsPublisher`` (and the alert policies' series reader) on Cloud Monitoring, for one namespace."""

    def __init__(
        self,
        clients: GcpClients,
        namespace: str,
        *,
        service: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self.namespace = namespace
        self._service = service
        self._clock = clock
        self._sleep = sleep
        self._last: dict[tuple[str, Series], datetime] = {}
        self._lock = threading.RLock()

    def service(self) -> Any:
        """The ``MetricServiceClient`` (Application Default Credentials), made on first use."""
        with self._lock:
            if self._service is None:
                self._service = metric_service(self._clients)
            return self._service

    @property
    def project_path(self) -> str:
        return f"projects/{self._clients.project}"

    def metric_type(self, name: str) -> str:
        return metric_type_of(self.namespace, name)

    # --- writing ---

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        check_publish(self.namespace, values, dimensions)
        try:
            labels = label_set(dimensions)
        except MetricsError as exc:
            raise MetricsError(f"namespace {self.namespace!r}: {exc}") from None
        keys = [(self.metric_type(name), tuple(sorted(labels.items()))) for name in values]
        with self._lock:  # one writer per process at a time: the spacing check and the write stay together
            when = self._moment(keys, timestamp)
            series = [
                self.time_series(name, value, labels, when, (units or {}).get(name)) for name, value in values.items()
            ]
            for start in range(0, len(series), BATCH):
                self._create(series[start : start + BATCH])
            self._last.update(dict.fromkeys(keys, when))

    def _moment(self, keys: list[tuple[str, Series]], timestamp: datetime | None) -> datetime:
        """The points' end time: ``timestamp``, refused within 5 s of a series' last point; or now, after waiting
        out the rest of the 5 s of the series written last."""
        latest = max((self._last[k] for k in keys if k in self._last), default=None)
        if timestamp is not None:
            if latest is not None and timestamp < latest + MIN_SPACING:
                late = [f"{t} {dict(labels)}" for t, labels in keys if self._last.get((t, labels)) == latest]
                raise MetricsError(
                    f"namespace {self.namespace!r}: {', '.join(late)} last written at {latest.isoformat()}: Cloud "
                    f"Monitoring takes one point per series each 5 s, in order; {timestamp.isoformat()} is refused"
                )
            return timestamp
        now = self._clock()
        if latest is not None and now < latest + MIN_SPACING:
            self._sleep((latest + MIN_SPACING - now).total_seconds())
            now = max(self._clock(), latest + MIN_SPACING)
        return now

    def time_series(
        self, name: str, value: float, labels: Mapping[str, str], when: datetime, unit: str | None
    ) -> dict[str, Any]:
        """One ``TimeSeries`` of a ``CreateTimeSeries`` request: one point on the global resource."""
        series: dict[str, Any] = {
            "metric": {"type": self.metric_type(name), "labels": dict(labels)},
            "resource": {"type": "global", "labels": {"project_id": self._clients.project}},
            "metric_kind": "GAUGE",
            "value_type": "DOUBLE",
            "points": [{"interval": {"end_time": when}, "value": {"double_value": float(value)}}],
        }
        if unit and unit in UNITS:
            series["unit"] = UNITS[unit]
        return series

    def _create(self, series: list[dict[str, Any]]) -> None:
        try:
            self.service().create_time_series(request={"name": self.project_path, "time_series": series})
        except google_errors.GoogleAPIError as exc:
            names = ", ".join(s["metric"]["type"] for s in series[:5]) + (", ..." if len(series) > 5 else "")
            raise metrics_error(f"namespace {self.namespace!r}: writing {names}", exc) from exc

    # --- reading ---

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
        labels = label_set(dimensions)
        found = self._read(Query(name, labels, start, end, period_seconds, statistic, self.metric_type(name)))
        points = found.get(tuple(sorted(labels.items())), [])
        dims = tuple(sorted(dimensions.items()))
        return [Datapoint(name, p.value, p.timestamp, dims) for p in points]

    def series(
        self,
        name: str,
        labels: Mapping[str, str],
        start: datetime,
        end: datetime,
        period_seconds: int,
        *,
        statistic: str,
    ) -> dict[Series, list[Datapoint]]:
        """Every series of the metric whose labels include ``labels`` (an alert policy's filter)."""
        check_query(self.namespace, name, start, end, period=period_seconds, statistic=statistic)
        query = Query(name, dict(labels), start, end, period_seconds, statistic, self.metric_type(name))
        return self._read(query)

    def list_request(self, query: Query) -> dict[str, Any]:
        """The ``ListTimeSeries`` request: aligned by Cloud Monitoring where it can give the port's answer, raw
        points otherwise (see the module docs)."""
        request: dict[str, Any] = {
            "name": self.project_path,
            "filter": metric_filter(query.metric_type, query.labels),
            "view": "FULL",
        }
        if query.aligned:
            request["interval"] = {"start_time": query.start, "end_time": query.end}
            aligner = ALIGNERS[query.statistic]
            request["aggregation"] = {"alignment_period": {"seconds": query.period}, "per_series_aligner": aligner}
        else:  # raw points; the interval is closed at both ends on reads: one second more before, cut below
            request["interval"] = {"start_time": query.start - timedelta(seconds=1), "end_time": query.end}
        return request

    def _read(self, query: Query) -> dict[Series, list[Datapoint]]:
        request = self.list_request(query)
        try:
            listed = list(self.service().list_time_series(request=request))
        except google_errors.GoogleAPIError as exc:
            raise metrics_error(f"reading metric {query.name!r} of namespace {self.namespace!r}", exc) from exc
        found: dict[Series, list[Datapoint]] = {}
        for series in listed:
            key = tuple(sorted(dict(series.metric.labels).items()))
            samples = [(_end_time(p), _number(p)) for p in series.points]
            found[key] = query.per_period(key, samples)
        return {key: points for key, points in found.items() if points}


@dataclass(frozen=True)
class Query:
    """One read: a metric, the labels its series must carry, the window, the period and the statistic."""

    name: str
    labels: Mapping[str, str]
    start: datetime
    end: datetime
    period: int
    statistic: str
    metric_type: str

    @property
    def aligned(self) -> bool:
        """Whether Cloud Monitoring's aligner gives the port's answer for this read."""
        whole = (self.end - self.start).total_seconds() % self.period == 0
        return self.period >= MIN_ALIGNMENT and whole and (self.statistic in STANDARD_STATISTICS or self.service_metric)

    @property
    def service_metric(self) -> bool:
        """A Google service's own metric (Vertex's latencies are distributions): its percentiles are aligned by
        Cloud Monitoring (ALIGN_PERCENTILE_99 ...); the kit's custom metrics are doubles, read raw."""
        return self.metric_type.split("/", 1)[0] != METRIC_PREFIX and self.statistic in ALIGNERS

    def per_period(self, key: Series, samples: Iterable[tuple[datetime, float]]) -> list[Datapoint]:
        """The port's datapoints of one listed series: aligned points (stamped at their period's end) moved to
        their period's start; raw points aggregated per period."""
        if not self.aligned:
            return per_period(
                self.name,
                key,
                samples,
                start=self.start,
                end=self.end,
                period_seconds=self.period,
                statistic=self.statistic,
            )
        step = timedelta(seconds=self.period)
        start = self.start.astimezone(UTC)
        out: dict[datetime, float] = {}
        for stamp, value in samples:
            index = int((stamp.astimezone(UTC) - step - start).total_seconds() // self.period)
            moment = start + index * step
            if self.start <= moment < self.end:
                out[moment] = value
        return [Datapoint(self.name, value, moment, key) for moment, value in sorted(out.items())]


def metric_service(clients: GcpClients) -> Any:
    """Cloud Monitoring's metric client for ``target: gcp``; refused on the emulators (Cloud Monitoring has none:
    metrics type ``local`` is the kit's store in the Firestore emulator)."""
    if clients.is_emulated:
        raise EmulatorError(
            "Cloud Monitoring has no emulator (target 'gcp-emulators'): choose metrics type 'local', the kit's store "
            "in the Firestore emulator (MLOPS_SERVICES__METRICS__TYPE=local)"
        )
    from google.cloud import monitoring_v3

    return monitoring_v3.MetricServiceClient()


def _end_time(point: Any) -> datetime:
    stamp: datetime = point.interval.end_time
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _number(point: Any) -> float:
    """A point's value: doubles as written, int64 from ALIGN_COUNT."""
    from google.cloud import monitoring_v3

    kind = monitoring_v3.TypedValue.pb(point.value).WhichOneof("value") or "double_value"
    if kind not in ("double_value", "int64_value", "bool_value"):
        raise MetricsError(f"a {kind} point has no single value: read it with an aligner (a percentile statistic)")
    return float(getattr(point.value, kind))
