"""The endpoint port's contract, over the implementations that serve here: the in-memory hosting (the serving
container's core in process), the local endpoint (the serving process the local hosting starts on the
session's moto platform) and the local Vertex AI endpoint (``vertex-local``: the serving process on Vertex's
custom-container contract, for ``cloud: gcp`` on the emulators, invoked on its predict route). The same model is
deployed on each at an endpoint of the test's own, and all must give the same answers and raise the same errors:
an unknown endpoint is a ``NotFoundError``, the model server's 4xx and 5xx are ``EndpointInvocationError`` with
its status and message, an endpoint that does not answer is an ``UnavailableError``.

SageMaker's runtime cannot serve here (moto's ``invoke_endpoint`` answers canned bytes), so its adapter is held
to the same contract through botocore's Stubber: the model server's answers, as SageMaker wraps them
(``ModelError`` with ``OriginalStatusCode``/``OriginalMessage``), must come out as the same results.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.sagemaker_runtime import SageMakerRuntimeEndpoint
from mlops.adapters.memory.endpoint import MemoryHosting
from mlops.local import endpoint_runner, vertex_hosting
from mlops.local.emulator import HOST, free_port
from mlops.local.hosting import LocalEndpoint, LocalHosting
from mlops.local.vertex_hosting import LocalVertexEndpoint, LocalVertexHosting
from mlops.platform import Platform
from mlops.ports.endpoint import (
    Endpoint,
    EndpointInvocationError,
    EndpointNotFoundError,
    EndpointThrottledError,
    EndpointUnavailableError,
    Invocation,
)
from mlops.ports.errors import NotFoundError, ThrottledError, UnavailableError
from mlops.ports.hosting import HostingSpec
from mlops.settings import load_settings
from mlops.tracking import mlflow_session
from mlops.wiring import build_platform
from serving.deploy import hosting_spec
from serving.model import load_model
from serving.server import in_process
from tests.unit.serving.model_support import DATASET, RegisteredModel, train_and_register

ENDPOINT = "contract-endpoint"
MISSING = "contract-missing"
DOWN = "contract-down"
MODEL_FAILS = "the model failed to predict: ValueError: amount must not be negative"
UNSUPPORTED = (
    "content type 'application/x-www-form-urlencoded' is not supported; send one of: text/csv, application/json, "
    "application/jsonlines, application/x-jsonlines, application/jsonl, application/x-ndjson"
)


@dataclass(frozen=True)
class Served:
    """One implementation with the model deployed: ``endpoint`` serves it, ``endpoint_named(name)`` is the same
    implementation's endpoint of another name."""

    endpoint: Endpoint
    endpoint_named: Callable[[str], Endpoint]
    down: Endpoint
    model: RegisteredModel


@pytest.fixture(scope="module")
def model(platform: Platform) -> RegisteredModel:
    """A model that fails on a negative amount (valid input), registered without moving the champion."""
    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    return train_and_register(tracking_dir, alias=None, refuse_negative=True)


@pytest.fixture(scope="module")
def spec(platform: Platform, model: RegisteredModel) -> HostingSpec:
    """The model's spec at an endpoint of this module's own (the stack's endpoint is other tests' business)."""
    return replace(hosting_spec(platform, DATASET, model.version, endpoint_runner.LOCAL_IMAGE), endpoint=ENDPOINT)


def _memory(platform: Platform, spec: HostingSpec, model: RegisteredModel) -> Iterator[Served]:
    hosting = MemoryHosting(serve=in_process)
    with mlflow_session(platform):  # the model's artifacts may be in the emulator's S3
        hosting.deploy(spec)
    down = MemoryHosting()  # records deployments without a server: nothing answers
    down.deploy(replace(spec, endpoint=DOWN))
    yield Served(hosting.endpoint(ENDPOINT), hosting.endpoint, down.endpoint(DOWN), model)


def _local(platform: Platform, spec: HostingSpec, model: RegisteredModel) -> Iterator[Served]:
    hosting = LocalHosting(platform)
    hosting.deploy(spec)
    # a route to a port nothing listens on: the process behind an endpoint is gone
    route = endpoint_runner.EndpointRoute(DOWN, 0, HOST, free_port(), spec.model_uri, model.version, time.time(), "")
    down_file = endpoint_runner.endpoints_dir(platform) / f"{DOWN}.json"
    down_file.write_text(json.dumps(asdict(route)))
    try:
        yield Served(
            LocalEndpoint(platform, ENDPOINT),
            lambda name: LocalEndpoint(platform, name),
            LocalEndpoint(platform, DOWN, timeout=5.0),
            model,
        )
    finally:
        hosting.stop(ENDPOINT)
        down_file.unlink(missing_ok=True)


