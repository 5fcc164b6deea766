"""The platform end to end on local Google Cloud, as a user runs it: ``cloud: gcp`` settings, the gcp-local stack
applied by ``mlops local up`` to the session's emulators, then the same CLI commands as on AWS, in process. The
capability code is the AWS path's, unchanged: only the wiring picks the GCP adapters and the local runners.

Covered, in the order of the main job: ingest (a second ingest of the same file stores nothing) -> validate ->
curate -> build features (the jobs as Dataproc batches played by the local runner with PySpark, Delta on the GCS
emulator, tables in the local catalog) -> train (the deployed pipeline definition run by the kit's executor, the
training job played as a Vertex custom job) -> register (MLflow in the sqlite store the apply plays, the package in
the Firestore emulator) -> promote -> materialize (Firestore) -> deploy (Vertex's container contract, played by a
local process) -> predict -> batch predict (a Vertex batch prediction job played locally) -> stream produce
(Pub/Sub, ordering keys per entity; invalid rows quarantined) -> stream consume (online features into Firestore,
checkpoints and leases in Firestore).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local import gcp_emulators
from mlops.outputs import StackOutputs, load_outputs
from mlops.platform import Platform
from mlops.settings import load_settings
from mlops.wiring import build_platform

pytestmark = [pytest.mark.server, pytest.mark.pulumi, pytest.mark.spark]

STACK = "gcp-local"
DATASET = "card_transactions"
# a short search: the test checks the flow, not the model
REQUEST_CSV = """amount,category,channel,country,hour_of_day,day_of_week,seconds_since_last_txn,txn_count_1h,\
txn_count_24h,amount_mean_7d,amount_max_7d,amount_std_30d,amount_sum_24h
24.5,grocery,card_present,US,14,2,86400,1,2,31.0,60.0,12.0,55.5
950.0,electronics,online,NG,3,6,45,5,7,80.0,950.0,120.0,1900.0
"""
FAST = {"max_iter": "30", "search_learning_rate": "0.2", "search_max_leaf_nodes": "15"}


@dataclass(frozen=True)
class LocalGcp:
    """The environment every command of the test runs with, and where the state (outputs, files) lives."""

    env: dict[str, str]
    state_dir: Path

    def mlops(self, *args: str) -> Any:
        """``mlops ARGS --json`` in process; its JSON answer."""
        return json.loads(self.run(*args, "--json"))

    def run(self, *args: str) -> str:
        """``mlops ARGS`` in process; what it printed on stdout."""
        result = CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, f"mlops {' '.join(args)} exited {result.exit_code}:\n{result.output[-3000:]}"
        return result.stdout

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
        # as in the rest of the suite, each job starts its own JVM: `up` starts no Spark server to outlive the test
        "MLOPS_LOCAL_SPARK__ENABLED": "false",
    }
    local = LocalGcp(env, state_dir)
    up = local.mlops("local", "up")
    assert (up["emulators"], up["spark_connect"]) == ("given", None)
    assert up["apply"]["counts"]["skipped"] > 0
    return local


def test_the_data_pipeline_and_train_deploy_predict_run_on_local_gcp(local_gcp: LocalGcp) -> None:
    work = local_gcp.state_dir / "work"
    work.mkdir()
    q1 = work / "q1.csv"
    _ingest_and_validate(local_gcp, q1)
    _curate_and_build_features(local_gcp)
    version = _train_and_promote(local_gcp)
    _deploy_and_predict(local_gcp, version, _customers(q1)[0], work)
    _stream(local_gcp, work / "q2.parquet")


def _ingest_and_validate(local_gcp: LocalGcp, q1: Path) -> None:
    # a quarter's worth: the newest two weeks (the holdout) must hold frauds for the quality bar to judge
    local_gcp.mlops(
        "data", "generate", DATASET, "--rows", "12000", "--seed", "1", "--start", "2024-01-01", "--out", str(q1)
    )
    first = local_gcp.mlops("data", "ingest", DATASET, str(q1))
    assert [o["status"] for o in local_gcp.mlops("data", "ingest", DATASET, str(q1))] == ["already_ingested"]
    raw = local_gcp.outputs().raw_bucket
    assert local_gcp.platform().services.object_store.list_keys(raw, f"{DATASET}/") != []
    [validated] = local_gcp.mlops("data", "validate", DATASET, "--all-pending")
    assert (validated["batch_id"], validated["success"]) == (first[0]["batch_id"], True)


def _curate_and_build_features(local_gcp: LocalGcp) -> None:
    curated = local_gcp.mlops("job", "run", "curate", "--arg", f"dataset={DATASET}")
    assert (curated["state"], curated["counts"]["rows_curated"]) == ("SUCCEEDED", 12000), curated["error"]
    features = local_gcp.mlops("job", "run", "build_features", "--arg", f"dataset={DATASET}")
    assert (features["state"], features["counts"]["rows_out"]) == ("SUCCEEDED", 12000), features["error"]
    platform = local_gcp.platform()
    table = platform.services.table_store.read(platform.layout.feature_table_uri(DATASET))
    assert table.data.num_rows == 12000  # Delta on the GCS emulator, written by the Spark job


def _train_and_promote(local_gcp: LocalGcp) -> int:
    trained = local_gcp.mlops("train", "run", DATASET, *(f"--hp={k}={v}" for k, v in FAST.items()))
    assert trained["status"] == "Succeeded", trained["failure_reason"]
    assert [step["name"] for step in trained["steps"]] == ["Prepare", "Train", "Evaluate", "QualityBar", "Register"]
    assert "/pipelineJobs/" in trained["execution_arn"]  # named as Vertex names a pipeline job
    promoted = local_gcp.mlops("model", "promote", DATASET)
    assert promoted["challenger_version"] == trained["mlflow_version"]
    champion = local_gcp.platform().services.model_registry.version(DATASET, "champion")
    assert (champion.version, champion.package_stage) == (trained["mlflow_version"], "Production")
    return int(trained["mlflow_version"])


def _deploy_and_predict(local_gcp: LocalGcp, version: int, customer: str, work: Path) -> None:
    assert local_gcp.mlops("features", "materialize", DATASET)["entities"] > 0
    deployed = local_gcp.mlops("deploy", DATASET)
    assert (deployed["status"], deployed["version"]) == ("InService", str(version))
    try:
        # an entity request: the endpoint looks the customer's features up in the online store (Firestore)
        request = work / "request.json"
        request.write_text(json.dumps({"dataframe_records": [{"customer_id": customer}]}))
        answer = json.loads(local_gcp.run("predict", str(request)))
        assert len(answer["predictions"]) == len(answer["probabilities"]) == 1
        assert 0.0 <= answer["probabilities"][0] <= 1.0
        rows = work / "request.csv"
        rows.write_text(REQUEST_CSV)
        scored = local_gcp.run("predict", str(rows), "--content-type", "text/csv", "--accept", "text/csv")
        assert len(scored.splitlines()) == 2  # one "label,probability" line per row
    finally:
        local_gcp.run("endpoint", "stop")
    # batch inference: the feature table scored by the serving container as a Vertex batch prediction job
    batch = local_gcp.mlops("batch-predict", DATASET)
    assert (batch["rows"], batch["model_version"]) == (12000, str(version))
    assert batch["predictions_uri"].startswith(f"gs://{local_gcp.outputs().curated_bucket}/")


def _stream(local_gcp: LocalGcp, q2: Path) -> None:
    # the second quarter, with an unknown category from late April, as events on Pub/Sub
    local_gcp.mlops(
        "data", "generate", DATASET, "--rows", "2000", "--seed", "2", "--start", "2024-04-01",
        "--drift-start", "2024-04-20", "--drift", "new_category", "--out", str(q2),
    )  # fmt: skip
    produced = local_gcp.mlops("stream", "produce", DATASET, str(q2))
    assert produced["quarantined"] > 0, "the unknown category is quarantined, not sent"
    assert produced["sent"] + produced["quarantined"] == produced["rows_read"]
    consumed = local_gcp.mlops("stream", "consume", DATASET, "--seed-from-curated", "--idle-seconds", "2")
    assert consumed["read"] == produced["sent"]
    assert consumed["written"] > 0
    customers = sorted(set(pq.read_table(q2, columns=["customer_id"]).column("customer_id").to_pylist()))
    online = local_gcp.platform().services.online_store.read(DATASET, customers)
    # every customer with a valid event has its latest features online (a few had only quarantined rows)
    assert 0.9 * len(customers) <= len(online) <= len(customers)


def _customers(path: Path) -> list[str]:
    return sorted(set(pacsv.read_csv(path).column("customer_id").to_pylist()))
