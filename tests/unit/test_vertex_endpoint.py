"""Hosting and Endpoint on Vertex AI (``target: gcp``; Vertex has no emulator): what a version becomes (an uploaded
model on the serving image, deployed with all the traffic once up, the previous deployed model undeployed after),
what a failed deployment leaves (the previous version serving), how status and stop read the endpoint, and how
``rawPredict``'s answers and errors come out of the endpoint port. The services are small in-process stand-ins
keeping Vertex's messages (``google.cloud.aiplatform_v1`` types), its traffic-split rule on undeploy and its
not-found answers. Also: ``auto`` on cloud gcp wires them (and the local runner on the emulators)."""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest
from google.api import httpbody_pb2  # type: ignore[import-untyped]
from google.api_core import exceptions as google_errors
from google.cloud import aiplatform_v1
from google.protobuf import json_format, struct_pb2

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.vertex_batch import VertexBatchPrediction
from mlops.adapters.gcp.vertex_endpoint import VertexEndpoint
from mlops.adapters.gcp.vertex_hosting import VertexHosting
from mlops.cli.deploy import fleet_line
from mlops.local.vertex_batch import LocalVertexBatchPrediction
from mlops.local.vertex_hosting import LocalVertexEndpoint, LocalVertexHosting
from mlops.outputs import StackOutputs
from mlops.ports.endpoint import (
    EndpointInvocationError,
    EndpointNotFoundError,
    EndpointThrottledError,
    EndpointUnavailableError,
    Invocation,
)
from mlops.ports.hosting import Container, HostingError, HostingNotFoundError, HostingSpec
from mlops.settings import load_settings
from mlops.wiring import build_platform

SETTINGS = load_settings(cloud="gcp", target="gcp", gcp={"project": "mlops-test", "location": "europe-west4"})
PARENT = "projects/mlops-test/locations/europe-west4"
STACK_ENDPOINT = f"{PARENT}/endpoints/4242"
_VALUES: dict[str, Any] = {
    "endpoint_name": "kit-endpoint",
    "vertex_endpoint_id": "4242",
    "vertex_service_account": "vertex@mlops-test.iam.gserviceaccount.com",
}
OUTPUTS = StackOutputs.model_construct(**_VALUES)
IMAGE = "europe-west4-docker.pkg.dev/mlops-test/serving/serving@sha256:abc"


def _google(kind: type[Exception], message: str) -> Exception:
    """One of Google's API errors (``google_errors.NotFound``...), as Vertex's client raises it."""
    return kind(message)


@dataclass
class Operation:
    """A long-running operation: ``result()`` answers, or raises what the operation failed with."""

    value: Any = None
    error: Exception | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class ModelService:
    """Uploaded models by resource name; ``list_models`` filters by display name."""

    def __init__(self) -> None:
        self.models: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def list_models(self, request: dict[str, str]) -> list[Any]:
        name = request["filter"].removeprefix('display_name="').removesuffix('"')
        return [copy.deepcopy(m) for m in self.models.values() if m.display_name == name]

    def upload_model(self, parent: str, model: Any) -> Operation:
        stored = copy.deepcopy(model)
        stored.name = f"{parent}/models/{next(self._ids)}"
        self.models[stored.name] = stored
        return Operation(aiplatform_v1.UploadModelResponse(model=stored.name, model_version_id="1"))

    def get_model(self, name: str) -> Any:
        if name not in self.models:
            raise _google(google_errors.NotFound, f"Model {name} not found")
        return copy.deepcopy(self.models[name])