def _vertex_local(platform: Platform, tmp: Path) -> Iterator[Served]:
    """Its own model in a local MLflow (the container on the GCP settings reaches no AWS emulator) and its own
    platform of ``cloud: gcp`` settings and the session's outputs."""
    model = train_and_register(tmp / "mlflow", alias=None, refuse_negative=True)
    settings = load_settings(cloud="gcp", target="gcp-emulators", state_dir=tmp / "state")
    outputs = platform.outputs.model_copy(update={"mlflow_tracking_uri": model.tracking_uri})
    gcp = build_platform(settings, outputs)
    hosting = LocalVertexHosting(gcp)
    hosting.deploy(replace(hosting_spec(gcp, DATASET, model.version, "local"), endpoint=ENDPOINT))
    # a deployed model whose process is gone: nothing listens on its port
    record = vertex_hosting.read_endpoint(gcp, ENDPOINT)
    assert record is not None
    gone = replace(record.deployed_models[0], pid=0, port=free_port())
    vertex_hosting.write_record(
        gcp, replace(record, endpoint=DOWN, deployed_models=(gone,), traffic_split={gone.id: 100})
    )
    try:
        yield Served(
            LocalVertexEndpoint(gcp, ENDPOINT),
            lambda name: LocalVertexEndpoint(gcp, name),
            LocalVertexEndpoint(gcp, DOWN, timeout=5.0),
            model,
        )
    finally:
        hosting.stop(ENDPOINT)
        vertex_hosting.stop(gcp, DOWN)


@pytest.fixture(scope="module", params=["memory", "local", "vertex-local"])
def served(
    request: pytest.FixtureRequest,
    platform: Platform,
    spec: HostingSpec,
    model: RegisteredModel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    if request.param == "vertex-local":
        yield from _vertex_local(platform, tmp_path_factory.mktemp("vertex-local"))
        return
    backends = {"memory": _memory, "local": _local}
    yield from backends[request.param](platform, spec, model)


def _expected_json(model: RegisteredModel, frame: pd.DataFrame) -> dict[str, Any]:
    loaded = load_model(f"models:/{DATASET}/{model.version}", model.tracking_uri)
    scores = loaded.score(frame)
    return {"predictions": scores.predictions, "probabilities": scores.probabilities}


def _media(content_type: str) -> str:
    return content_type.split(";", maxsplit=1)[0].strip()


def test_a_payload_gets_the_models_scores_in_the_accepted_type(served: Served) -> None:
    sample = served.model.sample
    body = json.dumps({"dataframe_split": json.loads(sample.to_json(orient="split", index=False))}).encode()
    answer = served.endpoint.invoke(body, "application/json")
    assert _media(answer.content_type) == "application/json"
    expected = _expected_json(served.model, sample)
    assert json.loads(answer.body) == expected

    as_csv = served.endpoint.invoke(sample.to_csv(index=False).encode(), "text/csv", accept="text/csv")
    assert _media(as_csv.content_type) == "text/csv"
    assert as_csv.body.decode().splitlines() == [
        f"{label},{probability}"
        for label, probability in zip(expected["predictions"], expected["probabilities"], strict=True)
    ]


def test_an_unknown_endpoint_is_not_found(served: Served) -> None:
    with pytest.raises(EndpointNotFoundError) as raised:
        served.endpoint_named(MISSING).invoke(b"amount\n1\n", "text/csv")
    assert isinstance(raised.value, NotFoundError)
    assert raised.value.endpoint == MISSING
    assert str(raised.value).startswith(f"endpoint {MISSING!r} is not deployed")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"amount=1", "application/x-www-form-urlencoded", 415, UNSUPPORTED),
        (b'{"dataframe_records": [{"amount": 1.0}]}', "application/json", 400, "missing columns: "),
        (b"", "text/csv", 400, "the request body is empty; send at least one row"),
    ],
)
def test_a_request_the_model_server_refuses_is_its_4xx(
    served: Served, body: bytes, content_type: str, status: int, message: str
) -> None:
    with pytest.raises(EndpointInvocationError) as raised:
        served.endpoint.invoke(body, content_type)
    assert (raised.value.endpoint, raised.value.status) == (ENDPOINT, status)
    assert raised.value.message.startswith(message)
    assert str(raised.value) == f"endpoint {ENDPOINT!r} answered {status}: {raised.value.message}"


def test_a_model_failing_on_valid_input_is_a_5xx_and_the_endpoint_keeps_serving(served: Served) -> None:
    failing = served.model.sample.copy()
    failing.loc[0, "amount"] = -5.0
    with pytest.raises(EndpointInvocationError) as raised:
        served.endpoint.invoke(failing.to_csv(index=False).encode(), "text/csv")
    assert (raised.value.status, raised.value.message) == (500, MODEL_FAILS)
    again = served.endpoint.invoke(served.model.sample.to_csv(index=False).encode(), "text/csv")
    assert json.loads(again.body) == _expected_json(served.model, served.model.sample)


def test_an_endpoint_that_does_not_answer_is_unavailable(served: Served) -> None:
    with pytest.raises(EndpointUnavailableError) as raised:
        served.down.invoke(b"amount\n1\n", "text/csv")
    assert isinstance(raised.value, UnavailableError)
    assert raised.value.endpoint == DOWN


