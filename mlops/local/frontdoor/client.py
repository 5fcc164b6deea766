"""The local runtime's side of the front door's own API: flush its buffers, and read endpoint latency
percentiles that no emulator computes (:class:`FrontDoorMetrics`, the ``AWS/SageMaker`` metrics source of the
local alarm runner)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlops.local.frontdoor.metrics import NAMESPACE
from mlops.local.state import read_state
from mlops.ports.metrics import Datapoint, MetricsError, MetricsPublisher, check_query, is_percentile
from mlops.settings import Settings

if TYPE_CHECKING:  # `frontdoor_url` serves `mlops predict`, which loads no botocore (the CloudWatch adapter does)
    from mlops.adapters.aws.clients import ClientFactory


def frontdoor_url(settings: Settings) -> str | None:
    """The recorded front door of the settings' emulator, ``None`` when none runs there."""
    state = read_state(settings.emulator_dir)
    return state.frontdoor_url if state is not None else None


def flush(url: str, timeout: float = 30.0) -> dict[str, int]:
    """Make the front door publish its metrics and write its capture now; returns how many of each."""
    # Imported on first use (it brings httpx), as the CloudWatch adapter: `frontdoor_url` serves `mlops predict`.
    from mlops.local import loopback

    answer = loopback.post(url + "/_mlops/flush", timeout=timeout)
    answer.raise_for_status()
    counts: dict[str, int] = answer.json()
    return counts


class FrontDoorMetrics:
    """``MetricsPublisher`` of namespace ``AWS/SageMaker`` on the emulator: the standard statistics from its
    CloudWatch (where the front door publishes them), percentiles of an endpoint variant's latency from the front
    door's kept samples."""

    namespace = NAMESPACE

    def __init__(self, clients: ClientFactory, url: str) -> None:
        from mlops.adapters.aws.cloudwatch import CloudWatchMetrics

        self._cloudwatch = CloudWatchMetrics(clients, NAMESPACE)
        self.url = url

    def publish(
        self,
        values: Mapping[str, float],
        dimensions: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        self._cloudwatch.publish(values, dimensions, units, timestamp)

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
        endpoint, variant = dimensions.get("EndpointName"), dimensions.get("VariantName")
        if not is_percentile(statistic) or not endpoint or not variant or len(dimensions) != 2:
            return self._cloudwatch.datapoints(name, dimensions, start, end, period_seconds, statistic=statistic)
        check_query(NAMESPACE, name, start, end, period=period_seconds, statistic=statistic)
        query = {
            "endpoint": endpoint,
            "variant": variant,
            "metric": name,
            "statistic": statistic,
            "start": str(start.timestamp()),
            "end": str(end.timestamp()),
            "period": str(period_seconds),
        }
        import httpx

        from mlops.local import loopback

        try:
            answer = loopback.get(self.url + "/_mlops/percentile", params=query, timeout=10.0)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise MetricsError(
                f"reading {statistic} of {name} of endpoint {endpoint} from the front door: {exc}"
            ) from exc
        dims = tuple(sorted(dimensions.items()))
        return [Datapoint(name, float(v), datetime.fromtimestamp(t, tz=UTC), dims) for t, v in answer.json()]


def endpoint_metrics_sources(settings: Settings, clients: ClientFactory) -> dict[str, MetricsPublisher]:
    """The local alarm runner's source for ``AWS/SageMaker`` when a front door runs (else none: the emulator's)."""
    url = frontdoor_url(settings)
    return {NAMESPACE: FrontDoorMetrics(clients, url)} if url else {}
