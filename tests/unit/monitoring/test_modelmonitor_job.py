"""The monitoring jobs on a platform of in-memory ports: a champion registered with its drift-check baseline
(package and tags name it), capture files in SageMaker's layout, ground truth in Model Monitor's shape, one
scheduled tick; the outputs, metrics and the report in the monitoring zone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.capture import CapturedPayload, CaptureRecord
from mlops.errors import MonitoringError
from mlops.layout import data_capture_key, ground_truth_prefix, split_uri
from mlops.modeling.spec import ModelSpec
from mlops.outputs import StackOutputs, parse_outputs
from mlops.platform import Platform
from mlops.wiring import memory_platform
from monitoring.baseline import baseline_of
from monitoring.ground_truth import upload_ground_truth
from monitoring.modelmonitor.captured import capture_frame
from monitoring.modelmonitor.job import ENDPOINT_NAMESPACE, run_data_quality
from monitoring.modelmonitor.runner import run_tick
from tests.support.registry import job_model, registration
from tests.unit.test_outputs import complete_outputs
from tests.unit.training.synthetic import feature_frame

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = START + timedelta(hours=1)
NAME = "mm_unit"


@pytest.fixture(scope="module")
def platform() -> Platform:
    outputs = parse_outputs(complete_outputs(), "unit")
    first = memory_platform(outputs)
    capture = first.layout.zone_uri("monitoring", "data-capture/")
    return memory_platform(outputs.model_copy(update={"data_capture_prefix": capture}))


@pytest.fixture(scope="module")
def job(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One champion registered with its baseline (a registration takes seconds: the module shares it)."""
    job = job_model(tmp_path_factory.mktemp("job"), NAME)
    spec = ModelSpec.from_definition(job.definition)
    request = replace(registration(job, f"{NAME}-1"), baseline=baseline_of(job.holdout, spec))
    registry = platform.services.model_registry
    registered = registry.register(request)
    registry.set_champion(NAME, registered.model_version, note="unit test")
    return job


def _capture(
    platform: Platform, outputs: StackOutputs, rows: pd.DataFrame, features: tuple[str, ...], start: datetime
) -> list[str]:
    """One capture file of single-row CSV invocations in the hour from ``start``; returns the event ids."""
    _, bucket, base = split_uri(outputs.data_capture_prefix)
    rng = np.random.default_rng(0)
    records, ids = [], []
    for i, row in enumerate(rows[list(features)].itertuples(index=False)):
        moment = start + timedelta(seconds=i * 3600 / len(rows))
        body = ",".join(str(v) for v in row)
        answer = {"predictions": [0], "probabilities": [float(rng.random())]}
        record = CaptureRecord(
            event_id=f"evt-{start:%H}-{i}",
            inference_time=moment,
            endpoint_input=CapturedPayload("text/csv", "INPUT", body, "CSV"),
            endpoint_output=CapturedPayload("application/json", "OUTPUT", json.dumps(answer), "JSON"),
        )
        records.append(record.to_line())
        ids.append(record.event_id)
    key = data_capture_key(base, outputs.endpoint_name, "AllTraffic", start, "unit")
    platform.services.object_store.put(bucket, key, ("\n".join(records) + "\n").encode())
    return ids


def _get_text(platform: Platform, uri: str) -> str:
    _, bucket, key = split_uri(uri)
    return platform.services.object_store.get(bucket, key).decode()


def _get_json(platform: Platform, uri: str) -> Any:
    _, bucket, key = split_uri(uri)
    return json.loads(platform.services.object_store.get(bucket, key))