# SageMaker runtime: the same answers and errors, from SageMaker's wire shapes.


@pytest.fixture
def runtime() -> Iterator[tuple[SageMakerRuntimeEndpoint, Stubber]]:
    clients = ClientFactory(load_settings(target="aws", region="us-east-1"))
    with Stubber(clients.client("sagemaker-runtime")) as stub:
        yield SageMakerRuntimeEndpoint(clients, ENDPOINT), stub
        stub.assert_no_pending_responses()


def _params(body: bytes, content_type: str, accept: str = "application/json") -> dict[str, Any]:
    return {"EndpointName": ENDPOINT, "Body": body, "ContentType": content_type, "Accept": accept}


def _model_error(stub: Stubber, status: int, server_body: bytes, request: dict[str, Any]) -> None:
    """How SageMaker reports the container's own error answer: ModelError (424) carrying its status and body."""
    stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        f"Received client error ({status}) from primary with message ...",
        http_status_code=424,
        expected_params=request,
        modeled_fields={"OriginalStatusCode": status, "OriginalMessage": server_body.decode()},
    )


def test_sagemaker_maps_the_request_and_the_answer(runtime: tuple[SageMakerRuntimeEndpoint, Stubber]) -> None:
    endpoint, stub = runtime
    answer = b"1,0.93\n0,0.02\n"
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "text/csv; charset=utf-8"},
        _params(b"amount,channel\n1,web\n", "text/csv", "text/csv"),
    )
    assert endpoint.invoke(b"amount,channel\n1,web\n", "text/csv", "text/csv") == Invocation(
        answer, "text/csv; charset=utf-8"
    )


@pytest.mark.parametrize(
    ("status", "message"), [(415, UNSUPPORTED), (400, "the request body is empty; send at least one row")]
)
def test_sagemaker_unwraps_the_model_servers_4xx(
    runtime: tuple[SageMakerRuntimeEndpoint, Stubber], status: int, message: str
) -> None:
    endpoint, stub = runtime
    server_body = json.dumps({"error_code": "BadPayloadError", "message": message}).encode()
    _model_error(stub, status, server_body, _params(b"x", "text/csv"))
    with pytest.raises(EndpointInvocationError) as raised:
        endpoint.invoke(b"x", "text/csv")
    assert (raised.value.status, raised.value.message) == (status, message)
    assert str(raised.value) == f"endpoint {ENDPOINT!r} answered {status}: {message}"


def test_sagemaker_unwraps_the_model_servers_5xx(runtime: tuple[SageMakerRuntimeEndpoint, Stubber]) -> None:
    endpoint, stub = runtime
    server_body = json.dumps({"error_code": "PredictionError", "message": MODEL_FAILS}).encode()
    _model_error(stub, 500, server_body, _params(b"amount\n-5\n", "text/csv"))
    with pytest.raises(EndpointInvocationError) as raised:
        endpoint.invoke(b"amount\n-5\n", "text/csv")
    assert (raised.value.status, raised.value.message) == (500, MODEL_FAILS)


def test_sagemaker_says_an_unknown_endpoint_is_not_found(runtime: tuple[SageMakerRuntimeEndpoint, Stubber]) -> None:
    endpoint, stub = runtime
    stub.add_client_error(
        "invoke_endpoint", "ValidationError", f"Endpoint {ENDPOINT} of account 123456789012 not found."
    )
    with pytest.raises(EndpointNotFoundError) as raised:
        endpoint.invoke(b"amount\n1\n", "text/csv")
    assert isinstance(raised.value, NotFoundError)
    assert raised.value.endpoint == ENDPOINT


@pytest.mark.parametrize(
    ("code", "http_status", "error", "condition"),
    [
        ("ServiceUnavailable", 503, EndpointUnavailableError, UnavailableError),
        ("ModelNotReadyException", 429, EndpointUnavailableError, UnavailableError),
        ("ThrottlingException", 400, EndpointThrottledError, ThrottledError),
    ],
)
def test_sagemaker_conditions_are_named_like_the_others(
    runtime: tuple[SageMakerRuntimeEndpoint, Stubber],
    code: str,
    http_status: int,
    error: type[Exception],
    condition: type[Exception],
) -> None:
    endpoint, stub = runtime
    stub.add_client_error("invoke_endpoint", code, "try later", http_status_code=http_status)
    with pytest.raises(error) as raised:
        endpoint.invoke(b"amount\n1\n", "text/csv")
    assert isinstance(raised.value, condition)
    assert f"({code}): try later" in str(raised.value)


def test_sagemaker_other_client_errors_keep_their_status(runtime: tuple[SageMakerRuntimeEndpoint, Stubber]) -> None:
    endpoint, stub = runtime
    stub.add_client_error("invoke_endpoint", "ValidationError", "Body is too large", http_status_code=413)
    with pytest.raises(EndpointInvocationError) as raised:
        endpoint.invoke(b"x", "text/csv")
    assert (raised.value.status, raised.value.message) == (413, "Body is too large")
