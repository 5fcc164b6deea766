"""Deploy -> predict on local Vertex AI (``cloud: gcp``, ``target: gcp-emulators``; Vertex has no emulator): a model
registered in a local MLflow is deployed by the serving capability's own ``deploy_model`` through the wiring's
hosting port (the kit's runner on Vertex's custom-container contract) and scored through the endpoint port with
Vertex's request shape; a redeployment takes over only once healthy, a container that cannot serve leaves the
previous one serving, and stop leaves no process behind. No Google emulator is needed: the model is in MLflow and
no request reads the online store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from mlops.local import vertex_hosting
from mlops.local.vertex_hosting import LocalVertexEndpoint, LocalVertexHosting
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointInvocationError, EndpointNotFoundError
from mlops.ports.hosting import HostingError
from mlops.settings import load_settings
from mlops.wiring import build_platform
from serving.deploy import deploy_model, hosting_spec
from serving.model import load_model
from tests.support.gcp import vertex_outputs
from tests.unit.serving.model_support import DATASET, RegisteredModel, train_and_register

ENDPOINT = "kit-endpoint"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """The dataset's model, registered in a local MLflow."""
    return train_and_register(tmp_path_factory.mktemp("vertex-mlflow"), alias=None)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, model: RegisteredModel) -> Iterator[Platform]:
    outputs = vertex_outputs(model.tracking_uri, endpoint_name=ENDPOINT, vertex_endpoint_id="4242")
    settings = load_settings(cloud="gcp", target="gcp-emulators", state_dir=tmp_path_factory.mktemp("vertex-state"))
    built = build_platform(settings, outputs)
    try:
        yield built
    finally:
        built.services.hosting.stop(ENDPOINT)  # nothing outlives the module, whatever failed


def _instances(model: RegisteredModel, as_lists: bool = False) -> bytes:
    rows = json.loads(model.sample.to_json(orient="split" if as_lists else "records", index=False))
    return json.dumps({"instances": rows["data"] if as_lists else rows}).encode()


def _expected(model: RegisteredModel) -> list[dict[str, Any]]:
    scores = load_model(f"models:/{DATASET}/{model.version}", model.tracking_uri).score(model.sample)
    assert scores.probabilities is not None
    return [{"prediction": p, "probability": q} for p, q in zip(scores.predictions, scores.probabilities, strict=True)]


def _predict(platform: Platform, body: bytes) -> Any:
    return json.loads(platform.services.endpoint.invoke(body, "application/json").body)


def test_deploy_predict_redeploy_and_stop_on_vertexs_contract(platform: Platform, model: RegisteredModel) -> None:
    hosting = platform.services.hosting
    assert isinstance(hosting, LocalVertexHosting) and isinstance(platform.services.endpoint, LocalVertexEndpoint)

    created = deploy_model(platform, DATASET, model.version)
    assert (created.action, created.status, created.version) == ("created", "InService", model.version)
    expected = {"predictions": _expected(model)}
    assert _predict(platform, _instances(model)) == expected
    assert _predict(platform, _instances(model, as_lists=True)) == expected
    # the container runs on Vertex's contract: its port and routes are the ones Vertex gives the deployed model
    record = vertex_hosting.read_endpoint(platform, ENDPOINT)
    assert record is not None and record.endpoint_id == "4242"
    (first,) = record.deployed_models
    assert first.predict_route == f"/v1/endpoints/4242/deployedModels/{first.id}:predict"
    assert psutil.Process(first.pid).environ()["AIP_HTTP_PORT"] == str(first.port)
    with pytest.raises(EndpointInvocationError) as refused:
        platform.services.endpoint.invoke(b'{"instances": [{"amount": "a lot"}]}', "application/json")
    assert refused.value.status == 400
    assert refused.value.message.startswith("instance 0 lacks fields category, channel, ")

    updated = deploy_model(platform, DATASET, model.version)  # a new deployed model of the same version
    assert (updated.action, updated.version) == ("updated", model.version) and updated.pid != first.pid
    assert not first.running()  # undeployed once the new one took the traffic
    assert _predict(platform, _instances(model)) == expected

    spec = hosting_spec(platform, DATASET, model.version, vertex_hosting.LOCAL_IMAGE)
    broken = replace(spec, container=replace(spec.container, module="no_such_serving_module"))  # exits at start
    with pytest.raises(HostingError, match=rf"^version {model.version} of endpoint 'kit-endpoint' did not deploy: "):
        hosting.deploy(broken)
    serving = hosting.status(ENDPOINT)
    assert serving is not None and (serving.pid, serving.status) == (updated.pid, "InService")
    assert _predict(platform, _instances(model)) == expected

    stopped = hosting.stop(ENDPOINT)
    assert stopped is not None and (stopped.status, stopped.version) == ("Stopped", model.version)
    assert updated.pid is not None and not psutil.pid_exists(updated.pid)
    assert not Path(vertex_hosting.endpoints_dir(platform), f"{ENDPOINT}.json").exists()
    with pytest.raises(EndpointNotFoundError):
        platform.services.endpoint.invoke(_instances(model), "application/json")
