"""The local MLflow tracking stores: one sqlite file per stack, ``<state_dir>/mlflow/<server>/mlflow.db``, playing
the stack's managed MLflow server (the AWS apply's ``MlflowTrackingServer``, the GCP apply's Cloud Run server).

A store outlives the emulator on disk, but what its model versions name does not: the model packages (moto's
SageMaker, the Firestore emulator's registry) and the artifacts in the stack's buckets are in the emulator's memory.
Kept past the emulator, the store says a champion exists whose package is gone: the next promotion fails on it
("model package ... not found") and the rebuild docs/local.md describes cannot get past it. So when the emulator's
data goes (``mlops local down``, ``reset``, an ``up`` that starts a new emulator or finds it wiped), the stores are
retired with it: moved, whole, to ``<state_dir>/mlflow-retired/<UTC time>/<server>/``, where MLflow still opens
them (runs, parameters, metrics: ``mlflow ui --backend-store-uri sqlite:///<path>``); the next apply makes a new,
empty store, as the emulator is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

STORES = "mlflow"
RETIRED = "mlflow-retired"
DATABASE = "mlflow.db"


def store_path(state_dir: Path, server: str) -> Path:
    """The sqlite file of the tracking store named ``server`` (one per stack)."""
    return (state_dir / STORES / server).resolve() / DATABASE


def retire(state_dir: Path, *, now: datetime | None = None) -> list[Path]:
    """Move every tracking store under ``state_dir`` aside (see the module docstring); their new directories, in
    name order. Nothing to move: nothing is made."""
    stores = sorted(path for path in (state_dir / STORES).glob("*") if path.is_dir())
    if not stores:
        return []
    target = _free_directory(state_dir / RETIRED, (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ"))
    target.mkdir(parents=True)
    moved = []
    for store in stores:
        store.rename(target / store.name)  # one filesystem: the directory with its -wal and -shm files at once
        moved.append(target / store.name)
    return moved


def _free_directory(parent: Path, stamp: str) -> Path:
    """``parent/stamp``, or ``parent/stamp-2``, ``-3``... when a retirement in the same second took it."""
    candidate, number = parent / stamp, 1
    while candidate.exists():
        number += 1
        candidate = parent / f"{stamp}-{number}"
    return candidate


def describe(moved: list[Path]) -> str:
    """One sentence for the CLI: what was retired, where it is and how to read it."""
    where = ", ".join(str(path) for path in moved)
    return (
        f"the MLflow tracking store{'s' if len(moved) > 1 else ''} of the emulator's stacks named model packages and "
        f"artifacts that went with its data: moved to {where} (read it with `mlflow ui --backend-store-uri "
        f"sqlite:///<dir>/{DATABASE}`); the stack's next apply makes an empty one"
    )
