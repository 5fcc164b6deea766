"""A registered version keeps what the trained model says about itself (its MLmodel metadata: the task, the classes
and a binary model's positive class), so the server loading it from the registry serves the declared positive
class's probability. The registry re-logs the model: without the metadata the server fell back to sklearn's second
class (for string classes sorted ``cancer``, ``healthy``: the wrong outcome)."""

from __future__ import annotations

from tests.support.registry import JobModel, registration
from tests.unit.registry.conftest import Harness


def test_a_registered_version_keeps_the_models_metadata(unit: Harness, job: JobModel, name: str) -> None:
    from serving.model import load_model

    unit.registry.register(registration(job, "job-meta", dataset=name))
    served = load_model(f"models:/{name}/1", unit.store.connection.tracking_uri)
    assert served.scorer.classes == (0, 1)
    with unit.store.connection.session():
        import mlflow.models

        metadata = mlflow.models.Model.load(f"models:/{name}/1").metadata or {}
    assert (metadata["task"], metadata["positive_class"], metadata["classes"]) == ("binary", 1, [0, 1])