def test_the_registration_stores_the_baseline_and_names_it_on_the_package(platform: Platform, job: Any) -> None:
    version = platform.services.model_registry.version(NAME, "champion")
    package = platform.services.model_registry.packages.describe(version.model_package_arn)  # type: ignore[attr-defined]
    assert set(package.drift_check_baselines) == {"statistics", "constraints"}
    assert version.tags["baseline_statistics_uri"] == package.drift_check_baselines["statistics"]
    stored = _get_json(platform, version.tags["baseline_constraints_uri"])
    assert stored["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"


@pytest.mark.parametrize(("hour", "scale", "drifted"), [(0, 1.0, []), (1, 4.0, ["amount"])])
def test_a_tick_on_captured_traffic_finds_the_injected_drift_and_none_without(
    platform: Platform, job: Any, hour: int, scale: float, drifted: list[str]
) -> None:
    spec = ModelSpec.from_definition(job.definition)
    start = START + timedelta(hours=hour)
    traffic = feature_frame(400, seed=21).assign(amount=lambda f: f["amount"] * scale)
    ids = _capture(platform, platform.outputs, traffic, spec.features, start)
    upload_ground_truth(platform, NAME, dict(zip(ids, traffic["is_fraud"], strict=True)), f"labels-{hour}", start)

    result = run_tick(platform, job.definition, start, start + timedelta(hours=1), schedule=f"unit-{hour}")

    data = result["data_quality"]
    assert data["rows"] == 400
    assert [f["feature"] for f in data["features"] if f["status"] == "drift" and not f["excluded"]] == drifted
    violations = _get_json(platform, data["output"] + "constraint_violations.json")["violations"]
    assert [v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"] == drifted
    statistics = _get_json(platform, data["output"] + "statistics.json")
    assert [f["name"] for f in statistics["features"]] == list(spec.features)
    mm = platform.services.metrics_in(ENDPOINT_NAMESPACE)
    dims = {"Endpoint": platform.outputs.endpoint_name, "MonitoringSchedule": f"unit-{hour}"}
    since = datetime.now(UTC) - timedelta(hours=1)
    points = mm.datapoints("feature_baseline_drift_amount", dims, since, since + timedelta(hours=2), 7200)
    assert [p.value for p in points] == [
        pytest.approx(next(f["distance"] for f in data["features"] if f["feature"] == "amount"))
    ]
    score = platform.services.metrics.datapoints(
        "DataDriftScore", {}, since, since + timedelta(hours=2), 7200, statistic="Maximum"
    )
    assert score[0].value >= data["drift_score"]
    assert ("Drift status" in _get_text(platform, data["report_uri"])) is True

    quality = result["model_quality"]
    # Every hour served so far on this module's platform has its labels (a worker that ran only this case: one).
    uploads = platform.services.object_store.list_keys(platform.layout.bucket("monitoring"), ground_truth_prefix(NAME))
    served_hours = len([key for key in uploads if key.endswith(".jsonl")])
    assert served_hours >= 1
    assert quality.get("labelled_rows") == 400 * served_hours, quality


def test_model_quality_windows_carry_intervals_and_publish_the_lower_bound(platform: Platform, job: Any) -> None:
    from monitoring.modelmonitor.quality_job import run_model_quality

    rng = np.random.default_rng(3)
    labels = (rng.random(3000) < 0.1).astype(int)
    served = pd.DataFrame(
        {
            "inference_id": [f"i{i}" for i in range(3000)],
            "inference_time": [START + timedelta(seconds=i) for i in range(3000)],
            "probability": rng.random(3000),  # a model that learned nothing: PR-AUC near the positive rate
            "prediction": 0,
        }
    )
    upload_ground_truth(platform, NAME, dict(zip(served["inference_id"], labels, strict=True)), "gt", END)

    document = run_model_quality(platform, job.definition, served, min_labelled=500, min_positives=40, now=END)

    assert len(document["windows"]) == 6
    for w in document["windows"]:
        assert w["low"] <= w["value"] <= w["high"] and w["positives"] >= 40
    assert document["degraded"] is True  # validation PR-AUC 0.8 against ~0.1: the whole interval clears 0.05
    since = datetime.now(UTC) - timedelta(hours=1)
    drop = platform.services.metrics.datapoints(
        "ModelQualityDropPoint", {}, since, since + timedelta(hours=2), 7200, statistic="Maximum"
    )
    assert drop[0].value >= document["drop"] > document["drop_low"] > 0.05


def test_a_champion_without_a_baseline_is_refused_by_name(platform: Platform, job: Any) -> None:
    registry = platform.services.model_registry
    registered = registry.register(registration(job, f"{NAME}-old", dataset="mm_old"))
    registry.set_champion("mm_old", registered.model_version, note="t")
    old = job.definition.model_copy(update={"name": "mm_old"})
    with pytest.raises(MonitoringError, match="has no baseline_statistics_uri, baseline_constraints_uri tag"):
        run_data_quality(platform, old, feature_frame(50, seed=2), source="batch", input_uri="memory://x/y")


def test_captured_answers_in_mlflows_format_are_refused_by_name() -> None:
    """An endpoint deployed with response_format mlflow answers each row's class probabilities: no label to judge."""
    record = CaptureRecord(
        event_id="evt-mlflow",
        inference_time=datetime(2024, 1, 1, tzinfo=UTC),
        endpoint_input=CapturedPayload("text/csv", "INPUT", "1.0,2.0", "CSV"),
        endpoint_output=CapturedPayload("application/json", "OUTPUT", '{"predictions": [[0.9, 0.1]]}', "JSON"),
    )
    spec = ModelSpec(task="binary", label="y", event_time="t", features=("a", "b"), categorical=())
    with pytest.raises(MonitoringError, match=r"evt-mlflow.*MLflow's format.*response_format=kit"):
        capture_frame([record], spec)
