"""The holdout a registered version was evaluated on: the promotion gate scores challenger and champion on the
challenger's holdout, and monitoring scores the champion on rows newer than its own. Any registry implementation
records it the same way, as the version's ``holdout_uri`` tag (the training job's validation channel)."""

from __future__ import annotations

from typing import Any

from mlops.layout import filesystem_path
from mlops.platform import Platform
from mlops.ports.model_registry import ModelRegistryError, ModelVersionInfo

HOLDOUT_TAG = "holdout_uri"


def holdout_of(platform: Platform, version: ModelVersionInfo) -> Any:
    """The version's holdout rows (a pandas frame) read through the object store."""
    import pandas as pd

    uri = version.tags.get(HOLDOUT_TAG)
    if not uri:
        raise ModelRegistryError(f"model {version.name!r} version {version.version} records no {HOLDOUT_TAG} tag")
    return pd.read_parquet(filesystem_path(uri), filesystem=platform.services.object_store.filesystem())
