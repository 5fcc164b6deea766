"""Fixtures of the registry's unit tests: the registry service over a throw-away MLflow (sqlite in a tmp dir),
the in-memory package registry and object store. The MLflow store and the saved job model are built once per
session (creating an MLflow database takes seconds); every test registers under a model name of its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mlops.adapters.memory.model_packages import MemoryModelPackages
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.layout import Layout
from mlops.outputs import StackOutputs, parse_outputs
from mlops.ports.model_packages import ModelPackageRegistry
from mlops.registry.ephemeral import EphemeralMlflow
from mlops.registry.service import MlflowModelRegistry
from tests.support.registry import JobModel, job_model
from tests.unit.test_outputs import complete_outputs


@dataclass
class Harness:
    """The registry under test and what it writes to: the MLflow store, the packages, the object store."""

    store: EphemeralMlflow
    packages: MemoryModelPackages
    objects: MemoryObjectStore
    outputs: StackOutputs

    @property
    def registry(self) -> MlflowModelRegistry:
        return self.over(self.packages)

    def over(self, packages: ModelPackageRegistry) -> MlflowModelRegistry:
        """The same MLflow and object store with other packages (a failing fake)."""
        layout = Layout(self.outputs, self.objects.scheme)
        return MlflowModelRegistry(self.store.connection, packages, self.objects, layout, self.store.artifact_location)

    def runs(self, name: str) -> list[Any]:
        """Every run of the model's experiment, newest first."""
        with self.store.connection.session() as client:
            experiment = client.get_experiment_by_name(name)
            return list(client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"]))


@pytest.fixture(scope="session")
def mlflow_store() -> Iterator[EphemeralMlflow]:
    store = EphemeralMlflow(prefix="mlops-registry-unit-")
    yield store
    store.close()


@pytest.fixture(scope="session")
def job(tmp_path_factory: pytest.TempPathFactory) -> JobModel:
    return job_model(tmp_path_factory.mktemp("job"), "registry_unit")


@pytest.fixture
def outputs() -> StackOutputs:
    return parse_outputs(complete_outputs(), "unit")


@pytest.fixture
def unit(mlflow_store: EphemeralMlflow, outputs: StackOutputs) -> Harness:
    return Harness(mlflow_store, MemoryModelPackages("unit-group"), MemoryObjectStore(), outputs)


@pytest.fixture
def name() -> str:
    """A model name no other test registers under."""
    return f"model_{secrets.token_hex(4)}"
