"""The local endpoint: deploy (through the hosting port the wiring gives the moto target) starts the real server
process, bad input never kills it, a failed deploy never takes traffic, stop stops exactly that process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest

from mlops.local import endpoint_runner
from mlops.local.clients import clients_of
from mlops.local.hosting import LocalHosting
from mlops.platform import Platform
from mlops.ports.hosting import Deployment
from mlops.registry.session import scoped_mlflow
from serving.deploy import deploy_model, hosting_spec
from serving.errors import DeploymentError
from tests.support.short_bakes import with_short_bakes
from tests.unit.serving.model_support import DATASET, RegisteredModel, local_experiment, train_and_register

pytestmark = [pytest.mark.emulator, pytest.mark.server]


@pytest.fixture(scope="module")
def registered(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    return train_and_register(tracking_dir)


@pytest.fixture(scope="module")
def route(platform: Platform, registered: RegisteredModel) -> Iterator[endpoint_runner.EndpointRoute]:
    deployment = deploy_model(platform, DATASET)
    try:
        deployed = endpoint_runner.read_route(platform)
        assert deployed is not None and deployment.pid == deployed.pid
        yield deployed
    finally:
        platform.services.hosting.stop(platform.outputs.endpoint_name)


def _post(route: endpoint_runner.EndpointRoute, body: bytes, content_type: str, accept: str = "*/*") -> httpx.Response:
    return endpoint_runner.invoke(route, body, content_type, accept)


def test_the_wiring_gives_the_emulator_target_the_local_hosting(platform: Platform) -> None:
    assert isinstance(platform.services.hosting, LocalHosting)
    assert platform.services.hosting.default_image == endpoint_runner.LOCAL_IMAGE


def test_deploy_serves_the_champion_and_registers_it_in_the_emulator(
    platform: Platform, registered: RegisteredModel, route: endpoint_runner.EndpointRoute
) -> None:
    assert (route.version, route.model_uri) == (registered.version, f"models:/{DATASET}/{registered.version}")
    assert json.loads(httpx.get(route.url + "/ping").text) == {
        "status": "healthy",
        "model": DATASET,
        "version": registered.version,
    }
    sagemaker = clients_of(platform).client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=platform.outputs.endpoint_name)
    assert endpoint["EndpointConfigName"] == f"{platform.outputs.endpoint_config_name}-v{registered.version}"
    model = sagemaker.describe_model(ModelName=f"{platform.outputs.sagemaker_model_name}-v{registered.version}")
    assert model["PrimaryContainer"]["Image"] == endpoint_runner.LOCAL_IMAGE
    assert model["PrimaryContainer"]["Environment"]["SERVING_MODEL_URI"] == route.model_uri
    body = json.dumps({"dataframe_split": json.loads(registered.sample.to_json(orient="split", index=False))})
    answer = _post(route, body.encode(), "application/json")
    assert answer.status_code == 200
    assert len(answer.json()["predictions"]) == 5
    assert set(answer.json()["predictions"]) <= {0, 1}
    from serving.model import load_model

    expected = load_model(route.model_uri, registered.tracking_uri).score(registered.sample)
    assert answer.json() == {"predictions": expected.predictions, "probabilities": expected.probabilities}
    invoked = platform.services.endpoint.invoke(body.encode(), "application/json")
    assert json.loads(invoked.body) == answer.json()


def test_status_says_what_the_endpoint_serves(
    platform: Platform, registered: RegisteredModel, route: endpoint_runner.EndpointRoute
) -> None:
    status = platform.services.hosting.status(platform.outputs.endpoint_name)
    assert status is not None
    assert replace(status, model=None, endpoint_config=None, fleets=(), rollout=None) == Deployment(
        endpoint=platform.outputs.endpoint_name,
        status="InService",
        version=registered.version,
        model_uri=route.model_uri,
        url=route.url,
        pid=route.pid,
    )
    assert status.model == f"{platform.outputs.sagemaker_model_name}-v{registered.version}"
    assert [(f["variant"], f["version"], f["weight"], f["pid"]) for f in status.fleets] == [
        ("AllTraffic", registered.version, 1.0, route.pid)
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"amount=1", "application/x-www-form-urlencoded", 415),
        (b'{"dataframe_records": [{"amount": 1', "application/json", 400),
        (b'amount,channel\n"1,2\n', "text/csv", 400),
        (b'{"dataframe_records": [{"amount": 1.0}]}', "application/json", 400),
        (b"", "text/csv", 400),
        (b"x" * (6 * 1024 * 1024 + 1), "text/csv", 413),
    ],
)
def test_bad_input_gets_4xx_and_the_server_keeps_serving(
    route: endpoint_runner.EndpointRoute, registered: RegisteredModel, body: bytes, content_type: str, status: int
) -> None:
    assert _post(route, body, content_type).status_code == status
    good = registered.sample.to_csv(index=False).encode()
    again = _post(route, good, "text/csv", accept="text/csv")
    assert again.status_code == 200
    assert len(again.text.splitlines()) == 5


def test_a_deployment_that_fails_its_health_check_never_takes_traffic(
    platform: Platform, registered: RegisteredModel, route: endpoint_runner.EndpointRoute, tmp_path: Path
) -> None:
    import mlflow
    from sklearn.dummy import DummyClassifier

    with scoped_mlflow(registered.tracking_uri):
        # the session's store may hold a pipeline's experiment of this name, its artifacts on the emulator's S3
        experiment = local_experiment(mlflow.MlflowClient(), DATASET, tmp_path / "artifacts")
        with mlflow.start_run(experiment_id=experiment):
            # no signature: the server refuses to serve it and exits during start-up
            model = DummyClassifier().fit([[0.0]], [0])
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=DATASET, serialization_format="cloudpickle"
            )
    spec = hosting_spec(platform, DATASET, str(info.registered_model_version), endpoint_runner.LOCAL_IMAGE)
    with pytest.raises(DeploymentError, match="exited with code 3 before its health check passed"):
        LocalHosting(platform, health_timeout=120).deploy(spec)
    assert endpoint_runner.read_route(platform) == route
    assert _post(route, registered.sample.to_csv(index=False).encode(), "text/csv").status_code == 200


def test_redeploy_switches_the_route_and_stops_the_old_process(
    platform: Platform, registered: RegisteredModel, route: endpoint_runner.EndpointRoute
) -> None:
    hosting = with_short_bakes(platform).services.hosting  # at the default 10 s cap this test took 35 s
    new = hosting.deploy(hosting_spec(platform, DATASET, registered.version, endpoint_runner.LOCAL_IMAGE))
    try:
        assert new.action == "updated"
        assert new.url is not None and new.url != route.url
        recorded = endpoint_runner.read_route(platform)
        assert recorded is not None and recorded.pid == new.pid
        assert not psutil.pid_exists(route.pid) or psutil.Process(route.pid).status() == psutil.STATUS_ZOMBIE
        assert httpx.get(new.url + "/ping").status_code == 200
    finally:
        stopped = hosting.stop(platform.outputs.endpoint_name)
    assert stopped is not None and (stopped.pid, stopped.status) == (new.pid, "Stopped")
    assert endpoint_runner.read_route(platform) is None
    assert hosting.status(platform.outputs.endpoint_name) is None
    assert hosting.stop(platform.outputs.endpoint_name) is None