class EndpointService:
    """Endpoints with deployed models and traffic splits, under Vertex's rules: ``"0"`` in a deploy's split is the
    model being deployed; a model with traffic is undeployed only if the split takes it away or it is the last."""

    def __init__(self, *endpoints: str) -> None:
        self.endpoints = {name: aiplatform_v1.Endpoint(name=name, display_name=name) for name in endpoints}
        self.fail_next_deploy: Exception | None = None
        self.calls: list[str] = []
        self._ids = itertools.count(101)

    def list_endpoints(self, request: dict[str, str]) -> list[Any]:
        self.calls.append("list_endpoints")
        name = request["filter"].removeprefix('display_name="').removesuffix('"')
        return [copy.deepcopy(e) for e in self.endpoints.values() if e.display_name == name]

    def create_endpoint(self, parent: str, endpoint: Any) -> Operation:
        created = aiplatform_v1.Endpoint(
            name=f"{parent}/endpoints/{next(self._ids)}", display_name=endpoint.display_name
        )
        self.endpoints[created.name] = created
        return Operation(copy.deepcopy(created))

    def get_endpoint(self, name: str) -> Any:
        if name not in self.endpoints:
            raise _google(google_errors.NotFound, f"Endpoint {name} not found")
        return copy.deepcopy(self.endpoints[name])

    def deploy_model(self, endpoint: str, deployed_model: Any, traffic_split: dict[str, int]) -> Operation:
        self.calls.append("deploy_model")
        if self.fail_next_deploy is not None:
            error, self.fail_next_deploy = self.fail_next_deploy, None
            return Operation(error=error)
        target = self.endpoints[endpoint]
        deployed = copy.deepcopy(deployed_model)
        deployed.id = str(next(self._ids))
        target.deployed_models.append(deployed)
        split = {deployed.id if key == "0" else key: value for key, value in traffic_split.items()}
        target.traffic_split.clear()
        target.traffic_split.update(split)
        return Operation(aiplatform_v1.DeployModelResponse(deployed_model=deployed))

    def undeploy_model(
        self, endpoint: str, deployed_model_id: str, traffic_split: dict[str, int] | None = None
    ) -> Operation:
        self.calls.append(f"undeploy_model {deployed_model_id}")
        target = self.endpoints[endpoint]
        split = dict(traffic_split) if traffic_split is not None else dict(target.traffic_split)
        last = len(target.deployed_models) == 1
        if split.get(deployed_model_id, 0) and not last:
            return Operation(error=_google(google_errors.FailedPrecondition, f"{deployed_model_id} still has traffic"))
        kept = [m for m in target.deployed_models if m.id != deployed_model_id]
        del target.deployed_models[:]
        target.deployed_models.extend(kept)
        target.traffic_split.clear()
        target.traffic_split.update({} if last else {k: v for k, v in split.items() if k != deployed_model_id})
        return Operation(aiplatform_v1.UndeployModelResponse())


def _spec(version: str, *, instances: int = 1, endpoint: str = "kit-endpoint") -> HostingSpec:
    environment = {
        "SERVING_MODEL_URI": f"models:/card_transactions/{version}",
        "MLFLOW_TRACKING_URI": "gs://kit-models/mlflow",
        "SAGEMAKER_BIND_TO_PORT": "8080",
        "MLOPS_TARGET": "gcp",
    }
    return HostingSpec(
        endpoint=endpoint,
        model_uri=f"models:/card_transactions/{version}",
        version=version,
        container=Container("serving", environment),
        model_request={"ModelName": f"kit-model-v{version}"},
        endpoint_config_request={"EndpointConfigName": f"kit-config-v{version}"},
        image=IMAGE,
        instance_count=instances,
    )


@pytest.fixture
def vertex() -> tuple[VertexHosting, ModelService, EndpointService]:
    models, endpoints = ModelService(), EndpointService(STACK_ENDPOINT)
    hosting = VertexHosting(GcpClients(SETTINGS), OUTPUTS, models=models, endpoints=endpoints)
    return hosting, models, endpoints


