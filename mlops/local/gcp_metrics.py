"""Metrics for ``cloud: gcp`` on Google's emulators: Cloud Monitoring has no emulator, so the kit keeps the figures in
the Firestore emulator with the metrics port's (CloudWatch's) semantics, as the alarm runner plays CloudWatch's
evaluation on moto.

One document per published value in the ``metrics`` collection: namespace, name, the exact dimension set (sorted
``key=value`` pairs joined, so ``{}`` and ``{"Dataset": "d"}`` are two metrics), value, unit and timestamp. A read
queries one metric's values in ``[start, end)`` and aggregates them per period with the in-memory fake's
statistics (:func:`mlops.adapters.memory.metrics.aggregate`). Every process of a local stack sees the same figures.

It is also what the local alert-policy runner reads (:mod:`mlops.local.gcp_alert_runner`): :meth:`series` lists every
series of a metric whose labels (the dimensions keyed as Cloud Monitoring labels) include a policy filter's, as
Cloud Monitoring selects series for a condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.memory.metrics import per_period
from mlops.alert_policies import Series, label_set
from mlops.ports.metrics import Datapoint, MetricsError, MetricsUnavailableError, check_publish, check_query

COLLECTION = "metrics"
WRITE_BATCH = 500  # Firestore's limit of writes per batch


def _dimension_key(dimensions: Mapping[str, str]) -> str:
    return "\x1f".join(f"{k}={v}" for k, v in sorted(dimensions.items()))


def _dimensions_of(key: str) -> dict[str, str]:
    """The dimensions a stored key was made of (a dimension's name holds no ``=``: the first one splits)."""
    return dict(pair.split("=", 1) for pair in key.split("\x1f")) if key else {}


class FirestoreEmulatorMetrics:
    """``MetricsPublisher`` for one namespace, stored in the Firestore emulator."""

    def __init__(self, clients: GcpClients, namespace: str, collection: str = COLLECTION) -> None:
        self._clients = clients
        self.namespace = namespace
        self.collection = collection

    def _error(self, action: str, exc: Exception) -> MetricsError:
        where = f"namespace {self.namespace!r}: {action}"
        if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
            return MetricsUnavailableError(f"{where}: the Firestore emulator did not answer: {exc}")
        return MetricsError(f"{where} failed: {exc}")

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        check_publish(self.namespace, values, dimensions)
        when = timestamp or datetime.now(UTC)
        key = _dimension_key(dimensions)
        rows = [
            {
                "namespace": self.namespace,
                "name": name,
                "dimensions": key,
                "value": float(value),
                "unit": (units or {}).get(name, "None"),
                "timestamp": when,
            }
            for name, value in values.items()
        ]
        client = self._clients.firestore()
        collection = client.collection(self.collection)
        try:
            for start in range(0, len(rows), WRITE_BATCH):
                batch = client.batch()
                for row in rows[start : start + WRITE_BATCH]:
                    batch.set(collection.document(), row)
                batch.commit()
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"publishing {sorted(values)}", exc) from exc

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
        samples = [(row["timestamp"], row["value"]) for row in self._rows(name, _dimension_key(dimensions))]
        dims = tuple(sorted(dimensions.items()))
        return per_period(name, dims, samples, start=start, end=end, period_seconds=period_seconds, statistic=statistic)

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
        """Per-period values of every series of ``name`` whose labels include ``labels`` (keyed by the series'
        labels), as an alert policy's filter selects them; series without data in ``[start, end)`` are left out."""
        check_query(self.namespace, name, start, end, period=period_seconds, statistic=statistic)
        grouped: dict[Series, list[tuple[datetime, float]]] = {}
        for row in self._rows(name, None):
            series_labels = label_set(_dimensions_of(str(row["dimensions"])))
            if all(series_labels.get(k) == v for k, v in labels.items()):
                grouped.setdefault(tuple(sorted(series_labels.items())), []).append((row["timestamp"], row["value"]))
        found: dict[Series, list[Datapoint]] = {}
        for key, samples in grouped.items():
            found[key] = per_period(
                name, key, samples, start=start, end=end, period_seconds=period_seconds, statistic=statistic
            )
        return {key: points for key, points in found.items() if points}

    def _rows(self, name: str, dimension_key: str | None) -> list[dict[str, Any]]:
        """The metric's values, of one dimension set or of all (equality filters only: the emulator needs no
        composite index for them)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._clients.firestore().collection(self.collection)
        wanted = [("namespace", self.namespace), ("name", name)]
        if dimension_key is not None:
            wanted.append(("dimensions", dimension_key))
        for field, value in wanted:
            query = query.where(filter=FieldFilter(field, "==", value))
        try:
            return [snapshot.to_dict() for snapshot in query.stream()]
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"reading metric {name!r}", exc) from exc
