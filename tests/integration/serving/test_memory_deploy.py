"""A whole deploy through the wiring on the in-memory hosting: the registered champion resolved in MLflow, its
container served in process by the real server core, invoked through the endpoint port; a version whose
container cannot start never replaces it. (Here, not under tests/unit: it trains and registers a model.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters.memory.endpoint import MemoryHosting
from mlops.ports.endpoint import EndpointNotFoundError
from mlops.ports.hosting import Deployment, HostingError
from mlops.registry.session import scoped_mlflow
from mlops.wiring import memory_platform
from serving.deploy import deploy_model
from tests.unit.serving.test_deploy import OUTPUTS


def test_deploy_serves_the_champion_in_memory_and_a_failed_start_keeps_it(tmp_path: Path) -> None:
    import mlflow
    from sklearn.dummy import DummyClassifier

    from serving.model import load_model
    from serving.server import in_process
    from tests.unit.serving.model_support import DATASET, train_and_register

    registered = train_and_register(tmp_path / "mlflow")
    platform = memory_platform(OUTPUTS.model_copy(update={"mlflow_tracking_uri": registered.tracking_uri}))
    hosting = platform.services.hosting
    assert isinstance(hosting, MemoryHosting)
    hosting.serve = in_process
    with pytest.raises(EndpointNotFoundError, match=r"^endpoint 'kit-endpoint' is not deployed$"):
        platform.services.endpoint.invoke(b"", "text/csv")

    deployment = deploy_model(platform, DATASET)
    assert (deployment.version, deployment.action, deployment.model) == (
        registered.version,
        "created",
        f"kit-model-v{registered.version}",
    )
    body = registered.sample.to_csv(index=False).encode()
    answer = platform.services.endpoint.invoke(body, "text/csv", "text/csv")
    expected = load_model(f"models:/{DATASET}/{registered.version}", registered.tracking_uri).score(registered.sample)
    assert expected.probabilities is not None
    assert answer.body.decode().splitlines() == [
        f"{label},{probability}"
        for label, probability in zip(expected.predictions, expected.probabilities, strict=True)
    ]

    with (
        scoped_mlflow(registered.tracking_uri),
        mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(DATASET).experiment_id),  # type: ignore[union-attr]
    ):
        # as the kit logs its models (cloudpickle, requirements given): MLflow's default format imports skops, which
        # looks up types in every loaded module (9 s in a test process that loaded the Pulumi program), and
        # inferring the requirements runs the model in a child process
        unsigned = mlflow.sklearn.log_model(
            DummyClassifier().fit([[0.0]], [0]),
            name="model",
            registered_model_name=DATASET,
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn"],
        )
    with pytest.raises(HostingError, match="did not become healthy: ModelLoadError"):
        deploy_model(platform, DATASET, str(unsigned.registered_model_version))
    assert hosting.status("kit-endpoint") == Deployment(
        endpoint="kit-endpoint",
        status="InService",
        version=registered.version,
        model_uri=f"models:/{DATASET}/{registered.version}",
        model=f"kit-model-v{registered.version}",
        endpoint_config=f"kit-config-v{registered.version}",
    )
    assert platform.services.endpoint.invoke(body, "text/csv", "text/csv") == answer