def test_a_version_is_an_uploaded_model_deployed_with_all_the_traffic(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, models, endpoints = vertex
    deployment = hosting.deploy(_spec("3", instances=2))
    (model,) = models.models.values()
    assert (model.display_name, model.container_spec.image_uri) == ("kit-model-v3", IMAGE)
    assert {e.name: e.value for e in model.container_spec.env} == {
        "SERVING_MODEL_URI": "models:/card_transactions/3",
        "MLFLOW_TRACKING_URI": "gs://kit-models/mlflow",
        "MLOPS_TARGET": "gcp",
        "MLOPS_CLOUD": "gcp",
        "MLOPS_GCP__PROJECT": "mlops-test",
        "MLOPS_GCP__LOCATION": "europe-west4",
    }  # the port is Vertex's AIP_HTTP_PORT, not SageMaker's
    assert [p.container_port for p in model.container_spec.ports] == [8080]
    (deployed,) = endpoints.endpoints[STACK_ENDPOINT].deployed_models
    resources = deployed.dedicated_resources
    assert (deployed.model, resources.machine_spec.machine_type) == (model.name, "n1-standard-2")
    assert (resources.min_replica_count, resources.max_replica_count) == (2, 2)
    assert deployed.service_account == "vertex@mlops-test.iam.gserviceaccount.com"
    assert dict(endpoints.endpoints[STACK_ENDPOINT].traffic_split) == {deployed.id: 100}
    assert "list_endpoints" not in endpoints.calls  # the stack's endpoint is named by its id output
    assert (deployment.action, deployment.version, deployment.model) == ("created", "3", model.name)


def test_a_new_version_takes_the_traffic_then_the_old_one_is_undeployed(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, _, endpoints = vertex
    hosting.deploy(_spec("3"))
    (old,) = endpoints.endpoints[STACK_ENDPOINT].deployed_models
    assert hosting.deploy(_spec("4")).action == "updated"
    assert endpoints.calls[-2:] == ["deploy_model", f"undeploy_model {old.id}"]
    status = hosting.status("kit-endpoint")
    assert status is not None
    assert (status.status, status.version, status.model_uri) == ("InService", "4", "models:/card_transactions/4")
    assert [(fleet["variant"], fleet["weight"]) for fleet in status.fleets] == [("kit-model-v4", 1.0)]
    assert fleet_line(status.fleets[0]).startswith("  kit-model-v4/")  # what `mlops endpoint status` prints


def test_a_failed_deployment_leaves_the_previous_version_serving(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, _, endpoints = vertex
    hosting.deploy(_spec("3"))
    endpoints.fail_next_deploy = _google(google_errors.InternalServerError, "the container did not become ready")
    with pytest.raises(
        HostingError, match=r"^deploying version 4 \(kit-model-v4\) to endpoint 'kit-endpoint' failed; "
    ):
        hosting.deploy(_spec("4"))
    status = hosting.status("kit-endpoint")
    assert status is not None and status.version == "3"


def test_a_version_is_uploaded_once(vertex: tuple[VertexHosting, ModelService, EndpointService]) -> None:
    hosting, models, _ = vertex
    hosting.deploy(_spec("3"))
    hosting.deploy(_spec("3"))
    assert len(models.models) == 1


def test_another_endpoint_is_found_by_display_name_or_created(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, _, endpoints = vertex
    assert hosting.status("canary") is None
    hosting.deploy(_spec("3", endpoint="canary"))
    created = [e for e in endpoints.endpoints.values() if e.display_name == "canary"]
    assert len(created) == 1 and len(created[0].deployed_models) == 1
    status = hosting.status("canary")
    assert status is not None and status.version == "3"


def test_stop_undeploys_every_model_and_keeps_the_endpoint(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, _, endpoints = vertex
    hosting.deploy(_spec("3"))
    stopped = hosting.stop("kit-endpoint")
    assert stopped is not None and (stopped.status, stopped.version) == ("Stopped", "3")
    assert not endpoints.endpoints[STACK_ENDPOINT].deployed_models
    assert hosting.status("kit-endpoint") is None
    assert hosting.stop("kit-endpoint") is None


def test_a_registry_version_deploys_the_archive_its_registration_recorded(
    vertex: tuple[VertexHosting, ModelService, EndpointService],
) -> None:
    hosting, models, _ = vertex
    recorded = json_format.ParseDict({"model_data_url": "gs://kit-models/m/model.tar.gz"}, struct_pb2.Value())
    version = f"{PARENT}/models/kit-models@2"
    models.models[version] = aiplatform_v1.Model(name=version, display_name="kit-models", metadata=recorded)
    assert hosting.model_uri_of_package(version) == "gs://kit-models/m/model.tar.gz"
    with pytest.raises(HostingNotFoundError, match=r"^model package '.*kit-models@9' does not exist"):
        hosting.model_uri_of_package(f"{PARENT}/models/kit-models@9")


class PredictionService:
    """``rawPredict``: answers ``answer`` (a body) or raises ``error``; records what it was sent."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error
        self.sent: list[tuple[str, str, bytes]] = []

    def raw_predict(self, endpoint: str, http_body: Any) -> Any:
        self.sent.append((endpoint, http_body.content_type, http_body.data))
        if self.error is not None:
            raise self.error
        return self.answer


def _endpoint(predictions: PredictionService, name: str = "kit-endpoint") -> VertexEndpoint:
    return VertexEndpoint(GcpClients(SETTINGS), OUTPUTS, name, predictions=predictions, endpoints=EndpointService())


def test_raw_predict_carries_the_body_and_its_type_and_answers_the_containers_body() -> None:
    answer = httpbody_pb2.HttpBody(content_type="application/json", data=b'{"predictions": [{"prediction": 1}]}')
    predictions = PredictionService(answer)
    body = b'{"instances": [[1.0, "web", 2]]}'
    assert _endpoint(predictions).invoke(body, "application/json") == Invocation(
        b'{"predictions": [{"prediction": 1}]}', "application/json"
    )
    assert predictions.sent == [(STACK_ENDPOINT, "application/json", body)]


@pytest.mark.parametrize(
    ("error", "raised", "detail"),
    [
        (_google(google_errors.NotFound, "Endpoint 4242 not found"), EndpointNotFoundError, "is not deployed: "),
        (
            _google(google_errors.ServiceUnavailable, "try later"),
            EndpointUnavailableError,
            "is unavailable (ServiceUnavailable)",
        ),
        (
            _google(google_errors.ResourceExhausted, "quota"),
            EndpointThrottledError,
            "throttled the invocation (ResourceExhausted)",
        ),
    ],
)
def test_vertexs_conditions_are_named_like_the_others(error: Exception, raised: type[Exception], detail: str) -> None:
    with pytest.raises(raised, match=rf"^endpoint 'kit-endpoint' {re.escape(detail)}"):
        _endpoint(PredictionService(error=error)).invoke(b"amount\n1\n", "text/csv")


def test_the_containers_own_refusal_keeps_its_status_and_message() -> None:
    refused = _google(google_errors.BadRequest, "field 'amount' (instance 0) expects double, got str 'x'")
    with pytest.raises(EndpointInvocationError) as raised:
        _endpoint(PredictionService(error=refused)).invoke(b'{"instances": [["x"]]}', "application/json")
    assert (raised.value.status, raised.value.message) == (
        400,
        "field 'amount' (instance 0) expects double, got str 'x'",
    )


def test_an_endpoint_no_display_name_matches_is_not_found() -> None:
    with pytest.raises(EndpointNotFoundError, match=r"^endpoint 'other' is not deployed: no Vertex AI endpoint"):
        _endpoint(PredictionService(), name="other").invoke(b"amount\n1\n", "text/csv")


def test_auto_wires_vertex_on_gcp_and_the_local_runner_on_the_emulators() -> None:
    on_gcp = build_platform(SETTINGS, OUTPUTS).services
    assert isinstance(on_gcp.hosting, VertexHosting) and isinstance(on_gcp.endpoint, VertexEndpoint)
    local = build_platform(load_settings(cloud="gcp", target="gcp-emulators"), OUTPUTS).services
    assert isinstance(local.hosting, LocalVertexHosting) and isinstance(local.endpoint, LocalVertexEndpoint)
    assert isinstance(on_gcp.batch_transform, VertexBatchPrediction)  # batch transform follows the endpoint
    assert isinstance(local.batch_transform, LocalVertexBatchPrediction)
