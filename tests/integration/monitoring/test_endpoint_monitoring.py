"""Traffic through a deployed endpoint, then the monitoring jobs on its capture files: the kit's local endpoint
behind the front door captures in SageMaker's layout; the data-quality job reads those files, finds the injected
drift (and none on undrifted traffic) and writes Model Monitor's files; ground truth sent later by inference id
merges with what was served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.datasets import find_definition
from mlops.layout import split_uri
from mlops.local.frontdoor import client as frontdoor
from mlops.modeling.spec import ModelSpec
from mlops.platform import Platform
from monitoring.baseline import CONSTRAINTS, STATISTICS, baseline_of
from monitoring.ground_truth import upload_ground_truth
from monitoring.modelmonitor.job import capture_rows
from monitoring.modelmonitor.quality_job import run_model_quality
from monitoring.modelmonitor.runner import run_tick
from serving.deploy import deploy_model
from tests.integration.serving.frontdoor_support import runtime_client
from tests.unit.serving.model_support import DATASET, feature_frame, train_and_register

pytestmark = [pytest.mark.emulator, pytest.mark.server]
REQUESTS = 150


@pytest.fixture(scope="module")
def served(platform: Platform) -> Iterator[Any]:
    """The champion deployed with data capture, registered with a baseline of rows like its training rows."""
    import mlflow

    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    registered = train_and_register(tracking_dir)
    shipped = find_definition(DATASET, platform.settings.datasets_dir)
    # the test model is fitted on model_support's columns, which leave out the shipped definition's country
    served_features = [f for f in shipped.features if f.name in feature_frame(1).columns]
    definition = shipped.model_copy(update={"features": served_features})
    baseline = baseline_of(feature_frame(3000, seed=7), ModelSpec.from_definition(definition))
    client = mlflow.MlflowClient(registered.tracking_uri)
    bucket = platform.layout.bucket("models")
    for name, tag in ((STATISTICS, "baseline_statistics_uri"), (CONSTRAINTS, "baseline_constraints_uri")):
        key = f"monitoring-test/baseline/{name}"
        platform.services.object_store.put(bucket, key, json.dumps(baseline[name]).encode(), "application/json")
        client.set_model_version_tag(DATASET, registered.version, tag, platform.layout.uri(bucket, key))
    run_id = client.get_model_version(DATASET, registered.version).run_id
    assert run_id is not None
    client.log_metric(run_id, "validation_pr_auc", 0.6)  # what the training pipeline records; quality compares to it
    deploy_model(platform, DATASET)
    try:
        yield definition
    finally:
        platform.services.hosting.stop(platform.outputs.endpoint_name)


def _send(platform: Platform, served: Any, rows: pd.DataFrame, prefix: str) -> tuple[datetime, datetime]:
    """One CSV request per row with its inference id, the capture written once halfway (as the writer's own timer
    may do at any moment) and again at the end; every row is in the capture; the time span covered."""
    runtime = runtime_client(platform)
    url = frontdoor.frontdoor_url(platform.settings)
    assert url is not None
    start = datetime.now(UTC)
    for i, row in enumerate(rows.itertuples(index=False)):
        runtime.invoke_endpoint(
            EndpointName=platform.outputs.endpoint_name,
            Body=",".join(str(v) for v in row).encode(),
            ContentType="text/csv",
            Accept="application/json",
            InferenceId=f"{prefix}-{i}",
        )
        if i == len(rows) // 2:
            frontdoor.flush(url)
    frontdoor.flush(url)
    end = datetime.now(UTC)
    captured = capture_rows(platform, served, platform.outputs.endpoint_name, start, end)
    assert sorted(captured["inference_id"]) == sorted(f"{prefix}-{i}" for i in range(len(rows)))
    return start, end


def _violations(platform: Platform, output: str) -> list[dict[str, str]]:
    _, bucket, key = split_uri(output + "constraint_violations.json")
    loaded: list[dict[str, str]] = json.loads(platform.services.object_store.get(bucket, key))["violations"]
    return loaded


def test_capture_of_a_deployed_endpoint_shows_injected_drift_and_none_without(platform: Platform, served: Any) -> None:
    spec = ModelSpec.from_definition(served)
    steady = feature_frame(REQUESTS, seed=11)[list(spec.features)]
    start, end = _send(platform, served, steady, "steady")
    calm = run_tick(platform, served, start, end, schedule="it-steady")["data_quality"]
    assert calm["rows"] == REQUESTS
    assert [f["feature"] for f in calm["features"] if f["status"] == "drift" and not f["excluded"]] == []
    assert [
        v for v in _violations(platform, calm["output"]) if v["constraint_check_type"] == "baseline_drift_check"
    ] == []

    drifted = feature_frame(REQUESTS, seed=12)[list(spec.features)].assign(amount=lambda f: f["amount"] * 5)
    start, end = _send(platform, served, drifted, "drifted")
    alarm = run_tick(platform, served, start, end, schedule="it-drifted")["data_quality"]
    assert "amount" in [f["feature"] for f in alarm["features"] if f["status"] == "drift"]
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in _violations(platform, alarm["output"])}
    assert ("amount", "baseline_drift_check") in checks
    assert alarm["drift_score"] > calm["drift_score"]

    rows = capture_rows(platform, served, platform.outputs.endpoint_name, start, end)
    labels = {i: int(a > 300) for i, a in zip(rows["inference_id"], rows["amount"], strict=True)}
    upload_ground_truth(platform, DATASET, labels, "it-labels")
    quality = run_model_quality(platform, served, rows, min_labelled=50, min_positives=3)
    assert quality["labelled_rows"] == REQUESTS
    assert all(w["low"] <= w["value"] <= w["high"] for w in quality["windows"])
