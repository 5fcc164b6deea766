"""``curate`` as a Dataproc batch on local Google Cloud: the wiring's job runner for ``cloud: gcp`` on the emulators
submits the stack's batch through the Dataproc adapter to the kit's local runner, which runs the same
``jobs/curate.py`` with local PySpark; the job reaches the GCS emulator (Delta on ``gs://``) and registers its table
in the catalog through the ports its own settings wire, and the caller reads both back through its ports."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops import layout
from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.dataproc_jobs import DataprocJobs
from mlops.local.dataproc_runner import LocalBatchController
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.settings import Settings
from mlops.wiring import build_platform

pytestmark = [pytest.mark.server, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[3]
DATASET = "card_transactions"


@pytest.fixture
def gcp_lake(gcp_settings: Settings, gcp_clients: GcpClients, tmp_path: Path) -> Platform:
    """Fresh buckets and the curate batch declared as the infra program exports it (``dataproc_batches``)."""
    suffix = uuid.uuid4().hex[:8]
    buckets = {zone: f"{zone}-{suffix}" for zone in ("curated", "features", "artifacts", "monitoring")}
    for bucket in buckets.values():
        gcp_clients.storage().create_bucket(bucket)
    script = "dataproc/scripts/curate.py"
    gcp_clients.storage().bucket(buckets["artifacts"]).blob(script).upload_from_filename(str(REPO / "jobs/curate.py"))
    batch = "mlops-kit-test-curate"
    template = {
        "pysparkBatch": {
            "mainPythonFileUri": f"gs://{buckets['artifacts']}/{script}",
            "args": [
                f"--JOB_NAME={batch}",
                f"--curated_bucket={buckets['curated']}",
                f"--features_bucket={buckets['features']}",
                "--glue_database=mlops_kit_test",
                "--MLOPS_ENVIRONMENT=test",
            ],
        },
        "runtimeConfig": {"version": "2.2"},
        "environmentConfig": {"executionConfig": {"stagingBucket": buckets["artifacts"], "ttl": "600s"}},
        "labels": {"job": "curate"},
    }
    values: dict[str, Any] = {
        "stack": "test",
        "environment": "test",
        **{f"{zone}_bucket": name for zone, name in buckets.items()},
        "glue_database": "mlops_kit_test",
        "glue_jobs": {"curate": batch},
        "dataproc_batches": {"curate": template},
    }
    settings = gcp_settings.model_copy(update={"state_dir": tmp_path})
    return build_platform(settings, StackOutputs.model_construct(**values))


def _validated_batch(platform: Platform, batch_id: str, ids: list[str]) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {
            "transaction_id": tid,
            "customer_id": f"c{n % 2}",
            "merchant_id": "m1",
            "event_time": start + timedelta(minutes=7 * n),
            "amount": 10.0 + n,
            "category": "grocery",
            "channel": "online",
            "country": "FR",
            "is_fraud": n % 2,
        }
        for n, tid in enumerate(ids)
    ]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    key = layout.validated_key(DATASET, batch_id)
    platform.services.object_store.put(platform.layout.bucket("curated"), key, sink.getvalue())


def test_curate_runs_as_a_local_dataproc_batch_over_the_gcs_emulator(gcp_lake: Platform) -> None:
    jobs = gcp_lake.services.jobs
    assert isinstance(jobs, DataprocJobs) and isinstance(jobs._controller, LocalBatchController)
    _validated_batch(gcp_lake, "b1", ["t1", "t2", "t3", "t2"])  # t2 twice: curate keeps one

    lines: list[str] = []
    run = jobs.run("curate", {"dataset": DATASET}, on_line=lines.append)

    assert run.state == "SUCCEEDED", lines[-20:]
    assert run.counts["rows_in"] == 4 and run.counts["table_version"] == 0
    assert run.counts["rows_curated"] == 3 and run.counts["duplicates_removed"] == 1
    table = gcp_lake.layout.table_uri("curated", DATASET)
    assert table.startswith("gs://")
    assert sorted(gcp_lake.services.table_store.read(table).data.column("transaction_id").to_pylist()) == [
        "t1",
        "t2",
        "t3",
    ]
    # registered by the job's own process in the Firestore emulator, read here through the caller's port
    entry = gcp_lake.services.catalog.get_table("mlops_kit_test", layout.catalog_table(DATASET, "curated"))
    assert (entry.location, entry.version) == (table, 0)
    record = json.loads(Path(str(run.record_uri)).read_text())
    assert record["state"] == "SUCCEEDED" and record["pysparkBatch"]["args"][-1] == f"--JOB_RUN_ID={run.run_id}"
