"""The drift-check baseline of a model version: Model Monitor's ``statistics.json`` and ``constraints.json`` of the
rows the model was judged on, written by the training pipeline's Evaluate step next to ``evaluation.json``,
stored by the registration in the models zone and named on the model package (``DriftCheckBaselines``).

The rows are the holdout: the newest labelled data before the model was released, so the reference the
monitoring jobs compare with is what the model was last shown to be good on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.modeling.spec import ModelSpec
from monitoring.modelmonitor.constraints import MonitoringThresholds, suggest_constraints
from monitoring.modelmonitor.statistics import dataset_statistics

STATISTICS = "statistics.json"
CONSTRAINTS = "constraints.json"
FILES = (STATISTICS, CONSTRAINTS)


def baseline_of(
    frame: pd.DataFrame, spec: ModelSpec, thresholds: MonitoringThresholds | None = None
) -> dict[str, dict[str, Any]]:
    """``{"statistics.json": ..., "constraints.json": ...}`` of the spec's features in ``frame``."""
    statistics = dataset_statistics(frame, spec.features, spec.categorical)
    return {STATISTICS: statistics, CONSTRAINTS: suggest_constraints(statistics, thresholds)}


def write_baseline(directory: Path, baseline: dict[str, dict[str, Any]]) -> None:
    for name, content in baseline.items():
        (directory / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def read_baseline(directory: Path) -> dict[str, dict[str, Any]]:
    """The baseline files found in ``directory`` (none when the model was evaluated before baselines existed)."""
    found: dict[str, dict[str, Any]] = {}
    for name in FILES:
        path = directory / name
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found
