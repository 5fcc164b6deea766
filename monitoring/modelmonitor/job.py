"""The data-quality monitoring job: what the endpoint served (its data capture) or what a batch inference
scored, judged against the champion's drift-check baseline, with Model Monitor's outputs.

One run:

1. reads the baseline the champion was registered with (version tags ``baseline_statistics_uri`` /
   ``baseline_constraints_uri``, written by the training pipeline's Evaluate step);
2. reads the rows: the endpoint's capture in ``[start, end)`` (:func:`mlops.capture.read_capture`, SageMaker's
   layout) or the newest batch predictions file of the dataset;
3. checks them (:func:`monitoring.modelmonitor.checks.check`; calendar features are excluded from drift, as
   Model Monitor's ``ExcludeFeaturesAttribute`` would);
4. writes ``statistics.json``, ``constraint_violations.json``, ``drift.json`` (the kit's per-feature table with
   the bins the report plots) and ``report.html`` under :func:`mlops.layout.model_monitor_prefix`;
5. publishes ``feature_baseline_drift_<feature>`` (Model Monitor's distance) and ``feature_non_null_<feature>``
   (completeness) in Model Monitor's namespace - ``/aws/sagemaker/Endpoints/data-metrics`` with ``Endpoint`` and
   ``MonitoringSchedule`` for an endpoint, ``/aws/sagemaker/ModelMonitoring/data-metrics`` with
   ``MonitoringSchedule`` for batch - and the kit's summary ``DataDriftScore`` (share of features in the ``drift``
   band) plus ``ConstraintViolations`` in the stack's namespace, which the ``data_drift`` alarm watches.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from mlops.capture import read_capture
from mlops.datasets import DatasetDefinition
from mlops.errors import MonitoringError
from mlops.layout import model_monitor_prefix, split_uri
from mlops.modeling.spec import ModelSpec
from mlops.platform import Platform
from monitoring.baseline import CONSTRAINTS, STATISTICS
from monitoring.modelmonitor.captured import INFERENCE_ID, INFERENCE_TIME, capture_frame, numeric_features
from monitoring.modelmonitor.checks import CheckResult, check
from monitoring.runs import champion, publish

Source = Literal["endpoint", "batch"]
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints/data-metrics"
BATCH_NAMESPACE = "/aws/sagemaker/ModelMonitoring/data-metrics"
BASELINE_TAGS = {STATISTICS: "baseline_statistics_uri", CONSTRAINTS: "baseline_constraints_uri"}
DEFAULT_SCHEDULE_NAME = "hourly"
VIOLATIONS = "constraint_violations.json"
DRIFT = "drift.json"
REPORT = "report.html"


def read_json_uri(platform: Platform, uri: str) -> dict[str, Any]:
    _, bucket, key = split_uri(uri)
    loaded: dict[str, Any] = json.loads(platform.services.object_store.get(bucket, key))
    return loaded


def champion_baseline(platform: Platform, dataset: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The champion's baseline statistics and constraints, and its version."""
    version = champion(platform, dataset)
    uris = {name: version.tags.get(tag) for name, tag in BASELINE_TAGS.items()}
    absent = [tag for name, tag in BASELINE_TAGS.items() if not uris[name]]
    if absent:
        raise MonitoringError(
            f"champion of {dataset!r} (version {version.version}) has no {', '.join(absent)} tag: it was trained "
            "before the pipeline wrote drift-check baselines; retrain it (`mlops train`) to monitor it"
        )
    return (
        read_json_uri(platform, str(uris[STATISTICS])),
        read_json_uri(platform, str(uris[CONSTRAINTS])),
        version.version,
    )


