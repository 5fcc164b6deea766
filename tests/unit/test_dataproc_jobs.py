"""Dataproc Serverless jobs: the ``batches.create`` request the adapter sends for a run (built from the stack's
``dataproc_batches`` output), how it follows a batch to its end, and the local runner that plays Dataproc's batch
contract on the emulators (here on the memory object store, with small Python scripts instead of Spark jobs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.dataproc_v1", reason="the gcp extra is not installed")

from google.cloud import dataproc_v1

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.dataproc_batch import batch_id, batch_request, batch_template, ttl_seconds
from mlops.adapters.gcp.dataproc_jobs import DataprocJobs
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.local.dataproc_runner import LocalBatchController, local_dataproc_jobs
from mlops.outputs import StackOutputs
from mlops.ports.jobs import JobNotFoundError, JobRunFailedError
from mlops.settings import load_settings
from mlops.wiring import resolve

DEFAULTS = [
    "--JOB_NAME=mlops-kit-dev-curate",
    "--curated_bucket=curated",
    "--features_bucket=features",
    "--glue_database=mlops_kit_dev",
    "--MLOPS_ENVIRONMENT=dev",
]
EXECUTION = {
    "serviceAccount": "mlops-kit-dev-dataproc@my-project-1.iam.gserviceaccount.com",
    "subnetworkUri": "projects/my-project-1/regions/us-central1/subnetworks/mlops-kit-dev",
    "networkTags": ["dataproc"],
    "kmsKey": "projects/my-project-1/locations/us-central1/keyRings/k/cryptoKeys/dataproc",
    "stagingBucket": "artifacts",
}


def _template(script: str = "gs://artifacts/dataproc/scripts/ab/curate.py") -> dict[str, Any]:
    return {
        "pysparkBatch": {
            "mainPythonFileUri": script,
            "pythonFileUris": ["gs://artifacts/dataproc/packages/cd/mlops_kit-0.1.0-py3-none-any.whl"],
            "args": list(DEFAULTS),
        },
        "runtimeConfig": {"version": "2.2"},
        "environmentConfig": {"executionConfig": dict(EXECUTION)},
        "labels": {"project": "mlops-kit", "job": "curate"},
    }


def _outputs(**templates: dict[str, Any]) -> StackOutputs:
    values: dict[str, Any] = {
        "stack": "dev",
        "environment": "dev",
        "artifacts_bucket": "artifacts",
        "glue_jobs": {key: f"mlops-kit-dev-{key}" for key in templates},
        "dataproc_batches": templates,
    }
    return StackOutputs.model_construct(**values)


def _gcp_clients(tmp_path: Path, target: str = "gcp") -> GcpClients:
    settings = load_settings(cloud="gcp", target=target, gcp={"project": "my-project-1"}, state_dir=tmp_path)
    return GcpClients(settings)


class _Controller:
    """Records the create call and answers ``get_batch`` from a list of batches (the service's successive answers)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.created: list[dict[str, Any]] = []

    def create_batch(self, *, parent: str, batch: Any, batch_id: str) -> None:
        self.created.append({"parent": parent, "batch": json.loads(dataproc_v1.Batch.to_json(batch)), "id": batch_id})

    def get_batch(self, *, name: str) -> Any:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return dataproc_v1.Batch.from_json(json.dumps({"name": name, **answer}))


def test_a_run_sends_the_stacks_batch_with_its_arguments_and_the_jobs_environment(tmp_path: Path) -> None:
    outputs = _outputs(curate=_template())
    clients = _gcp_clients(tmp_path)
    jobs = DataprocJobs(
        _Controller([]),
        outputs,
        MemoryObjectStore(),
        project="my-project-1",
        location="us-central1",
        driver_env=clients.subprocess_env(),
    )
    run_id, body = jobs.request("curate", {"dataset": "card_transactions", "--JOB_NAME": "mine"})
    assert re.fullmatch(r"mlops-kit-dev-curate-\d{14}-[0-9a-f]{6}", run_id)
    assert (
        body["pysparkBatch"]["args"]
        == [
            "--JOB_NAME=mine",  # a run's argument overrides the default of that name, in its place
            *DEFAULTS[1:],
            "--dataset=card_transactions",
            f"--JOB_RUN_ID={run_id}",
        ]
    )
    assert body["pysparkBatch"]["mainPythonFileUri"] == "gs://artifacts/dataproc/scripts/ab/curate.py"
    assert body["runtimeConfig"] == {
        "version": "2.2",
        "properties": {  # what jobs/_runtime.py's settings read on the driver: Google Cloud, no emulator host
            "spark.dataproc.driverEnv.MLOPS_CLOUD": "gcp",
            "spark.dataproc.driverEnv.MLOPS_TARGET": "gcp",
            "spark.dataproc.driverEnv.MLOPS_GCP__PROJECT": "my-project-1",
            "spark.dataproc.driverEnv.MLOPS_GCP__LOCATION": "us-central1",
        },
    }
    assert body["environmentConfig"] == {"executionConfig": EXECUTION}
    assert body["labels"] == {"project": "mlops-kit", "job": "curate", "dataset": "card-transactions"}
    assert (outputs.model_extra or {})["dataproc_batches"][
        "curate"
    ] == _template()  # the stack's template is not changed by a run
    parsed = json.loads(dataproc_v1.Batch.to_json(dataproc_v1.Batch.from_json(json.dumps(body))))
    assert parsed["pysparkBatch"]["args"] == body["pysparkBatch"]["args"]  # a valid Batch, nothing dropped


def test_the_adapter_follows_the_batch_and_its_driver_output_to_the_end(tmp_path: Path) -> None:
    store = MemoryObjectStore(buckets=("artifacts",))
    output = "google-cloud-dataproc-metainfo/u1/jobs/srvls-batch-u1/driveroutput"
    store.put("artifacts", f"{output}.000000000", b'reading batches\nmlops-job-result {"rows_in": ')
    store.put("artifacts", f"{output}.000000001", b'3, "table_version": 0}\n')
    running = {"state": "RUNNING", "runtimeInfo": {"outputUri": f"memory://artifacts/{output}"}}
    done = {**running, "state": "SUCCEEDED", "createTime": "2026-11-29T08:00:00Z", "stateTime": "2026-11-29T08:01:00Z"}
    controller = _Controller([{"state": "PENDING"}, running, done])
    jobs = DataprocJobs(
        controller, _outputs(curate=_template()), store, project="p-12345", location="europe-west1", driver_env={},
        poll_seconds=0, sleep=lambda _s: None,
    )  # fmt: skip
    lines: list[str] = []
    run = jobs.run("curate", {"dataset": "d"}, on_line=lines.append)
    assert controller.created[0]["parent"] == "projects/p-12345/locations/europe-west1"
    assert controller.created[0]["id"] == run.run_id
    assert (run.state, run.error, run.counts) == ("SUCCEEDED", None, {"rows_in": 3, "table_version": 0})
    assert lines == ["reading batches", 'mlops-job-result {"rows_in": 3, "table_version": 0}']
    assert (run.started_at, run.finished_at) == ("2026-11-29T08:00:00+00:00", "2026-11-29T08:01:00+00:00")
    assert run.record_uri == f"projects/p-12345/locations/europe-west1/batches/{run.run_id}"
    assert run.arguments["--dataset"] == "d" and run.arguments["--JOB_RUN_ID"] == run.run_id


def test_a_failed_batch_raises_with_dataprocs_state_message() -> None:
    failed = {"state": "FAILED", "stateMessage": "Job failed with message [ValueError: bad row 7]"}
    jobs = DataprocJobs(
        _Controller([failed]), _outputs(curate=_template()), MemoryObjectStore(), project="p-12345",
        location="us-central1", driver_env={}, sleep=lambda _s: None,
    )  # fmt: skip
    with pytest.raises(JobRunFailedError, match=r"ended FAILED: Job failed with message \[ValueError: bad row 7\]"):
        jobs.run("curate")


def test_a_job_the_stack_does_not_declare_is_not_found_and_named() -> None:
    with pytest.raises(JobNotFoundError, match=r"no Dataproc batch 'curate'; declared: build_features"):
        batch_template(_outputs(build_features=_template()), "curate")
    values: dict[str, Any] = {"stack": "old"}
    bare = StackOutputs.model_construct(**values)
    with pytest.raises(JobNotFoundError, match=r"stack 'old' has no output 'dataproc_batches'"):
        batch_template(bare, "curate")


def test_batch_ids_fit_dataprocs_rule_whatever_the_prefix() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 29, 8, 0, 1, tzinfo=UTC)
    assert (
        batch_id("mlops-kit-dev-build_features", now, "a1b2c3") == "mlops-kit-dev-build-features-20261129080001-a1b2c3"
    )
    long = batch_id("a-very-long-project-name-" * 4, now, "a1b2c3")
    assert len(long) == 63 and long.endswith("-20261129080001-a1b2c3")


