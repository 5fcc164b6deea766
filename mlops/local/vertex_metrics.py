"""What Vertex AI publishes for an online endpoint, published by the local endpoint (``target: gcp-emulators``) into
the local metrics store (:mod:`mlops.local.gcp_metrics`), so the stack's endpoint alert policies are judged on local
Google Cloud as on Vertex (:mod:`mlops.local.gcp_alert_runner`).

Per request through the endpoint port, under Vertex's metric types ``aiplatform.googleapis.com/prediction/online/``
with the labels ``endpoint_id`` (the filter's ``resource.label.endpoint_id``) and ``deployed_model_id``:
``prediction_count`` (1 for an answered request, else 0), ``error_count`` (1 for a refused or unanswered request,
else 0; both written on every request, so a quiet error series reads 0, not "no data") and, for an answered one,
``prediction_latencies`` in milliseconds (Vertex's is a distribution; the store keeps each value, which the
local evaluation aggregates per period, percentiles included). A request that finds no deployed model publishes
nothing (Vertex answers it before any deployed model). A figure that cannot be stored is logged and dropped: the
prediction has been answered.
"""

from __future__ import annotations

import logging

from mlops.local.gcp_metrics import FirestoreEmulatorMetrics
from mlops.platform import Platform
from mlops.ports.metrics import MetricsError

log = logging.getLogger(__name__)
NAMESPACE = "aiplatform.googleapis.com/prediction/online"


def request_metrics(platform: Platform) -> FirestoreEmulatorMetrics | None:
    """Where the endpoint's metrics go: the local store, ``None`` when no Firestore emulator is set or recorded
    (endpoints serve without the emulators; then nothing is published, as nothing could evaluate it)."""
    from mlops.wiring import gcp_client_factory

    clients = gcp_client_factory(platform.settings)
    return FirestoreEmulatorMetrics(clients, NAMESPACE) if clients.hosts.firestore else None


def publish_request(
    metrics: FirestoreEmulatorMetrics | None, endpoint_id: str, deployed_model_id: str, *, ok: bool, latency_ms: float
) -> None:
    """Record one request to a local Vertex endpoint as Vertex's endpoint metrics."""
    if metrics is None:
        return
    values = {"prediction_count": float(ok), "error_count": float(not ok)}
    units = {"prediction_count": "1", "error_count": "1"}
    if ok:
        values["prediction_latencies"] = latency_ms
        units["prediction_latencies"] = "ms"
    labels = {"endpoint_id": endpoint_id, "deployed_model_id": deployed_model_id}
    try:
        metrics.publish(values, labels, units)
    except MetricsError as exc:
        log.warning("endpoint %s: Vertex's request metrics were not stored: %s", endpoint_id, exc)
