"""The model-quality monitoring job: served inferences merged with the ground truth that arrived since, judged
on evidence-sized windows with bootstrap intervals (:mod:`monitoring.quality_windows`).

Writes ``quality.json`` (every window with its interval and verdict) under
:func:`mlops.layout.model_monitor_prefix` (source ``quality``) and publishes, in the stack's namespace,
``ModelQualityDrop`` = the smallest *lower* bound of the drop over the newest ``sustain`` windows (what the
``model_degradation`` alarm watches, so it fires only when the interval clears its threshold window after window;
with fewer windows than that, the newest lower bound) and ``ModelQualityDropPoint`` (the point estimate, for
graphs).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import MonitoringError
from mlops.layout import model_monitor_prefix
from mlops.modeling.metrics import primary_metric
from mlops.platform import Platform
from monitoring.ground_truth import LABEL, merge_ground_truth, read_ground_truth
from monitoring.modelmonitor.captured import INFERENCE_TIME, PREDICTION, PROBABILITY
from monitoring.modelmonitor.job import DEFAULT_SCHEDULE_NAME
from monitoring.quality_windows import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SUSTAIN,
    MIN_LABELLED,
    MIN_POSITIVES,
    window_quality,
)
from monitoring.runs import champion, publish

QUALITY = "quality.json"
DEGRADATION_THRESHOLD = 0.05  # infra/thresholds.py's model_degradation default


def run_model_quality(
    platform: Platform,
    definition: DatasetDefinition,
    served: pd.DataFrame,
    *,
    threshold: float = DEGRADATION_THRESHOLD,
    min_labelled: int = MIN_LABELLED,
    min_positives: int = MIN_POSITIVES,
    schedule: str = DEFAULT_SCHEDULE_NAME,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Quality of the champion on the served rows that have ground truth; writes ``quality.json``, publishes."""
    when = now or datetime.now(UTC)
    name = definition.name
    binary = definition.task != "regression"
    labelled = merge_ground_truth(served, read_ground_truth(platform, name))
    if labelled.empty:
        raise MonitoringError(f"dataset {name!r}: no ground truth matches a served inference yet")
    version = champion(platform, name)
    metric, _ = primary_metric(definition.task)
    validation = version.metrics.get(f"validation_{metric}")
    if validation is None:
        raise MonitoringError(f"champion of {name!r} (version {version.version}) has no validation_{metric} metric")
    score = PROBABILITY if binary else PREDICTION
    windows = window_quality(
        labelled.dropna(subset=[score]),
        label=LABEL,
        score=score,
        time=INFERENCE_TIME,
        binary=binary,
        validation=float(validation),
        threshold=threshold,
        min_labelled=min_labelled,
        min_positives=min_positives,
    )
    bucket = platform.layout.bucket("monitoring")
    prefix = model_monitor_prefix(name, "quality", schedule, when)
    document: dict[str, Any] = {
        "dataset": name,
        "generated_at": when.isoformat(),
        "model_version": version.version,
        "metric": metric,
        "validation_metric": float(validation),
        "threshold": threshold,
        "confidence": DEFAULT_CONFIDENCE,
        "sustain": DEFAULT_SUSTAIN,
        "labelled_rows": len(labelled),
        "windows": [w.to_dict() for w in windows],
        "output": platform.layout.uri(bucket, prefix),
    }
    if windows:
        latest = windows[-1]
        document.update(
            drop=latest.drop, drop_low=latest.drop_low, drop_high=latest.drop_high, degraded=latest.degraded
        )
        sustained = latest.sustained_drop_low if np.isfinite(latest.sustained_drop_low) else latest.drop_low
        publish(platform, name, {"ModelQualityDrop": sustained, "ModelQualityDropPoint": latest.drop})
    body = json.dumps(document, indent=2, default=str).encode()
    platform.services.object_store.put(bucket, prefix + QUALITY, body, content_type="application/json")
    return document
