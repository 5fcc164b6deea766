"""The kit's directory in the user's cache: what is made once per machine and installed versions, then reused by
every platform and session (the MLflow store template of :mod:`mlops.registry.sqlite_store`, the Spark class
archive of :mod:`mlops.local.jvm_archive`). Deleting it is always safe: each entry is made again when needed."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlops-kit``, else ``~/.cache/mlops-kit`` (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-kit"
