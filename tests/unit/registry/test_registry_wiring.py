"""The wiring's model registry choices: ``auto`` is MLflow + the cloud's packages on every target, ``memory`` the
same service over a throw-away MLflow and the in-memory packages."""

from __future__ import annotations

from mlops.adapters.memory.model_packages import MemoryModelPackages
from mlops.outputs import StackOutputs
from mlops.registry.service import MlflowModelRegistry
from mlops.settings import load_settings
from mlops.wiring import build_platform, memory_platform, resolve


def test_auto_is_mlflow_with_the_cloud_packages_on_every_target() -> None:
    for target in ("aws", "moto"):
        assert resolve(load_settings(target=target), "model_registry") == "mlflow-sagemaker"


def test_the_memory_choice_keeps_everything_in_the_process(outputs: StackOutputs) -> None:
    registry = memory_platform(outputs).services.model_registry

    assert isinstance(registry, MlflowModelRegistry)
    assert isinstance(registry.packages, MemoryModelPackages)
    assert registry.packages.group == outputs.model_package_group
    assert registry.environment()["MLFLOW_TRACKING_URI"].startswith("sqlite:///")
    assert registry.versions("never_registered") == []


def test_mlflow_sagemaker_points_at_the_stack_tracking_uri(outputs: StackOutputs) -> None:
    settings = load_settings(
        target="aws", region="eu-west-1", services={"model_registry": {"type": "mlflow-sagemaker"}}
    )
    registry = build_platform(settings, outputs).services.model_registry

    env = registry.environment()
    assert env["MLFLOW_TRACKING_URI"] == outputs.mlflow_tracking_uri
    assert env["AWS_REGION"] == "eu-west-1"