def capture_rows(
    platform: Platform, definition: DatasetDefinition, endpoint: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """What ``endpoint`` served in ``[start, end)``, from its data capture."""
    records = read_capture(
        platform.services.object_store, platform.outputs.data_capture_prefix, endpoint, start=start, end=end
    )
    return capture_frame(records, ModelSpec.from_definition(definition))


def batch_rows(platform: Platform, definition: DatasetDefinition) -> tuple[pd.DataFrame, str]:
    """The newest batch predictions file of the dataset (curated zone, ``predictions/<dataset>/``) and its URI."""
    from mlops.layout import predictions_key

    bucket = platform.layout.bucket("curated")
    prefix = predictions_key(definition.name, "", "").split("model_version=")[0]
    keys = [k for k in platform.services.object_store.list_keys(bucket, prefix) if k.endswith(".parquet")]
    if not keys:
        raise MonitoringError(f"dataset {definition.name!r}: no batch predictions under {prefix} to monitor")
    newest = max(keys, key=lambda k: k.rsplit("/", 1)[-1])
    import io

    frame = pd.read_parquet(io.BytesIO(platform.services.object_store.get(bucket, newest)))
    return numeric_features(frame, ModelSpec.from_definition(definition)), platform.layout.uri(bucket, newest)


def calendar_features(definition: DatasetDefinition) -> tuple[str, ...]:
    return tuple(f.name for f in definition.features if f.kind == "calendar")


def drift_document(result: CheckResult, meta: dict[str, Any]) -> dict[str, Any]:
    """``drift.json``: the run's summary and per-feature drift (with the bins the report plots)."""
    return {
        **meta,
        "drift_score": result.drift_score,
        "violations": len(result.violations),
        "features": [asdict(f) for f in result.drift],
    }


def publish_run(
    platform: Platform, dataset: str, result: CheckResult, *, source: Source, schedule: str, endpoint: str | None
) -> None:
    """Model Monitor's per-feature metrics in its namespace, and the kit's summary in the stack's."""
    dimensions = {"MonitoringSchedule": schedule}
    if source == "endpoint":
        dimensions = {"Endpoint": endpoint or dataset, **dimensions}
    namespace = ENDPOINT_NAMESPACE if source == "endpoint" else BATCH_NAMESPACE
    values: dict[str, float] = {f"feature_baseline_drift_{f.feature}": f.distance for f in result.drift}
    for entry in result.statistics["features"]:
        stats = entry.get("numerical_statistics") or entry.get("string_statistics")
        common = stats["common"]
        total = common["num_present"] + common["num_missing"]
        values[f"feature_non_null_{entry['name']}"] = common["num_present"] / total if total else 1.0
    platform.services.metrics_in(namespace).publish(values, dimensions)
    publish(platform, dataset, {"DataDriftScore": result.drift_score, "ConstraintViolations": len(result.violations)})


def run_data_quality(
    platform: Platform,
    definition: DatasetDefinition,
    rows: pd.DataFrame,
    *,
    source: Source,
    input_uri: str,
    schedule: str = DEFAULT_SCHEDULE_NAME,
    endpoint: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check ``rows`` against the champion's baseline; write the run's files and publish its metrics."""
    from monitoring.report_html import render_run_report

    when = now or datetime.now(UTC)
    name = definition.name
    if rows.empty:
        raise MonitoringError(f"dataset {name!r}: no {source} rows to monitor in {input_uri}")
    statistics, constraints, version = champion_baseline(platform, name)
    result = check(
        rows,
        statistics,
        constraints,
        ignore_columns=(INFERENCE_ID, INFERENCE_TIME, "prediction", "probability", definition.event_time),
        exclude_from_drift=calendar_features(definition),
    )
    bucket = platform.layout.bucket("monitoring")
    prefix = model_monitor_prefix(name, source, schedule, when)
    meta = {
        "dataset": name,
        "source": source,
        "schedule": schedule,
        "endpoint": endpoint,
        "input": input_uri,
        "rows": len(rows),
        "model_version": version,
        "generated_at": when.isoformat(),
        "output": platform.layout.uri(bucket, prefix),
    }
    drift = drift_document(result, meta)
    store = platform.services.object_store
    for file, content in ((STATISTICS, result.statistics), (VIOLATIONS, result.violations_json()), (DRIFT, drift)):
        store.put(bucket, prefix + file, json.dumps(content, indent=2, default=str).encode(), "application/json")
    html = render_run_report(drift, result.violations_json(), statistics, result.statistics, history(platform, name))
    store.put(bucket, prefix + REPORT, html.encode(), "text/html; charset=utf-8")
    publish_run(platform, name, result, source=source, schedule=schedule, endpoint=endpoint)
    return {**drift, "report_uri": platform.layout.uri(bucket, prefix + REPORT)}


def history(platform: Platform, dataset: str, limit: int = 200) -> list[dict[str, Any]]:
    """The dataset's earlier monitoring summaries (``drift.json`` without features, ``quality.json``), oldest
    first, for the report's over-time charts."""
    from mlops.layout import model_monitor_root

    bucket = platform.layout.bucket("monitoring")
    store = platform.services.object_store
    keys = sorted(
        (k for k in store.list_keys(bucket, model_monitor_root(dataset)) if k.endswith((DRIFT, "quality.json"))),
        key=lambda k: k.split("/")[-6:-1],  # yyyy/mm/dd/hh/MMSS of the run, whatever its source and schedule
    )[-limit:]
    out: list[dict[str, Any]] = []
    for key in keys:
        document = json.loads(store.get(bucket, key))
        document.pop("features", None)
        document["kind"] = "drift" if key.endswith(DRIFT) else "quality"
        out.append(document)
    return sorted(out, key=lambda d: str(d.get("generated_at", "")))


def latest_report(platform: Platform, dataset: str) -> tuple[str, bytes]:
    """The newest run's ``report.html`` of the dataset (URI and content)."""
    from mlops.layout import model_monitor_root

    bucket = platform.layout.bucket("monitoring")
    store = platform.services.object_store
    keys = [k for k in store.list_keys(bucket, model_monitor_root(dataset)) if k.endswith(REPORT)]
    if not keys:
        raise MonitoringError(f"dataset {dataset!r} has no monitoring report yet: run `mlops monitor run {dataset}`")
    newest = max(keys, key=lambda k: k.split("/")[-6:-1])  # yyyy/mm/dd/hh/MMSS below the schedule
    return platform.layout.uri(bucket, newest), store.get(bucket, newest)
