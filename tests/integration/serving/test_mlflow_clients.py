"""MLflow's own client against the kit's server, over HTTP: ``ScoringServerClient`` pings, reads the version and
invokes with params; in the ``mlflow`` response format the body is byte for byte what MLflow's scoring server
computes for the same model and request; bad input gets JSON errors, and a client that stops sending its body is
timed out instead of holding a connection."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
import uvicorn

from mlops.local.emulator import free_port
from serving.app import build_app
from serving.core import RESPONSE_FORMAT_HEADER, InferenceCore
from serving.model import load_model
from tests.unit.serving.model_support import RegisteredModel, feature_frame, train_and_register

pytestmark = [pytest.mark.server]
HOST = "127.0.0.1"
BODY_TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """The model as the training pipeline ships it (predict_proba as its pyfunc function), with a compiled form."""
    return train_and_register(tmp_path_factory.mktemp("mlflow"), shipped=True, compiled=True)


def _serve(core: InferenceCore) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        build_app(lambda: core, BODY_TIMEOUT_S), host=HOST, port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def plain_mlflow_server(registered: RegisteredModel) -> Iterator[str]:
    """The plain model answering in MLflow's format by default (the deployment setting)."""
    model = load_model(_uri(registered), registered.tracking_uri, engine="plain")
    yield from _serve(InferenceCore(model, response_format="mlflow"))


@pytest.fixture(scope="module")
def compiled_server(registered: RegisteredModel) -> Iterator[str]:
    """The compiled model answering in the kit's format unless a request asks for MLflow's."""
    model = load_model(_uri(registered), registered.tracking_uri)
    assert model.engine == "onnx"
    yield from _serve(InferenceCore(model))


def _uri(registered: RegisteredModel) -> str:
    return f"models:/{registered.name}/{registered.version}"


def _client(url: str) -> Any:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    host, port = url.removeprefix("http://").split(":")
    return ScoringServerClient(host, int(port))  # type: ignore[no-untyped-call]


def _mlflow_answer(registered: RegisteredModel, body: bytes) -> bytes:
    """What MLflow's scoring server computes for ``body`` (its own ``invocations``, on the pyfunc model)."""
    from mlflow.pyfunc import scoring_server

    mlflow.set_tracking_uri(registered.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(_uri(registered))
    schema = pyfunc.metadata.get_input_schema()
    answer = scoring_server.invocations(body, "application/json", pyfunc, schema)  # type: ignore[no-untyped-call]
    assert answer.status == 200, answer.response
    return str(answer.response).encode()


def test_mlflows_client_pings_reads_the_version_and_invokes_with_params(
    registered: RegisteredModel, plain_mlflow_server: str
) -> None:
    client = _client(plain_mlflow_server)
    client.ping()
    assert client.get_version() == mlflow.__version__
    frame = feature_frame(5, seed=21)
    response = client.invoke(frame, params={"threshold": 0.5})
    mlflow.set_tracking_uri(registered.tracking_uri)
    expected = mlflow.pyfunc.load_model(_uri(registered)).predict(frame)
    assert np.array_equal(response.get_predictions().to_numpy(), expected)
    assert httpx.get(plain_mlflow_server + "/health").status_code == 200


def test_the_mlflow_format_is_byte_for_byte_mlflows_answer(
    registered: RegisteredModel, plain_mlflow_server: str
) -> None:
    from mlflow.utils.proto_json_utils import dump_input_data

    body = dump_input_data(feature_frame(20, seed=5), params={"threshold": 0.5}).encode()
    answer = httpx.post(
        plain_mlflow_server + "/invocations", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200
    assert answer.content == _mlflow_answer(registered, body)


def test_the_compiled_server_answers_mlflows_format_when_asked(
    registered: RegisteredModel, compiled_server: str
) -> None:
    from mlflow.utils.proto_json_utils import dump_input_data

    body = dump_input_data(feature_frame(20, seed=5)).encode()
    headers = {"Content-Type": "application/json"}
    kit = httpx.post(compiled_server + "/invocations", content=body, headers=headers).json()
    assert set(kit) == {"predictions", "probabilities"}  # the kit's format by default
    asked = httpx.post(
        compiled_server + "/invocations", content=body, headers={**headers, RESPONSE_FORMAT_HEADER: "mlflow"}
    )
    expected = json.loads(_mlflow_answer(registered, body))["predictions"]
    assert np.allclose(
        asked.json()["predictions"], expected, rtol=0, atol=1e-9
    )  # the registration's parity bar is 1e-6


def test_bad_input_is_answered_as_json_and_the_server_keeps_serving(compiled_server: str) -> None:
    headers = {"Content-Type": "application/json"}
    deep = b'{"instances": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    nested = httpx.post(compiled_server + "/invocations", content=deep, headers=headers)
    assert (nested.status_code, nested.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    missing = httpx.get(compiled_server + "/nowhere")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    assert httpx.get(compiled_server + "/ping").status_code == 200


def test_a_server_failure_is_a_json_500_and_the_next_request_is_served(
    registered: RegisteredModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = InferenceCore(load_model(_uri(registered), registered.tracking_uri))
    body = json.dumps({"dataframe_records": json.loads(feature_frame(1).to_json(orient="records"))}).encode()
    failures = iter([RuntimeError("a bug")])

    def respond(*args: Any) -> Any:
        for failure in failures:
            raise failure
        return InferenceCore.respond(core, *args)

    monkeypatch.setattr(core, "respond", respond)
    for url in _serve(core):
        first = httpx.post(url + "/invocations", content=body, headers={"Content-Type": "application/json"})
        assert (first.status_code, first.json()) == (
            500,
            {"error_code": "INTERNAL_ERROR", "message": "the server failed on this request: RuntimeError"},
        )
        second = httpx.post(url + "/invocations", content=body, headers={"Content-Type": "application/json"})
        assert second.status_code == 200


def test_a_client_that_stops_sending_its_body_is_timed_out(compiled_server: str) -> None:
    host, port = compiled_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"instances": ['
        )
        received = b""
        while chunk := sock.recv(65536):  # the server answers, then closes the connection
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body) == {
        "error_code": "BAD_REQUEST",
        "message": f"the request body was not complete within {BODY_TIMEOUT_S:g} s",
    }


def test_the_server_says_which_engine_scores(compiled_server: str) -> None:
    assert httpx.get(compiled_server + "/stats").json()["engine"] == "onnx"
