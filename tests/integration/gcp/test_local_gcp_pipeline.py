"""The platform end to end on local Google Cloud, as a user runs it: ``cloud: gcp`` settings, the gcp-local stack
applied by ``mlops local up`` to the session's emulators, then the same CLI commands as on AWS, in process. The
capability code is the AWS path's, unchanged: only the wiring picks the GCP adapters and the local runners.

Covered: ingest (a second ingest of the same file stores nothing) -> validate (bad rows quarantined with their
reason) -> stream produce (Pub/Sub, ordering keys per entity) -> stream consume (online features into Firestore,
checkpoints and leases in Firestore).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local import gcp_emulators
from mlops.outputs import StackOutputs, load_outputs
from mlops.platform import Platform
from mlops.settings import load_settings
from mlops.wiring import build_platform

pytestmark = [pytest.mark.server, pytest.mark.pulumi]

STACK = "gcp-local"
DATASET = "card_transactions"


@dataclass(frozen=True)
class LocalGcp:
    """The environment every command of the test runs with, and where the state (outputs, files) lives."""

    env: dict[str, str]
    state_dir: Path

    def mlops(self, *args: str) -> Any:
        """``mlops ARGS --json`` in process; its JSON answer."""
        result = CliRunner().invoke(app, [*args, "--json"], env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, f"mlops {' '.join(args)} exited {result.exit_code}:\n{result.output[-3000:]}"
        return json.loads(result.stdout)

    def platform(self) -> Platform:
        """The stack as capability code sees it (to check what the commands left behind)."""
        settings = load_settings(
            state_dir=self.state_dir,
            cloud="gcp",
            target="gcp-emulators",
            stack=STACK,
            gcp={
                "storage_emulator_host": self.env["MLOPS_GCP__STORAGE_EMULATOR_HOST"],
                "pubsub_emulator_host": self.env["MLOPS_GCP__PUBSUB_EMULATOR_HOST"],
                "firestore_emulator_host": self.env["MLOPS_GCP__FIRESTORE_EMULATOR_HOST"],
            },
        )
        return build_platform(settings, self.outputs())

    def outputs(self) -> StackOutputs:
        return load_outputs(self.state_dir / "outputs" / f"{STACK}.json", STACK)


@pytest.fixture(scope="module")
def local_gcp(gcp_emulator_set: gcp_emulators.GcpEmulators, tmp_path_factory: pytest.TempPathFactory) -> LocalGcp:
    """The gcp-local stack applied by `mlops local up` to the session's emulators (named in the settings, so up
    starts none of its own)."""
    hosts = gcp_emulator_set.hosts()
    state_dir = tmp_path_factory.mktemp("local-gcp")
    env = {
        "MLOPS_STATE_DIR": str(state_dir),
        "MLOPS_CLOUD": "gcp",
        "MLOPS_TARGET": "gcp-emulators",
        "MLOPS_STACK": STACK,
        "MLOPS_GCP__PROJECT": gcp_emulator_set.project,
        "MLOPS_GCP__STORAGE_EMULATOR_HOST": f"http://{hosts['gcs']}",
        "MLOPS_GCP__PUBSUB_EMULATOR_HOST": hosts["pubsub"],
        "MLOPS_GCP__FIRESTORE_EMULATOR_HOST": hosts["firestore"],
    }
    local = LocalGcp(env, state_dir)
    up = local.mlops("local", "up")
    assert up["emulators"] == "given"
    assert up["apply"]["counts"]["skipped"] > 0
    return local


def test_the_data_pipeline_runs_on_local_gcp(local_gcp: LocalGcp) -> None:
    work = local_gcp.state_dir / "work"
    work.mkdir()
    q1, q2 = work / "q1.csv", work / "q2.parquet"
    local_gcp.mlops(
        "data", "generate", DATASET, "--rows", "3000", "--seed", "1", "--start", "2024-01-01", "--out", str(q1)
    )
    first = local_gcp.mlops("data", "ingest", DATASET, str(q1))
    assert [o["status"] for o in local_gcp.mlops("data", "ingest", DATASET, str(q1))] == ["already_ingested"]
    outputs = local_gcp.outputs()
    platform = local_gcp.platform()
    assert platform.services.object_store.list_keys(outputs.raw_bucket, f"{DATASET}/") != []
    [validated] = local_gcp.mlops("data", "validate", DATASET, "--all-pending")
    assert (validated["batch_id"], validated["success"]) == (first[0]["batch_id"], True)

    # the second quarter, with an unknown category from late April, as events on Pub/Sub
    local_gcp.mlops(
        "data", "generate", DATASET, "--rows", "2000", "--seed", "2", "--start", "2024-04-01",
        "--drift-start", "2024-04-20", "--drift", "new_category", "--out", str(q2),
    )  # fmt: skip
    produced = local_gcp.mlops("stream", "produce", DATASET, str(q2))
    assert produced["quarantined"] > 0, "the unknown category is quarantined, not sent"
    assert produced["sent"] + produced["quarantined"] == produced["rows_read"]
    consumed = local_gcp.mlops("stream", "consume", DATASET, "--idle-seconds", "2")
    assert consumed["read"] == produced["sent"]
    assert consumed["written"] > 0
    customers = sorted(set(pq.read_table(q2, columns=["customer_id"]).column("customer_id").to_pylist()))
    online = platform.services.online_store.read(DATASET, customers)
    # every customer with a valid event has its latest features online (a few had only quarantined rows)
    assert 0.9 * len(customers) <= len(online) <= len(customers)
