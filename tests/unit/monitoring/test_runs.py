"""Drift and performance runs on a platform whose every port is the in-memory fake: the feature table comes from
the table store, the champion and its model from the model registry, the holdout and the report go through the
object store, the figures to the metrics port, and the infra program's drift alarm (evaluated by the memory
alarms) fires on the published score."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from infra.thresholds import Thresholds, alarm_specs
from mlops.adapters.memory.alarms import MemoryAlarms
from mlops.errors import MonitoringError
from mlops.layout import filesystem_path, report_key
from mlops.outputs import StackOutputs, parse_outputs
from mlops.platform import Platform
from mlops.ports.alarms import AlarmDefinition
from mlops.wiring import memory_platform
from monitoring.runs import run_drift, run_performance
from tests.support.registry import job_model, registration
from tests.unit.test_outputs import complete_outputs
from tests.unit.training.synthetic import definition, end_time, feature_frame

NOW = datetime(2026, 2, 1, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:000000000000:mlops-kit-unit-alarms"


@pytest.fixture
def outputs() -> StackOutputs:
    raw = complete_outputs()
    raw["alarm_names"] = {"data_drift": "mlops-kit-unit-data-drift", "model_degradation": "mlops-kit-unit-degradation"}
    raw["log_groups"] = {"monitoring": "/mlops-kit/unit/monitoring"}
    return parse_outputs(raw, "unit")


@pytest.fixture
def platform(outputs: StackOutputs) -> Platform:
    return memory_platform(outputs)


def _write_features(platform: Platform, name: str, frame: pd.DataFrame, mode: str = "overwrite") -> int:
    uri = platform.layout.feature_table_uri(name)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return platform.services.table_store.write(uri, table, mode, {"source": "unit test"})  # type: ignore[arg-type]


def _stored_report(platform: Platform, uri: str) -> dict[str, Any]:
    bucket, _, key = filesystem_path(uri).partition("/")
    loaded: dict[str, Any] = json.loads(platform.services.object_store.get(bucket, key))
    return loaded


def _published(platform: Platform, name: str, dimensions: dict[str, str]) -> list[float]:
    start = datetime.now(UTC) - timedelta(hours=1)
    points = platform.services.metrics.datapoints(name, dimensions, start, start + timedelta(hours=2), 7200)
    return [p.value for p in points]


def _drift_alarm(outputs: StackOutputs, key: str) -> AlarmDefinition:
    """The alarm the infra program declares under ``key`` (thresholds as in its default config)."""
    spec = alarm_specs(Thresholds(500.0, 5.0, 0.2, 0.2, 0.05, 3))[key]
    return AlarmDefinition(
        name=outputs.alarm(key),
        arn=f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{outputs.alarm(key)}",
        namespace=outputs.metrics_namespace,
        metric_name=spec.metric_name,
        dimensions={},
        statistic=spec.statistic,
        comparison=spec.comparison,
        threshold=spec.threshold,
        period=spec.period_seconds,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.evaluation_periods,
        treat_missing_data="notBreaching",
        state="OK",
        alarm_actions=(TOPIC,),
        ok_actions=(TOPIC,),
    )


def test_drift_run_reports_publishes_and_the_drift_alarm_fires(platform: Platform, outputs: StackOutputs) -> None:
    spec_definition = definition("drift_unit")
    reference = feature_frame(800, seed=1)
    reference_version = _write_features(platform, "drift_unit", reference)
    later = feature_frame(800, seed=2).assign(
        event_time=lambda f: f["event_time"] + pd.Timedelta(days=200),
        amount=lambda f: f["amount"] * 4,
        transaction_id=lambda f: "late-" + f["transaction_id"],
    )
    _write_features(platform, "drift_unit", later, mode="append")

    report = run_drift(platform, spec_definition, reference_version=reference_version, now=NOW)

    assert report["drifted_features"] == ["amount"]
    assert report["drift_score"] == pytest.approx(1 / len(spec_definition.feature_names))
    assert (report["reference"]["version"], report["current"]["version"]) == (reference_version, reference_version + 1)
    monitoring = outputs.bucket_for_zone("monitoring")
    assert report["report_uri"] == f"memory://{monitoring}/{report_key('drift_unit', 'drift', NOW)}"
    assert _stored_report(platform, report["report_uri"])["drifted_features"] == ["amount"]
    assert _published(platform, "DataDriftScore", {}) == [report["drift_score"]]
    assert _published(platform, "DataDriftScore", {"Dataset": "drift_unit"}) == [report["drift_score"]]

    alarms = platform.services.alarms
    assert isinstance(alarms, MemoryAlarms)
    alarms.put_alarm(_drift_alarm(outputs, "data_drift"))
    (evaluation,) = alarms.evaluate([outputs.alarm("data_drift")])
    assert (evaluation.previous_state, evaluation.state, evaluation.applied) == ("OK", "ALARM", True)
    assert evaluation.notified == (TOPIC,)
    assert [action for action, _ in alarms.delivered] == [TOPIC]


def test_drift_without_a_reference_needs_a_champion(platform: Platform) -> None:
    _write_features(platform, "no_champion", feature_frame(100))
    with pytest.raises(MonitoringError, match="model 'no_champion' has no champion: promote one"):
        run_drift(platform, definition("no_champion"), now=NOW)


def test_drift_of_an_empty_window_is_refused_by_name(platform: Platform) -> None:
    version = _write_features(platform, "quiet", feature_frame(200))
    with pytest.raises(MonitoringError, match=f"dataset 'quiet': no rows newer than .* version {version}"):
        run_drift(platform, definition("quiet"), reference_version=version, now=NOW)


def test_performance_run_scores_the_champion_on_rows_after_its_holdout(
    platform: Platform, outputs: StackOutputs, tmp_path: Path
) -> None:
    job = job_model(tmp_path / "job", "perf_unit")
    models = outputs.bucket_for_zone("models")
    holdout_uri = platform.layout.uri(models, "training-jobs/perf-1/input/validation/part-0.parquet")
    job.holdout.to_parquet(filesystem_path(holdout_uri), filesystem=platform.services.object_store.filesystem())
    registry = platform.services.model_registry
    registered = registry.register(registration(job, "perf-1", holdout_uri=holdout_uri))
    registry.set_champion("perf_unit", registered.model_version, note="unit test")
    newer = feature_frame(900, seed=5).assign(
        event_time=lambda f: (
            f["event_time"] + (job.holdout["event_time"].max() - f["event_time"].min()) + pd.Timedelta(hours=1)
        ),
        transaction_id=lambda f: "new-" + f["transaction_id"],
    )
    _write_features(platform, "perf_unit", pd.concat([job.train, job.holdout, newer], ignore_index=True))
    now = end_time(newer)

    report = run_performance(platform, job.definition, window=timedelta(days=30), now=now)

    assert report["model_version"] == registered.model_version
    assert report["metric"] == "pr_auc"
    assert report["validation_metric"] == pytest.approx(0.8)
    assert report["windows"], report
    assert sum(w["rows"] for w in report["windows"]) <= len(newer)
    latest = report["windows"][-1]["metrics"]["pr_auc"]
    assert report["model_quality_drop"] == pytest.approx(0.8 - latest)
    assert report["report_uri"].endswith(report_key("perf_unit", "performance", now))
    assert _stored_report(platform, report["report_uri"])["model_version"] == registered.model_version
    assert _published(platform, "ModelQualityDrop", {}) == [pytest.approx(report["model_quality_drop"])]
    concept = report["concept_drift"]["score"]
    assert _published(platform, "ConceptDriftScore", {"Dataset": "perf_unit"}) == [pytest.approx(concept)]
