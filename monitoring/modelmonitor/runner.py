"""One scheduled monitoring run of an endpoint: data quality over the period that just ended, then model quality
over the capture whose ground truth may have arrived. What ``mlops monitor run`` does once and ``mlops monitor
schedule`` does at every tick."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mlops.datasets import DatasetDefinition
from mlops.errors import MonitoringError
from mlops.platform import Platform
from monitoring.modelmonitor.job import DEFAULT_SCHEDULE_NAME, capture_rows, run_data_quality
from monitoring.modelmonitor.quality_job import run_model_quality

QUALITY_LOOKBACK = timedelta(days=90)


def run_tick(
    platform: Platform,
    definition: DatasetDefinition,
    start: datetime,
    end: datetime,
    *,
    endpoint: str | None = None,
    schedule: str = DEFAULT_SCHEDULE_NAME,
    quality_lookback: timedelta = QUALITY_LOOKBACK,
) -> dict[str, Any]:
    """Model quality first (the data-quality report then shows it), then data quality of ``[start, end)``; a job
    with nothing to judge yet is reported as skipped with its reason."""
    name = endpoint or platform.outputs.endpoint_name
    out: dict[str, Any] = {
        "dataset": definition.name,
        "endpoint": name,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    served = capture_rows(platform, definition, name, end - quality_lookback, end)
    try:
        out["model_quality"] = run_model_quality(platform, definition, served, schedule=schedule, now=end)
    except MonitoringError as exc:
        out["model_quality"] = {"skipped": str(exc)}
    rows = capture_rows(platform, definition, name, start, end)
    source_uri = f"{platform.outputs.data_capture_prefix.rstrip('/')}/{name}"
    try:
        out["data_quality"] = run_data_quality(
            platform,
            definition,
            rows,
            source="endpoint",
            input_uri=source_uri,
            schedule=schedule,
            endpoint=name,
            now=end,
        )
    except MonitoringError as exc:
        out["data_quality"] = {"skipped": str(exc)}
    return out
