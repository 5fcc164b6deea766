"""Batch transform: the port's data contract (split by line, keys filtered, answers joined, mini-batches, failures
naming file and lines), the in-memory transform over the memory object store, the SageMaker adapter's requests
(Stubber), and serving's batch steps (plan, inputs, predictions dataset) on a memory platform."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.sagemaker_transform import SageMakerBatchTransform, transform_job_request
from mlops.adapters.memory.batch_transform import MemoryBatchTransform
from mlops.adapters.memory.endpoint import Handler, MemoryHosting
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.datasets import find_definition
from mlops.outputs import StackOutputs
from mlops.ports.batch_transform import (
    BatchTransformError,
    TransformFailedError,
    TransformJob,
    TransformJobNotFoundError,
    TransformRequest,
    transform_lines,
)
from mlops.ports.hosting import Container
from mlops.settings import load_settings
from mlops.wiring import memory_platform
from serving.batch import assemble_predictions, plan_job, transform_request, write_inputs
from serving.schema import ColumnSpec, InputSchema

CONTAINER = Container("serving", {"SERVING_MODEL_URI": "models:/m/3"})
ARN = "arn:aws:sagemaker:us-east-1:123456789012:transform-job/job-1"


def _request(records_per_request: int = 2_000, prefix: str = "memory://artifacts/bt/job-1") -> TransformRequest:
    return TransformRequest(
        job_name="job-1",
        model_name="kit-model-v3",
        container=CONTAINER,
        input_prefix=f"{prefix}/input/",
        output_prefix=f"{prefix}/output/",
        skip_fields=2,
        records_per_request=records_per_request,
    )


def _doubling(calls: list[bytes]) -> Handler:
    """A model server answering ``2 * amount,0.5`` per CSV line; a negative amount fails the request (500)."""

    def handle(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        assert (content_type, accept) == ("text/csv", "text/csv")
        calls.append(body)
        amounts = [float(line.split(",")[0]) for line in body.decode().splitlines()]
        if any(amount < 0 for amount in amounts):
            return (
                500,
                b'{"error_code": "PredictionError", "message": "amount must not be negative"}',
                "application/json",
            )
        return 200, "".join(f"{2 * amount},0.5\n" for amount in amounts).encode(), "text/csv"

    return handle


def _invoke(handler: Handler) -> Any:
    def invoke(body: bytes) -> tuple[int, bytes]:
        status, answer, _ = handler(body, "text/csv", "text/csv")
        return status, answer

    return invoke


def test_keys_are_filtered_out_and_answers_joined_to_their_lines_in_mini_batches() -> None:
    calls: list[bytes] = []
    text = 't1,"c,1",1.5,x\nt2,c2,2.0,y\n\nt3,c3,3.0,z\n'
    out = transform_lines(text, _request(records_per_request=2), _invoke(_doubling(calls)), "memory://a/in.csv")
    assert out == 't1,"c,1",1.5,x,3.0,0.5\nt2,c2,2.0,y,4.0,0.5\nt3,c3,3.0,z,6.0,0.5\n'
    assert calls == [b"1.5,x\n2.0,y", b"3.0,z"]


def test_a_failed_mini_batch_fails_the_job_naming_file_lines_and_message() -> None:
    text = "t1,c1,1.0,x\nt2,c2,2.0,x\nt3,c3,-3.0,x\n"
    with pytest.raises(TransformFailedError) as raised:
        transform_lines(text, _request(records_per_request=2), _invoke(_doubling([])), "memory://a/in.csv")
    assert str(raised.value) == (
        "transform job 'job-1' failed: memory://a/in.csv lines 2-2: the model answered 500: amount must not be negative"
    )


def test_an_answer_with_a_line_missing_fails_the_job() -> None:
    def short(body: bytes) -> tuple[int, bytes]:
        return 200, b"1\n"

    with pytest.raises(TransformFailedError, match=r"memory://a/in.csv lines 0-1: 1 answer lines for 2$"):
        transform_lines("t1,c1,1.0\nt2,c2,2.0\n", _request(), short, "memory://a/in.csv")


def test_the_memory_transform_writes_one_out_file_per_input_and_records_the_job() -> None:
    store = MemoryObjectStore()
    store.put("artifacts", "bt/job-1/input/part-00000.csv", b"t1,c1,1.0,x\n")
    store.put("artifacts", "bt/job-1/input/part-00001.csv", b"t2,c2,2.5,y\n")
    store.put("artifacts", "bt/other/input/part-00000.csv", b"not,this,job\n")
    transform = MemoryBatchTransform(store, MemoryHosting(serve=lambda container: _doubling([])))
    job = transform.start(_request())
    assert job == TransformJob(
        "job-1",
        "Completed",
        (
            "memory://artifacts/bt/job-1/output/part-00000.csv.out",
            "memory://artifacts/bt/job-1/output/part-00001.csv.out",
        ),
    )
    assert store.get("artifacts", "bt/job-1/output/part-00001.csv.out") == b"t2,c2,2.5,y,5.0,0.5\n"
    assert transform.status("job-1") == job
    with pytest.raises(TransformJobNotFoundError, match=r"^transform job 'job-9' does not exist$"):
        transform.status("job-9")


def test_a_failed_memory_transform_is_recorded_failed() -> None:
    store = MemoryObjectStore()
    store.put("artifacts", "bt/job-1/input/part-00000.csv", b"t1,c1,-1.0,x\n")
    transform = MemoryBatchTransform(store, MemoryHosting(serve=lambda container: _doubling([])))
    with pytest.raises(TransformFailedError):
        transform.start(_request())
    failed = transform.status("job-1")
    assert (failed.status, failed.outputs) == ("Failed", ())
    assert failed.failure is not None and "amount must not be negative" in failed.failure


def test_the_memory_transform_needs_an_in_process_server() -> None:
    with pytest.raises(BatchTransformError, match="no in-process server"):
        MemoryBatchTransform(MemoryObjectStore(), MemoryHosting()).start(_request())


def test_the_sagemaker_request_follows_the_same_data_contract() -> None:
    request = _request(prefix="s3://kit-artifacts/batch-transform/card_transactions/job-1")
    assert transform_job_request(request) == {
        "TransformJobName": "job-1",
        "ModelName": "kit-model-v3",
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "s3://kit-artifacts/batch-transform/card_transactions/job-1/input/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": "s3://kit-artifacts/batch-transform/card_transactions/job-1/output/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$[2:]", "JoinSource": "Input"},
    }


def _described_job(status: str, failure: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TransformJobName": "job-1",
        "TransformJobArn": ARN,
        "TransformJobStatus": status,
        "ModelName": "kit-model-v3",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://kit/bt/in/"}}},
        "TransformOutput": {"S3OutputPath": "s3://kit/bt/out/"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "CreationTime": 0,
    }
    if failure:
        job["FailureReason"] = failure
    return job


def test_the_sagemaker_job_starts_in_progress_and_lists_its_outputs_once_completed() -> None:
    clients = ClientFactory(load_settings(target="aws", region="us-east-1"))
    store = MemoryObjectStore()
    store.put("kit", "bt/out/part-00000.csv.out", b"")
    store.put("kit", "bt/out/_manifest", b"")
    transform = SageMakerBatchTransform(clients, store)
    request = _request(prefix="s3://kit/bt")
    with Stubber(clients.client("sagemaker")) as stub:
        stub.add_response("create_transform_job", {"TransformJobArn": ARN}, transform_job_request(request))
        stub.add_response("describe_transform_job", _described_job("InProgress"), {"TransformJobName": "job-1"})
        stub.add_response("describe_transform_job", _described_job("Completed"), {"TransformJobName": "job-1"})
        stub.add_response("describe_transform_job", _described_job("Failed", "ClientError: bad line"))
        stub.add_client_error("describe_transform_job", "ValidationException", "Could not find job")
        assert transform.start(request) == TransformJob("job-1", "InProgress", arn=ARN)
        assert transform.status("job-1") == TransformJob("job-1", "InProgress", arn=ARN)
        assert transform.status("job-1").outputs == ("s3://kit/bt/out/part-00000.csv.out",)
        assert transform.status("job-1").failure == "ClientError: bad line"
        with pytest.raises(TransformJobNotFoundError, match=r"^transform job 'job-2' does not exist"):
            transform.status("job-2")


def test_a_refused_sagemaker_job_names_job_and_model() -> None:
    clients = ClientFactory(load_settings(target="aws", region="us-east-1"))
    transform = SageMakerBatchTransform(clients, MemoryObjectStore())
    with Stubber(clients.client("sagemaker")) as stub:
        stub.add_client_error("create_transform_job", "ValidationException", "Could not find model")
        with pytest.raises(
            BatchTransformError,
            match=r"^starting transform job 'job-1' on model 'kit-model-v3' failed: Could not find model$",
        ):
            transform.start(_request())


_VALUES: dict[str, Any] = dict(
    artifacts_bucket="kit-artifacts",
    curated_bucket="kit-curated",
    features_bucket="kit-features",
    sagemaker_model_name="kit-model",
    endpoint_config_name="kit-config",
    endpoint_name="kit-endpoint",
    metrics_namespace="Kit",
    model_package_group="kit-models",
    mlflow_tracking_uri="sqlite:////tmp/unused.db",
)
OUTPUTS = StackOutputs.model_construct(**_VALUES)


def test_batch_steps_write_inputs_transform_and_assemble_the_predictions_dataset() -> None:
    platform = memory_platform(OUTPUTS)
    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    job = plan_job(platform, definition, "3")
    assert job.keys == ["transaction_id", "customer_id", "event_time"]
    assert job.input_prefix == f"memory://kit-artifacts/batch-transform/card_transactions/{job.name}/input/"
    assert job.output_prefix == f"memory://kit-artifacts/batch-transform/card_transactions/{job.name}/output/"
    assert (
        job.predictions_uri == f"memory://kit-curated/predictions/card_transactions/model_version=3/{job.name}.parquet"
    )

    features = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2"],
            "customer_id": ["c1", "c,2"],
            "event_time": pd.to_datetime(["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]),
            "amount": [1.5, 4.0],
            "channel": ["web", "pos"],
            "unused": [0, 0],
        }
    )
    schema = InputSchema((ColumnSpec("amount", "double"), ColumnSpec("channel", "string")))
    inputs = write_inputs(platform, job, features, schema)
    assert inputs == [f"{job.input_prefix}part-00000.csv"]

    hosting = platform.services.hosting
    assert isinstance(hosting, MemoryHosting)
    hosting.serve = lambda container: _doubling([])
    container = Container("serving", {})
    transform = platform.services.batch_transform.start(transform_request(platform, job, container))
    assert transform.outputs == (f"{job.output_prefix}part-00000.csv.out",)

    rows = assemble_predictions(
        platform,
        job,
        list(transform.outputs),
        {"transaction_id": "string", "customer_id": "string", "event_time": "timestamp"},
        5,
        ["prediction", "probability"],
    )
    assert rows == 2
    data = platform.services.object_store.get("kit-curated", job.predictions_uri.split("kit-curated/", 1)[1])
    predictions = pq.read_table(io.BytesIO(data)).to_pandas()
    assert list(predictions.columns) == [*job.keys, "prediction", "probability", "model_version", "job"]
    assert predictions["customer_id"].tolist() == ["c1", "c,2"]
    assert predictions["event_time"].tolist() == features["event_time"].tolist()
    assert predictions["prediction"].tolist() == [3.0, 8.0]
    assert predictions["probability"].tolist() == [0.5, 0.5]
    assert set(predictions["model_version"]) == {"3"}
