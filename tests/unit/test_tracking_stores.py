"""The local MLflow tracking stores are retired with the emulator's data (mlops.local.tracking_stores): moved whole,
never deleted, never overwritten."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlops.local import tracking_stores

WHEN = datetime(2026, 12, 1, 13, 5, 9, tzinfo=UTC)


def _store(state_dir: Path, server: str, content: str) -> Path:
    database = tracking_stores.store_path(state_dir, server)
    database.parent.mkdir(parents=True)
    database.write_text(content)
    (database.parent / f"{tracking_stores.DATABASE}-wal").write_text(f"{content} wal")
    return database


def test_every_stack_store_moves_whole_under_one_dated_directory(tmp_path: Path) -> None:
    _store(tmp_path, "mlops-kit-dev-mlflow", "dev")
    _store(tmp_path, "mlops-kit-prod-mlflow", "prod")
    moved = tracking_stores.retire(tmp_path, now=WHEN)
    retired = tmp_path / "mlflow-retired" / "20261201T130509Z"
    assert moved == [retired / "mlops-kit-dev-mlflow", retired / "mlops-kit-prod-mlflow"]
    assert (retired / "mlops-kit-prod-mlflow" / "mlflow.db").read_text() == "prod"
    assert (retired / "mlops-kit-prod-mlflow" / "mlflow.db-wal").read_text() == "prod wal"
    assert list((tmp_path / "mlflow").iterdir()) == []
    assert not tracking_stores.store_path(tmp_path, "mlops-kit-dev-mlflow").exists()


def test_a_second_retirement_in_the_same_second_keeps_the_first(tmp_path: Path) -> None:
    _store(tmp_path, "s", "first")
    first = tracking_stores.retire(tmp_path, now=WHEN)
    _store(tmp_path, "s", "second")
    second = tracking_stores.retire(tmp_path, now=WHEN)
    assert second == [tmp_path / "mlflow-retired" / "20261201T130509Z-2" / "s"]
    assert (first[0] / "mlflow.db").read_text() == "first"
    assert (second[0] / "mlflow.db").read_text() == "second"


def test_no_store_retires_nothing_and_makes_no_directory(tmp_path: Path) -> None:
    assert tracking_stores.retire(tmp_path) == []
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "stray-file").write_text("not a store")
    assert tracking_stores.retire(tmp_path) == []
    assert not (tmp_path / "mlflow-retired").exists()


def test_the_description_names_where_each_store_went_and_how_to_read_it(tmp_path: Path) -> None:
    moved = [tmp_path / "mlflow-retired" / "t" / "a", tmp_path / "mlflow-retired" / "t" / "b"]
    text = tracking_stores.describe(moved)
    assert all(str(path) in text for path in moved)
    assert "stores" in text and "mlflow ui --backend-store-uri sqlite:///" in text
