"""``mlops local up|status|down`` with ``cloud: gcp``, as a user runs them: up starts Google's emulators by PID and
applies the gcp-local program to them (the types an emulator holds are created there, every other type recorded as
declared but not sent, with its reason), a second up creates nothing, status reports them, down stops exactly them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local import gcp_emulators
from mlops.local.gcp_apply.handlers import HANDLERS
from mlops.outputs import load_outputs
from mlops.settings import load_settings
from mlops.wiring import gcp_client_factory
from tests.support.gcp import require_gcp_emulators

pytestmark = [pytest.mark.server, pytest.mark.pulumi]

STACK = "gcp-local"


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    require_gcp_emulators()
    directory = tmp_path
    try:
        yield directory
    finally:
        gcp_emulators.stop(directory / "gcp-emulators")  # whatever a failed test left running


def _env(state_dir: Path) -> dict[str, str]:
    return {
        "MLOPS_STATE_DIR": str(state_dir),
        "MLOPS_CLOUD": "gcp",
        "MLOPS_TARGET": "gcp-emulators",
        "MLOPS_STACK": STACK,
        "MLOPS_LOCAL_SPARK__ENABLED": "false",  # the warm Spark server is the AWS path's, tested there
    }


def _mlops(state_dir: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"], env=_env(state_dir), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_up_applies_the_gcp_program_to_the_emulators_it_starts_and_down_stops_them(state_dir: Path) -> None:
    first = _mlops(state_dir, "local", "up")
    assert first["emulators"] == "started"
    assert set(first["processes"]) == {"gcs-server", "gcs", "pubsub", "firestore"}
    ledger = json.loads(Path(first["apply"]["ledger_file"]).read_text())
    by_outcome: Counter[str] = Counter()
    for entry in ledger["resources"]:
        held = entry["type"] in HANDLERS
        by_outcome[entry["outcome"]] += 1
        assert (entry["outcome"] != "skipped") == held, entry  # held types are sent, the others are not
        if not held:
            assert ledger["notes"][entry["type"]], f"{entry['type']} is not sent without a reason"
    # Fresh emulators: every held resource is created (the Firestore database exists without a create).
    assert by_outcome["created"] == sum(1 for e in ledger["resources"] if e["type"] in HANDLERS) - 1
    assert by_outcome["skipped"] > 0

    settings = load_settings(state_dir=state_dir, cloud="gcp", target="gcp-emulators", stack=STACK)
    outputs = load_outputs(settings.resolved_outputs_file, STACK)  # later commands find the resources here
    # the program's MLflow server (Cloud Run on Cloud SQL) is not sent: locally a sqlite store per stack plays it
    assert outputs.mlflow_tracking_uri == f"sqlite:///{(state_dir / 'mlflow' / STACK / 'mlflow.db').resolve()}"
    assert "a Cloud Run service not run locally" in ledger["notes"]["outputs.mlflow_tracking_uri"]
    assert "Cloud SQL" in ledger["notes"]["gcp:sql/databaseInstance:DatabaseInstance"]
    clients = gcp_client_factory(settings)
    for zone in ("raw", "curated", "features", "models", "monitoring", "quarantine", "artifacts"):
        bucket = clients.storage().get_bucket(outputs.bucket_for_zone(zone))
        assert bucket.versioning_enabled, f"{zone} bucket is versioned as declared"
    sink = clients.subscriber().get_subscription(
        request={"subscription": f"projects/{clients.project}/subscriptions/{outputs.firehose_name}"}
    )
    dead_letter = f"projects/{clients.project}/topics/{(outputs.model_extra or {})['pubsub_dead_letter_topic']}"
    assert sink.dead_letter_policy.dead_letter_topic == dead_letter
    assert sink.dead_letter_policy.max_delivery_attempts == 5
    topics = [t.name for t in clients.publisher().list_topics(request={"project": f"projects/{clients.project}"})]
    assert f"projects/{clients.project}/topics/{outputs.stream_name}.partition-0000" in topics

    again = _mlops(state_dir, "local", "up")
    assert again["emulators"] == "reused"
    assert again["processes"] == first["processes"]
    counts = again["apply"]["counts"]
    assert (counts["updated"], counts["skipped"]) == (0, first["apply"]["counts"]["skipped"])
    # the kit's wheel is keyed by its content: a source edit between the two applies uploads a new one
    assert counts["created"] <= 1

    status = _mlops(state_dir, "local", "status")
    assert status["health"] == "running"
    assert status["counts"]["skipped"] > 0
    pids = [p["pid"] for p in status["processes"].values()]
    assert all(psutil.pid_exists(pid) for pid in pids)

    down = _mlops(state_dir, "local", "down")
    assert down["was"] == "running"
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)
    result = CliRunner().invoke(app, ["local", "status"], env=_env(state_dir))
    assert result.exit_code == 1
    assert "stopped" in result.stdout
