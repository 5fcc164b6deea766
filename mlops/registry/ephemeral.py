"""A throw-away MLflow: a sqlite tracking store and file artifacts in a temporary directory, removed when the
store is garbage-collected (or the process exits). It backs the ``memory`` model registry choice, so unit tests
run the same registry service as the stack, with nothing leaving the machine."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

from mlops.registry.session import MlflowConnection


class EphemeralMlflow:
    """An MLflow tracking store of its own in a temporary directory."""

    def __init__(self, prefix: str = "mlops-registry-") -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self.connection = MlflowConnection(f"sqlite:///{self.directory / 'mlflow.db'}")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)

    def artifact_location(self, dataset: str) -> str:
        """Where the experiment of ``dataset`` keeps its artifacts (a ``file://`` URI in the directory)."""
        return (self.directory / "artifacts" / dataset).as_uri()

    def close(self) -> None:
        """Remove the directory now (also done when the store is garbage-collected)."""
        self._cleanup()
