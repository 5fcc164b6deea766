"""MLflow keeps its tracking and registry URIs process-wide (module globals and variables children inherit): the
kit's sessions put them back, and its clients name their registry, so one registry never receives another's work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops.registry.session import MlflowConnection
from serving.errors import ModelLoadError
from serving.model import resolve_version


def _registry(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name / 'mlflow.db'}"


def _register(tracking_uri: str, model: str, tmp_path: Path) -> None:
    with MlflowConnection(tracking_uri).session() as client:
        client.create_registered_model(model)
        client.create_model_version(model, source=(tmp_path / "model").as_uri())


def _mkdirs(tmp_path: Path, *names: str) -> None:
    for name in names:
        (tmp_path / name).mkdir()


def test_a_session_leaves_no_mlflow_uri_behind(tmp_path: Path) -> None:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state

    _mkdirs(tmp_path, "a")
    uri = _registry(tmp_path, "a")
    with MlflowConnection(uri).session():
        assert os.environ["MLFLOW_REGISTRY_URI"] == uri
        assert mlflow.get_registry_uri() == uri
    # a process started now (a pipeline step, a model server, another stack's command) inherits nothing
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert registry_state._registry_uri is None


def test_a_session_restores_uris_set_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _mkdirs(tmp_path, "a")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:////users/own/registry.db")
    with MlflowConnection(_registry(tmp_path, "a")).session():
        pass
    assert os.environ["MLFLOW_REGISTRY_URI"] == "sqlite:////users/own/registry.db"


def test_a_model_is_resolved_in_the_registry_named_not_the_last_one_used(tmp_path: Path) -> None:
    _mkdirs(tmp_path, "a", "b")
    first, second = _registry(tmp_path, "a"), _registry(tmp_path, "b")
    _register(second, "only-in-b", tmp_path)
    _register(first, "only-in-a", tmp_path)  # the last registry this process used

    assert resolve_version(second, "models:/only-in-b/1") == ("only-in-b", "1")
    with pytest.raises(ModelLoadError, match="only-in-a"):
        resolve_version(second, "models:/only-in-a/1")
