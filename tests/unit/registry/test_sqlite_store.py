"""A new sqlite MLflow store is a copy of a migrated empty one: MLflow opens it without migrating, at its newest
schema, with its Default experiment; the template is migrated once per MLflow version."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlops.registry import sqlite_store
from mlops.registry.session import MlflowConnection


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sqlite_store, "_made", {})
    return tmp_path / "cache" / "mlops-kit"


def _migrations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Count MLflow's initialisations of a new store (tables and migrations), still running them."""
    from mlflow.store.db import utils

    calls: list[object] = []
    original = utils._initialize_tables

    def counting(engine: object) -> None:
        calls.append(engine)
        original(engine)  # type: ignore[no-untyped-call]  # MLflow leaves it untyped

    monkeypatch.setattr(utils, "_initialize_tables", counting)
    return calls


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////abs/mlflow.db", Path("/abs/mlflow.db")),
        ("sqlite:///rel/mlflow.db", Path("rel/mlflow.db")),
        ("sqlite:////abs/mlflow.db?timeout=30", Path("/abs/mlflow.db")),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("http://127.0.0.1:5000", None),
        ("arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/x", None),
    ],
)
def test_the_database_of_a_tracking_uri(uri: str, expected: Path | None) -> None:
    assert sqlite_store.database_of(uri) == expected


def test_stores_after_the_first_are_copies_mlflow_opens_without_migrating(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations = _migrations(monkeypatch)
    first, second = tmp_path / "a" / "mlflow.db", tmp_path / "b" / "mlflow.db"
    sqlite_store.create_store(first)
    assert len(migrations) == 1  # the template, migrated by MLflow itself
    assert (cache / f"mlflow-{importlib.metadata.version('mlflow')}-empty.db").is_file()
    sqlite_store.create_store(second)
    for database in (first, second):
        client = MlflowClient(tracking_uri=f"sqlite:///{database}")  # checks the schema is MLflow's newest
        assert [e.name for e in client.search_experiments()] == ["Default"]
        assert client.get_experiment("0").artifact_location.startswith(str(Path.cwd()))  # its own, not the template's
    assert len(migrations) == 1, "no store after the template was migrated"


def test_a_block_on_a_new_sqlite_store_starts_from_the_template(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_store.template()
    migrations = _migrations(monkeypatch)
    connection = MlflowConnection(f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    with connection.session() as client:
        experiment = client.create_experiment("cards", artifact_location=(tmp_path / "art").as_uri())
    assert migrations == []
    assert experiment and (tmp_path / "new" / "mlflow.db").is_file()


def test_an_existing_store_is_left_as_it_is(cache: Path, tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    client.create_experiment("kept")
    before = database.read_bytes()
    sqlite_store.create_store(database)
    sqlite_store.ensure_store(f"sqlite:///{database}")
    assert database.read_bytes() == before


def test_an_unwritable_cache_makes_the_template_for_this_process_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(sqlite_store, "_made", {})
    database = tmp_path / "store" / "mlflow.db"
    sqlite_store.create_store(database)
    assert not sqlite_store.template().is_relative_to(blocker)
    assert [e.name for e in MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()] == ["Default"]


def test_a_filesystem_without_hard_links_gets_the_copy_moved_into_place(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError("hard links are not supported here")

    monkeypatch.setattr(os, "link", no_links)
    database = tmp_path / "store" / "mlflow.db"
    sqlite_store.create_store(database)
    assert [e.name for e in MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()] == ["Default"]
    assert [p.name for p in database.parent.iterdir()] == ["mlflow.db"]  # no staged copy left behind


def test_without_a_template_a_block_leaves_the_new_store_to_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nowhere() -> Path:
        raise OSError("no directory to make the MLflow store template in")

    monkeypatch.setattr(sqlite_store, "template", nowhere)
    database = tmp_path / "new" / "mlflow.db"
    with MlflowConnection(f"sqlite:///{database}").session() as client:
        assert [e.name for e in client.search_experiments()] == ["Default"]
