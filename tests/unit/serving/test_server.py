"""The container's configuration: its services come from the wiring (settings and the online table from its
environment), a model package is resolved through the hosting port, and the port follows SageMaker's contract."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops.adapters.aws.dynamodb_online import DynamoDBOnlineStore
from mlops.adapters.aws.sagemaker_hosting import SageMakerHosting
from mlops.adapters.memory.endpoint import MemoryHosting
from mlops.outputs import StackOutputs
from mlops.wiring import memory_platform
from serving.errors import ModelLoadError
from serving.server import build_core, container_platform, port_from

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/kit-models/4"
VERTEX_VERSION = "projects/mlops-test/locations/europe-west4/models/kit-models@4"  # a Model Registry version


def test_the_container_wires_its_services_from_its_environment() -> None:
    env = {
        "MLOPS_TARGET": "aws",
        "MLOPS_REGION": "eu-west-1",
        "SERVING_ONLINE_TABLE": "kit-online",
    }
    platform = container_platform(env)
    assert (platform.settings.target, platform.settings.region) == ("aws", "eu-west-1")
    store = platform.services.online_store
    assert isinstance(store, DynamoDBOnlineStore)
    assert store.table == "kit-online"
    assert isinstance(platform.services.hosting, SageMakerHosting)


def test_an_emulated_container_reaches_the_emulator_it_is_given() -> None:
    env = {"MLOPS_TARGET": "moto", "MLOPS_ENDPOINT_URL": "http://127.0.0.1:5999", "SERVING_ONLINE_TABLE": "t"}
    platform = container_platform(env)
    assert platform.settings.endpoint_url == "http://127.0.0.1:5999"


@pytest.mark.parametrize("package", [PACKAGE, VERTEX_VERSION])
def test_an_unknown_model_package_is_a_model_load_error_naming_it(package: str) -> None:
    values: dict[str, Any] = {"endpoint_name": "kit-endpoint", "metrics_namespace": "Kit", "model_package_group": "g"}
    platform = memory_platform(StackOutputs.model_construct(**values))
    hosting = platform.services.hosting
    assert isinstance(hosting, MemoryHosting)
    with pytest.raises(
        ModelLoadError, match=rf"^model package '{re.escape(package)}' cannot be served: model package .* does not"
    ):
        build_core(package, {}, platform)


@pytest.mark.parametrize(
    ("env", "port"),
    [({"SAGEMAKER_BIND_TO_PORT": "9000", "PORT": "7000"}, 9000), ({"PORT": "7000"}, 7000), ({}, 8080)],
)
def test_the_port_follows_the_sagemaker_contract(env: dict[str, str], port: int) -> None:
    assert port_from(env) == port


def test_a_port_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match=r"port 'http' from PORT is not a TCP port number"):
        port_from({"PORT": "http"})
