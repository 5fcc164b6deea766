"""The README's main job, run as a user runs it: `scripts/demo.sh` on a fresh embedded emulator.

It exercises every CLI group end to end (provision, data, jobs, training, registry, online store, deployment,
prediction, batch inference, monitoring, alarms) on a smaller dataset, then checks what it left in the emulator,
and stops the emulator and the endpoint it leaves running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops.local import emulator, endpoint_runner
from mlops.outputs import load_outputs
from mlops.settings import load_settings
from mlops.wiring import build_platform, client_factory

# The first test's time includes the whole main job (the module fixture): the suite's 900 s default is not enough
# on a busy 2-core machine, where the demo's own subprocess timeout (1500 s) is the bound that matters.
pytestmark = [pytest.mark.emulator, pytest.mark.spark, pytest.mark.server, pytest.mark.timeout(1600)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    state_dir = tmp_path_factory.mktemp("demo-state")
    # As a user runs it: with the warm Spark Connect server and the warm command server of `mlops local up` (the
    # suite turns them off elsewhere).
    env = {
        **os.environ,
        "MLOPS_STATE_DIR": str(state_dir),
        "DEMO_ROWS": "12000",
        "MLOPS_LOCAL_SPARK__ENABLED": "true",
        "MLOPS_LOCAL_CLI__ENABLED": "true",
        # The alarms' redeploy runs every blue/green stage and checks the rollback alarms at each, without the
        # demo's 1 s bakes (tests/support/short_bakes.py).
        "MLOPS_SERVICES__ENDPOINT__LOCAL_MAX_WAIT_SECONDS": "0",
    }
    try:
        result = subprocess.run(
            ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500
        )
        yield result, state_dir
    finally:
        mlops = [sys.executable, "-m", "mlops.cli"]
        subprocess.run([*mlops, "endpoint", "stop"], cwd=ROOT, env=env, capture_output=True, timeout=120)
        subprocess.run([*mlops, "local", "down"], cwd=ROOT, env=env, capture_output=True, timeout=120)  # + Spark
        emulator.down(state_dir / "emulator")


def test_the_demo_runs_to_the_end(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, state_dir = demo
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "==> Done" in result.stdout
    timings = json.loads((state_dir / "demo" / "timings.json").read_text())  # the step table's figures
    assert timings["exit_status"] == 0
    assert timings["steps"][0]["step"].startswith("Provision")
    assert "Done" in timings["steps"][-1]["step"]
    assert "mlops commands" in result.stderr


def test_the_demo_leaves_models_predictions_reports_and_alarm_states(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, state_dir = demo
    assert result.returncode == 0
    settings = load_settings(target="moto", state_dir=state_dir)
    platform = build_platform(settings, load_outputs(settings.resolved_outputs_file, "local"))
    clients = client_factory(settings)
    s3 = clients.client("s3")

    def keys(zone: str, prefix: str) -> list[str]:
        listed = s3.list_objects_v2(Bucket=platform.outputs.bucket_for_zone(zone), Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    assert keys("quarantine", "card_transactions/"), "the drifted quarter's unknown category is quarantined"
    assert keys("curated", "predictions/card_transactions/")
    assert keys("curated", "predictions/diabetes/")
    assert keys("monitoring", "reports/card_transactions/drift/")
    assert keys("monitoring", "reports/card_transactions/performance/")
    groups = clients.client("sagemaker").list_model_packages(
        ModelPackageGroupName=platform.outputs.model_package_group
    )["ModelPackageSummaryList"]
    assert len(groups) >= 2, "a card_transactions model and a diabetes model are registered"
    assert {p["ModelApprovalStatus"] for p in groups} >= {"Approved"}
    executions = [
        json.loads(s3.get_object(Bucket=platform.outputs.bucket_for_zone("monitoring"), Key=key)["Body"].read())
        for key in keys("monitoring", "pipeline-executions/")
    ]
    # card_transactions' first training, the retrain the alarms started (the alarms entering ALARM together share
    # one execution), diabetes: each an execution of the training pipeline definition, each above the quality bar
    assert len(executions) == 3, "every training ran as an execution of the training pipeline definition"
    assert [e["status"] for e in executions] == ["Succeeded"] * 3, [e.get("failure_reason") for e in executions]
    assert len(groups) == 3, "every execution registered its model"
    triggered = [e for e in executions if e["parameters"].get("TriggeredBy") == "drift-alarm"]
    assert len(triggered) == 1, "the retrain rule started exactly one execution"
    actions = [
        json.loads(s3.get_object(Bucket=platform.outputs.bucket_for_zone("monitoring"), Key=key)["Body"].read())
        for key in keys("monitoring", "alarm-actions/")
    ]
    outcomes = {(a["kind"], a["outcome"]) for a in actions}
    assert {("start-pipeline", "succeeded"), ("promote-and-deploy", "succeeded")} <= outcomes, actions
    champion = platform.services.model_registry.version("card_transactions", "champion")
    assert champion.tags["pipeline_execution"] == triggered[0]["arn"], "the retrained model is the champion"
    assert "recovered to" in " ".join(result.stdout.split()), "the demo reports the recovery figure"
    alarms = clients.client("cloudwatch").describe_alarms(AlarmNames=[platform.outputs.alarm("model_degradation")])[
        "MetricAlarms"
    ]
    assert alarms[0]["StateValue"] == "ALARM", "the drifted quarter degrades the champion"
    route = endpoint_runner.read_route(platform)
    assert route is not None and route.endpoint == platform.outputs.endpoint_name
    assert route.version == str(champion.version), "the endpoint serves the recovered model"
    assert httpx.get(route.url + "/ping", timeout=10).status_code == 200, "the demo leaves the endpoint serving"
