"""The Vertex AI batch prediction adapter of ``target: gcp`` (Vertex has no emulator): the ``BatchPredictionJob`` a
transform request becomes (validated as Vertex's own message type), the poll to a final state, and the port's
``.out`` files joined from the job's keyed ``predictions_*.jsonl``. The job service is an in-process stand-in that
answers each staged instance as the container would; the object store is the memory fake."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from google.cloud import aiplatform_v1

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.vertex_batch import VertexBatchPrediction
from mlops.adapters.gcp.vertex_batch_contract import json_value
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.outputs import StackOutputs
from mlops.ports.batch_transform import BatchTransformError, TransformFailedError, TransformRequest
from mlops.ports.hosting import Container
from mlops.settings import load_settings

SETTINGS = load_settings(cloud="gcp", target="gcp", gcp={"project": "mlops-test", "location": "europe-west4"})
PARENT = "projects/mlops-test/locations/europe-west4"
MODEL = f"{PARENT}/models/777"
BASE = "gs://artifacts/batch-transform/card_transactions/job-1"


class Models:
    def list_models(self, request: dict[str, str]) -> list[Any]:
        assert request["parent"] == PARENT
        found = request["filter"] == 'display_name="kit-model-v3"'
        return [aiplatform_v1.Model(name=MODEL, display_name="kit-model-v3")] if found else []


class Jobs:
    """Batch prediction jobs as Vertex keeps them: the states ``outcomes`` lists, one per read; on success each staged
    instance is answered (prediction: its first feature > 1) in ``predictions_00001.jsonl``."""

    def __init__(self, store: MemoryObjectStore, *outcomes: str) -> None:
        self.store = store
        self.outcomes = list(outcomes)
        self.created: list[aiplatform_v1.BatchPredictionJob] = []

    def create_batch_prediction_job(self, parent: str, batch_prediction_job: dict[str, Any]) -> Any:
        job: Any = aiplatform_v1.BatchPredictionJob(batch_prediction_job)  # Vertex's message: unknown fields fail here
        job.name = f"{parent}/batchPredictionJobs/1"
        job.state = aiplatform_v1.JobState.JOB_STATE_QUEUED
        self.created.append(job)
        return copy.deepcopy(job)

    def get_batch_prediction_job(self, name: str) -> Any:
        job = self.created[-1]
        job.state = getattr(aiplatform_v1.JobState, self.outcomes.pop(0))
        if job.state.name == "JOB_STATE_SUCCEEDED":
            job.output_info.gcs_output_directory = self._answer(job)
        if job.state.name == "JOB_STATE_FAILED":
            job.error.message = "quota exceeded"
        return copy.deepcopy(job)

    def _answer(self, job: aiplatform_v1.BatchPredictionJob) -> str:
        directory = job.output_config.gcs_destination.output_uri_prefix + "prediction-kit-model-v3-2026_01_01T00_00_00"
        lines = []
        for uri in job.input_config.gcs_source.uris:
            bucket, key = uri.removeprefix("gs://").split("/", 1)
            for raw in self.store.get(bucket, key).decode().splitlines():
                instance = json.loads(raw)
                first = instance[job.instance_config.included_fields[0]]
                answer = {"prediction": int(first > 1), "probability": 0.25}
                lines.append(json.dumps({"key": instance[job.instance_config.key_field], "prediction": answer}))
        bucket, key = directory.removeprefix("gs://").split("/", 1)
        self.store.put(bucket, f"{key}/predictions_00001.jsonl", "\n".join(lines).encode(), "application/jsonl")
        return directory


def _request(**changes: Any) -> TransformRequest:
    values: dict[str, Any] = {
        "job_name": "job-1",
        "model_name": "kit-model-v3",
        "container": Container(module="serving", environment={}),
        "input_prefix": f"{BASE}/input/",
        "output_prefix": f"{BASE}/output/",
        "skip_fields": 2,
    }
    return TransformRequest(**{**values, **changes})


def _adapter(*outcomes: str) -> tuple[VertexBatchPrediction, Jobs, MemoryObjectStore]:
    store = MemoryObjectStore(("artifacts",))
    store.put("artifacts", f"{BASE.removeprefix('gs://artifacts/')}/input/part-00000.csv", b"t1,c1,0.5,web\nt2,c2,3,\n")
    jobs = Jobs(store, *outcomes)
    known: dict[str, Any] = {"vertex_service_account": "vertex@mlops-test.iam.gserviceaccount.com"}
    outputs = StackOutputs.model_construct(**known)
    adapter = VertexBatchPrediction(
        GcpClients(SETTINGS), outputs, store, jobs=jobs, models=Models(), sleep=lambda _: None
    )
    return adapter, jobs, store


def test_the_request_becomes_a_keyed_jsonl_batch_prediction_job_on_the_uploaded_model() -> None:
    adapter, jobs, store = _adapter("JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
    done = adapter.start(_request())

    (job,) = jobs.created
    assert (job.display_name, job.model, job.service_account) == (
        "job-1",
        MODEL,
        "vertex@mlops-test.iam.gserviceaccount.com",
    )
    staged = f"{BASE}/output/vertex/instances/part-00000.csv.jsonl"
    assert (job.input_config.instances_format, list(job.input_config.gcs_source.uris)) == ("jsonl", [staged])
    assert (job.instance_config.instance_type, job.instance_config.key_field) == ("array", "key")
    assert list(job.instance_config.included_fields) == ["f0", "f1"]  # the two fields after the skipped keys
    assert job.output_config.predictions_format == "jsonl"
    assert job.output_config.gcs_destination.output_uri_prefix == f"{BASE}/output/vertex/"
    resources = job.dedicated_resources
    assert (resources.machine_spec.machine_type, resources.starting_replica_count) == ("n1-standard-2", 1)
    bucket, key = staged.removeprefix("gs://").split("/", 1)
    assert [json.loads(line) for line in store.get(bucket, key).decode().splitlines()] == [
        {"key": "part-00000.csv#0", "f0": 0.5, "f1": "web"},
        {"key": "part-00000.csv#1", "f0": 3, "f1": None},
    ]
    out = f"{BASE}/output/part-00000.csv.out"
    assert (done.status, done.outputs, done.arn) == ("Completed", (out,), f"{PARENT}/batchPredictionJobs/1")
    assert (
        store.get("artifacts", out.removeprefix("gs://artifacts/")).decode()
        == "t1,c1,0.5,web,0,0.25\nt2,c2,3,,1,0.25\n"
    )


def test_a_failed_job_fails_the_transform_with_vertexs_message() -> None:
    adapter, _, _ = _adapter("JOB_STATE_FAILED")
    with pytest.raises(TransformFailedError, match=r"ended JOB_STATE_FAILED: quota exceeded$"):
        adapter.start(_request())


def test_a_model_never_uploaded_is_named() -> None:
    adapter, jobs, _ = _adapter()
    with pytest.raises(BatchTransformError, match=r"model 'kit-model-v9' is not uploaded to Vertex AI"):
        adapter.start(_request(model_name="kit-model-v9"))
    assert not jobs.created


def test_csv_fields_become_the_json_values_vertex_passes_on() -> None:
    assert [json_value(v) for v in ["", "7", "-2.5", "1e3", "nan", "web", "007a"]] == [
        None,
        7,
        -2.5,
        1000.0,
        "nan",
        "web",
        "007a",
    ]


def test_failed_instances_or_a_missing_prediction_fail_the_job_naming_the_line() -> None:
    from mlops.adapters.gcp.vertex_batch_contract import join_outputs, stage_instances

    store = MemoryObjectStore(("artifacts",))
    store.put("artifacts", "b/input/part-00000.csv", b"t1,0.5\nt2,3\n")
    request = _request(input_prefix="gs://artifacts/b/input/", output_prefix="gs://artifacts/b/output/", skip_fields=1)
    stage_instances(store, request)
    job_dir = "gs://artifacts/b/output/vertex/prediction-kit-model-v3-1/"
    answered = {"key": "part-00000.csv#0", "prediction": {"prediction": 0}}
    store.put(
        "artifacts", "b/output/vertex/prediction-kit-model-v3-1/predictions_00001.jsonl", json.dumps(answered).encode()
    )
    with pytest.raises(TransformFailedError, match=r"part-00000.csv line 1: no prediction in the job's output$"):
        join_outputs(store, request, job_dir)
    refused = {"key": "part-00000.csv#1", "status": "the model answered 500: amount must not be negative"}
    store.put("artifacts", "b/output/vertex/prediction-kit-model-v3-1/errors_00001.jsonl", json.dumps(refused).encode())
    with pytest.raises(
        TransformFailedError, match=r"1 instances failed, first part-00000.csv#1: the model answered 500"
    ):
        join_outputs(store, request, job_dir)