def test_auto_picks_dataproc_and_bigquery_on_google_cloud_and_the_kits_runners_on_the_emulators() -> None:
    cloud = load_settings(cloud="gcp", target="gcp")
    local = load_settings(cloud="gcp", target="gcp-emulators")
    assert (resolve(cloud, "jobs"), resolve(cloud, "catalog")) == ("dataproc", "bigquery")
    assert (resolve(local, "jobs"), resolve(local, "catalog")) == ("local", "local")


def test_a_job_on_dataproc_wires_the_gcp_services_from_its_driver_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs._runtime import job_settings

    env = _gcp_clients(tmp_path, "gcp-emulators").subprocess_env()
    assert env == {
        "MLOPS_CLOUD": "gcp",
        "MLOPS_TARGET": "gcp-emulators",
        "MLOPS_GCP__PROJECT": "my-project-1",
        "MLOPS_GCP__LOCATION": "us-central1",
    }
    for name, value in {**env, "MLOPS_GCP__STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    settings = job_settings()
    assert (settings.cloud, settings.target, settings.gcp.project) == ("gcp", "gcp-emulators", "my-project-1")
    assert settings.gcp.storage_emulator_host == "http://127.0.0.1:9"


def test_tasks_open_gs_files_at_the_emulator_the_table_stores_options_name() -> None:
    from mlops.adapters.gcp.clients import EmulatorHosts
    from mlops.adapters.gcp.gcs_delta import gcs_storage_options
    from mlops.lake.arrow_files import gcs_arguments

    emulated = GcpClients(
        load_settings(cloud="gcp", target="gcp-emulators"), EmulatorHosts(storage="http://127.0.0.1:9")
    )
    assert gcs_arguments(gcs_storage_options(emulated)) == {
        "anonymous": True,
        "endpoint_override": "127.0.0.1:9",
        "scheme": "http",
    }
    assert gcs_arguments({}) == {}  # Google Cloud: Application Default Credentials


# --- the local runner: Dataproc's batch contract on the emulators --------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[DataprocJobs, LocalBatchController, MemoryObjectStore]]:
    store = MemoryObjectStore(buckets=("artifacts",))
    clients = _gcp_clients(tmp_path, "gcp-emulators")
    template = _template("memory://artifacts/scripts/job.py")
    template["environmentConfig"]["executionConfig"]["ttl"] = "2s"
    jobs = local_dataproc_jobs(clients, _outputs(job=template), store)
    controller = jobs._controller
    assert isinstance(controller, LocalBatchController)
    yield jobs, controller, store


def _script(store: MemoryObjectStore, body: str) -> None:
    store.put("artifacts", "scripts/job.py", body.encode())


def test_the_local_runner_plays_a_batch_to_success_with_its_record_output_and_counts(local: Any) -> None:
    jobs, controller, store = local
    _script(
        store,
        "import os, sys\n"
        "print('args', sys.argv[1:3])\n"
        "print('cloud', os.environ['MLOPS_CLOUD'], os.environ['MLOPS_TARGET'])\n"
        "print('mlops-job-result {\"rows_in\": 2}')\n",
    )
    lines: list[str] = []
    run = jobs.run("job", {"dataset": "d"}, on_line=lines.append)
    assert lines == [
        "args ['--JOB_NAME=mlops-kit-dev-curate', '--curated_bucket=curated']",
        "cloud gcp gcp-emulators",  # the request's driver environment reached the script
        'mlops-job-result {"rows_in": 2}',
    ]
    assert (run.state, run.counts) == ("SUCCEEDED", {"rows_in": 2})
    record = json.loads(Path(run.record_uri).read_text())
    assert Path(run.record_uri).parent == controller.directory
    assert [h["state"] for h in record["stateHistory"]] + [record["state"]] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert record["name"].endswith(f"/batches/{run.run_id}")
    _, _, prefix = run.log_group.partition("memory://artifacts/")
    assert prefix.startswith("google-cloud-dataproc-metainfo/") and prefix.endswith("/driveroutput")
    assert store.list_keys("artifacts", prefix)  # the driver output, where Dataproc writes it


def test_a_failing_script_fails_the_batch_with_its_last_line(local: Any) -> None:
    jobs, _, store = local
    _script(store, "print('reading')\nraise SystemExit('ValueError: bad row 7')\n")
    with pytest.raises(JobRunFailedError) as failed:
        jobs.run("job")
    assert (failed.value.run.state, failed.value.run.error) == ("FAILED", "ValueError: bad row 7")


def test_a_batch_past_its_ttl_is_stopped_and_fails_saying_so(local: Any) -> None:
    jobs, _, store = local
    _script(store, "import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    with pytest.raises(JobRunFailedError) as failed:
        jobs.run("job")
    assert failed.value.run.error == "the job ran past its ttl of 2 s and was stopped (last line: 'working')"


def test_a_batch_whose_runner_died_reads_failed(local: Any) -> None:
    _, controller, _ = local
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    controller.directory.mkdir(parents=True)
    name = "projects/my-project-1/locations/us-central1/batches/b-1"
    record = {"name": name, "state": "RUNNING", "runner_pid": gone.pid, "runner_started": 1.0}
    (controller.directory / "b-1.json").write_text(json.dumps(record))
    batch = controller.get_batch(name=name)
    assert dataproc_v1.Batch.State(batch.state).name == "FAILED"
    assert batch.state_message == f"its runner (pid {gone.pid}) died; the batch's processes were stopped with it"


def test_the_ttl_of_a_request_reads_in_seconds() -> None:
    assert ttl_seconds({"environmentConfig": {"executionConfig": {"ttl": "3600s"}}}) == 3600.0
    assert ttl_seconds(batch_request(_template(), batch="b-1", arguments={}, driver_env={})) is None
