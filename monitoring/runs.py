"""Drift and performance runs: read the windows, compute (``monitoring.drift`` / ``monitoring.performance``),
write a JSON report to the monitoring zone (:func:`mlops.layout.report_key`: ``reports/<dataset>/<kind>/<UTC
timestamp>.json``) and publish the figures.

Everything goes through the platform's ports: the feature table through the table store (via the offline feature
store's readers), the champion and its model through the model registry, the holdout and the report through the
object store, the figures through the metrics port. Metrics go to ``outputs.metrics_namespace`` twice: with
``Dataset=<name>`` (per-dataset graphs) and with no dimensions, because the infra program's alarms
(``data_drift``, ``concept_drift``, ``model_degradation``) watch ``DataDriftScore`` / ``ConceptDriftScore`` /
``ModelQualityDrop`` without dimensions and CloudWatch matches a metric's dimension set exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from mlops.contracts import CHAMPION
from mlops.datasets import DatasetDefinition
from mlops.errors import MonitoringError
from mlops.layout import report_key
from mlops.modeling.metrics import primary_metric
from mlops.modeling.scoring import metric_scores, score
from mlops.modeling.spec import ModelSpec, features_of, target_of
from mlops.platform import Platform
from mlops.ports.model_registry import ModelVersionInfo
from mlops.registry.holdout import holdout_of
from monitoring.drift import PSI_DRIFT, dataset_drift
from monitoring.performance import MIN_WINDOW_ROWS, concept_drift, degradation, window_metrics
from pipelines.feature_store.offline import label_known, load_features


def write_report(platform: Platform, dataset: str, kind: str, report: dict[str, Any], when: datetime) -> str:
    """Put the report in the monitoring zone; returns its URI (in the object store's scheme)."""
    bucket = platform.layout.bucket("monitoring")
    key = report_key(dataset, kind, when)
    body = json.dumps(report, indent=2, sort_keys=True, default=str).encode()
    platform.services.object_store.put(bucket, key, body, content_type="application/json")
    return platform.layout.uri(bucket, key)


def publish(platform: Platform, dataset: str, values: dict[str, float]) -> None:
    """The figures without dimensions (what the alarms watch) and with ``Dataset`` (per-dataset graphs), stamped
    with the current time: a run's ``now`` is the label cutoff it judges at, and alarms judge recent periods."""
    metrics = platform.services.metrics
    metrics.publish(values, {})
    metrics.publish(values, {"Dataset": dataset})


def champion(platform: Platform, dataset: str) -> ModelVersionInfo:
    """The champion version of the dataset's model, or an error saying how to get one."""
    found = platform.services.model_registry.find(dataset, CHAMPION)
    if found is None:
        raise MonitoringError(
            f"model {dataset!r} has no champion: promote one (`mlops model promote {dataset}`) "
            "or pass --reference-version"
        )
    return found


def run_drift(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    reference_version: int | None = None,
    current_version: int | None = None,
    since: datetime | None = None,
    psi_threshold: float = PSI_DRIFT,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Drift of the current window against the reference; writes the report and publishes ``DataDriftScore``.

    Reference: the feature table at ``reference_version``, or at the champion's recorded ``dataset_version``.
    Current: the table at ``current_version`` (latest by default), rows newer than ``since`` (default: newer
    than the reference's newest event).
    """
    when = now or datetime.now(UTC)
    name = definition.name
    source = "explicit --reference-version"
    if reference_version is None:
        version = champion(platform, name)
        recorded = version.tags.get("dataset_version")
        if recorded is None:
            raise MonitoringError(f"champion of {name!r} (version {version.version}) records no dataset_version tag")
        reference_version, source = int(recorded), f"champion version {version.version} (dataset_version tag)"
    reference = load_features(platform, definition, reference_version)
    current = load_features(platform, definition, current_version)
    times = definition.event_time
    start = pd.Timestamp(since) if since is not None else reference.frame[times].max()
    if start.tzinfo is None:  # event times are UTC; a date typed on the command line has no zone
        start = start.tz_localize(UTC)
    window = current.frame[current.frame[times] > start]
    if window.empty:
        raise MonitoringError(
            f"dataset {name!r}: no rows newer than {start} in feature table version {current.version}"
        )
    spec = ModelSpec.from_definition(definition)
    result = dataset_drift(
        reference.frame, window, spec.features, categorical=spec.categorical, psi_threshold=psi_threshold
    )
    report = {
        "dataset": name,
        "kind": "drift",
        "generated_at": when.isoformat(),
        "reference": {"version": reference.version, "rows": len(reference.frame), "source": source},
        "current": {"version": current.version, "rows": len(window), "after": str(start)},
        **result.to_dict(),
    }
    report["report_uri"] = write_report(platform, name, "drift", report, when)
    publish(platform, name, {"DataDriftScore": result.drift_score})
    return report


# The windows tried when none is given, shortest first.
DEFAULT_WINDOWS = (timedelta(days=7), timedelta(days=14), timedelta(days=30), timedelta(days=90))


def in_words(span: timedelta) -> str:
    """``timedelta(days=7)`` -> ``7 days``; ``timedelta(hours=36)`` -> ``1 day 12 hours``."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def run_performance(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    window: timedelta | None = None,
    precision: float = 0.9,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Score the champion on labelled rows newer than its holdout; degradation and concept drift per module docs.

    Only rows whose label has arrived by ``now`` (``event_time + label.arrival_delay <= now``) are used.
    """
    when = now or datetime.now(UTC)
    name = definition.name
    spec = ModelSpec.from_definition(definition)
    version = champion(platform, name)
    reference = holdout_of(platform, version)
    table = load_features(platform, definition).frame
    times = pd.to_datetime(reference[definition.event_time], utc=True)
    rows = table[(table[definition.event_time] > times.max()) & table[definition.label.column].notna()]
    rows = rows[label_known(rows[definition.event_time], definition, when)]
    if rows.empty:
        raise MonitoringError(f"dataset {name!r}: no labelled rows after the champion's holdout have arrived yet")
    model = platform.services.model_registry.load_model(name, str(version.version))
    x, y = features_of(rows, spec), target_of(rows, spec)
    scores = metric_scores(score(model, x, spec.positive_class))
    # No window given: a week, widened until a window holds enough labelled rows (small datasets).
    candidates = [window] if window is not None else list(DEFAULT_WINDOWS)
    for span in candidates:
        windows = window_metrics(rows[definition.event_time], y, scores, spec.task, window=span, precision=precision)
        if windows:
            break
    if not windows:
        tried = " or ".join(in_words(span) for span in candidates)
        raise MonitoringError(
            f"dataset {name!r}: no window of {tried} holds {MIN_WINDOW_ROWS} labelled rows (of two classes, for a "
            f"classifier) to score; {len(rows)} labelled rows arrived after the champion's holdout: pass a longer "
            "--window or wait for more labels"
        )
    metric, _ = primary_metric(spec.task)
    validation = version.metrics.get(f"validation_{metric}")
    if validation is None:
        raise MonitoringError(f"champion of {name!r} (version {version.version}) has no validation_{metric} metric")
    latest = windows[-1]
    drop = degradation(spec.task, float(validation), latest.metrics[metric])
    recent = rows[pd.to_datetime(rows[definition.event_time], utc=True) >= pd.Timestamp(latest.start)]
    concept = concept_drift(reference, recent, spec.features, spec.label, categorical=spec.categorical)
    report = {
        "dataset": name,
        "kind": "performance",
        "generated_at": when.isoformat(),
        "model_version": version.version,
        "metric": metric,
        "validation_metric": validation,
        "window": in_words(span),
        "windows": [vars(w) for w in windows],
        "model_quality_drop": drop,
        "concept_drift": concept.to_dict(),
    }
    report["report_uri"] = write_report(platform, name, "performance", report, when)
    publish(platform, name, {"ModelQualityDrop": drop, "ConceptDriftScore": concept.score})
    return report
