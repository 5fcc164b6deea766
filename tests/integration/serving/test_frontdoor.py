"""The kit's one local endpoint URL (the front door): the SageMaker runtime API answered by the local model
processes with SageMaker's headers and errors, every other service passed to moto, endpoint metrics in the
emulator's CloudWatch and data capture in SageMaker's layout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from mlops.adapters.aws.s3 import S3ObjectStore
from mlops.capture import read_capture
from mlops.layout import split_uri
from mlops.local import endpoint_runner
from mlops.local.clients import clients_of
from mlops.local.frontdoor import client as frontdoor
from mlops.local.hosting import LocalEndpoint, LocalHosting
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointInvocationError, EndpointNotFoundError
from tests.integration.serving.frontdoor_support import VARIANT, runtime_client, toy_spec

pytestmark = [pytest.mark.emulator, pytest.mark.server]

ENDPOINT = "fd-echo"
CAPTURE_URI_KEY = "fd-capture"


@pytest.fixture(scope="module")
def echo(platform: Platform) -> Iterator[str]:
    """The stand-in model at ``fd-echo``: fails on inputs holding ``boom``, captures everything."""
    bucket = platform.outputs.monitoring_bucket
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/{CAPTURE_URI_KEY}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }
    spec = toy_spec(platform, ENDPOINT, "7", env={"TOY_FAIL_MARKER": "boom"}, capture=capture)
    LocalHosting(platform, health_timeout=60).deploy(spec)
    try:
        yield ENDPOINT
    finally:
        LocalHosting(platform).stop(ENDPOINT)


def test_the_client_factory_hands_out_the_front_door(platform: Platform) -> None:
    url = frontdoor.frontdoor_url(platform.settings)
    assert url is not None and clients_of(platform).endpoint_url == url


def test_plain_boto3_invoke_endpoint_returns_the_models_answer(platform: Platform, echo: str) -> None:
    answer = runtime_client(platform).invoke_endpoint(
        EndpointName=echo,
        Body=b'{"x": 1}',
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace=abc",
    )
    body = json.loads(answer["Body"].read())
    assert body == {"version": "7", "echo": '{"x": 1}', "accept": "application/json"}
    assert answer["InvokedProductionVariant"] == VARIANT
    assert answer["CustomAttributes"] == "echo=trace=abc"
    assert answer["ContentType"] == "application/json"


def test_target_variant_and_response_stream(platform: Platform, echo: str) -> None:
    client = runtime_client(platform)
    pinned = client.invoke_endpoint(EndpointName=echo, Body=b"1,2", ContentType="text/csv", TargetVariant=VARIANT)
    assert json.loads(pinned["Body"].read())["echo"] == "1,2"
    with pytest.raises(client.exceptions.ValidationError, match="Target variant Nope not found"):
        client.invoke_endpoint(EndpointName=echo, Body=b"1", ContentType="text/csv", TargetVariant="Nope")

    streamed = client.invoke_endpoint_with_response_stream(EndpointName=echo, Body=b"3,4", ContentType="text/csv")
    parts = b"".join(event["PayloadPart"]["Bytes"] for event in streamed["Body"])
    assert json.loads(parts)["echo"] == "3,4"
    assert streamed["InvokedProductionVariant"] == VARIANT


def test_errors_are_sagemakers(platform: Platform, echo: str) -> None:
    client = runtime_client(platform)
    with pytest.raises(client.exceptions.ValidationError, match="Endpoint no-such-endpoint of account"):
        client.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1", ContentType="text/csv")
    with pytest.raises(client.exceptions.ModelError) as failed:
        client.invoke_endpoint(EndpointName=echo, Body=b"boom", ContentType="text/csv")
    response = failed.value.response
    assert response["OriginalStatusCode"] == 500
    assert json.loads(response["OriginalMessage"]) == {"message": "version 7 cannot score this input"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_the_endpoint_port_goes_through_the_runtime_api(platform: Platform, echo: str) -> None:
    """`mlops predict`'s path: the port's local implementation calls the runtime API, not the process."""
    answer = LocalEndpoint(platform, echo).invoke(b"5,6", "text/csv")
    assert json.loads(answer.body)["echo"] == "5,6"
    with pytest.raises(EndpointInvocationError) as failed:
        LocalEndpoint(platform, echo).invoke(b"boom", "text/csv")
    assert (failed.value.status, failed.value.message) == (500, "version 7 cannot score this input")
    with pytest.raises(EndpointNotFoundError):
        LocalEndpoint(platform, "no-such-endpoint").invoke(b"1", "text/csv")


def test_every_other_service_reaches_the_emulator(platform: Platform, echo: str) -> None:
    clients = clients_of(platform)
    s3 = clients.client("s3")
    bucket = platform.outputs.monitoring_bucket
    s3.put_object(Bucket=bucket, Key="fd/blob.bin", Body=bytes(range(256)) * 4096)
    assert s3.get_object(Bucket=bucket, Key="fd/blob.bin")["Body"].read() == bytes(range(256)) * 4096
    assert s3.head_object(Bucket=bucket, Key="fd/blob.bin")["ContentLength"] == 256 * 4096
    described = clients.client("sagemaker").describe_endpoint(EndpointName=echo)  # the deploy registered it
    assert described["EndpointConfigName"] == f"{echo}-config-v7"
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="fd/absent")


def test_invocations_publish_sagemakers_metrics(platform: Platform, echo: str) -> None:
    client = runtime_client(platform)
    url = frontdoor.frontdoor_url(platform.settings)
    assert url is not None
    frontdoor.flush(url)  # start from an empty aggregate
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    for _ in range(5):
        client.invoke_endpoint(EndpointName=echo, Body=b"1", ContentType="text/csv")
    with pytest.raises(client.exceptions.ModelError):
        client.invoke_endpoint(EndpointName=echo, Body=b"boom", ContentType="text/csv")
    frontdoor.flush(url)  # publishes what the writer's own timer has not (the totals below count both)
    cloudwatch = clients_of(platform).client("cloudwatch")
    dims = [{"Name": "EndpointName", "Value": echo}, {"Name": "VariantName", "Value": VARIANT}]

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=dims,
            StartTime=start - timedelta(minutes=1),
            EndTime=start + timedelta(minutes=3),
            Period=60,
            Statistics=[statistic],
        )["Datapoints"]
        return sum(float(p[statistic]) for p in points)

    assert total("Invocations") >= 6
    assert total("Invocation5XXErrors") >= 1
    assert total("Invocation4XXErrors") == 0
    assert total("ModelLatency", "SampleCount") >= 6 and total("ModelLatency", "Maximum") > 0
    assert total("OverheadLatency", "SampleCount") >= 6


def test_invocations_are_captured_in_sagemakers_layout(platform: Platform, echo: str) -> None:
    client = runtime_client(platform)
    url = frontdoor.frontdoor_url(platform.settings)
    assert url is not None
    before = datetime.now(UTC) - timedelta(seconds=1)
    client.invoke_endpoint(
        EndpointName=echo, Body=b'{"row": 42}', ContentType="application/json", InferenceId="order-42"
    )
    client.invoke_endpoint(EndpointName=echo, Body=b"9,9", ContentType="text/csv")
    frontdoor.flush(url)  # writes what the writer's own timer has not (the reads below find both records)
    store = S3ObjectStore(clients_of(platform))
    destination = f"s3://{platform.outputs.monitoring_bucket}/{CAPTURE_URI_KEY}"
    records = list(read_capture(store, destination, echo, variant=VARIANT, start=before))
    by_id = {r.inference_id: r for r in records}
    json_record = by_id["order-42"]
    assert json_record.endpoint_input is not None and json_record.endpoint_input.encoding == "JSON"
    assert json_record.endpoint_input.data == '{"row": 42}'
    assert json_record.endpoint_output is not None and json.loads(json_record.endpoint_output.body)["version"] == "7"
    csv_record = next(r for r in records if r.endpoint_input is not None and r.endpoint_input.body == b"9,9")
    assert csv_record.endpoint_input is not None and csv_record.endpoint_input.encoding == "BASE64"  # not configured
    _, bucket, base = split_uri(destination)
    keys = store.list_keys(bucket, f"{base}/{echo}/{VARIANT}/")
    assert keys and all(k.split("/")[3:7][0].isdigit() and k.endswith(".jsonl") for k in keys)


def test_status_shows_the_fleet(platform: Platform, echo: str) -> None:
    status = LocalHosting(platform).status(echo)
    assert status is not None and status.status == "InService" and status.version == "7"
    assert [(f["fleet"], f["variant"], f["weight"], f["running"]) for f in status.fleets] == [
        ("blue", VARIANT, 1.0, True)
    ]
    route = endpoint_runner.read_route(platform, echo)
    assert route is not None and route.version == "7"


def test_the_stacks_rollback_alarms_judge_the_front_doors_metrics(platform: Platform) -> None:
    """The infra's endpoint_errors (Sum of 5xx) and endpoint_latency (p99) alarms read what the front door publishes:
    the current minute's figures are among their datapoints (they go to ALARM after three such minutes)."""
    endpoint = platform.outputs.endpoint_name
    hosting = LocalHosting(platform, health_timeout=60)
    hosting.deploy(toy_spec(platform, endpoint, "3", env={"TOY_FAIL_MARKER": "boom"}))
    try:
        client = runtime_client(platform)
        for _ in range(7):
            with pytest.raises(client.exceptions.ModelError):
                client.invoke_endpoint(EndpointName=endpoint, Body=b"boom", ContentType="text/csv")
        url = frontdoor.frontdoor_url(platform.settings)
        assert url is not None
        frontdoor.flush(url)
        names = [platform.outputs.alarm("endpoint_errors"), platform.outputs.alarm("endpoint_latency")]
        errors, latency = platform.services.alarms.evaluate(names, apply=False)
        assert sum(v for _, v in errors.datapoints if v is not None) >= 7
        assert any(v is not None and v > 0 for _, v in latency.datapoints), latency.notes
        assert not any("computes no" in note for note in latency.notes)
    finally:
        hosting.stop(endpoint)
