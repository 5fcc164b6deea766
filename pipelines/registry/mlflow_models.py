"""Registered MLflow models of a dataset: versions, aliases and the tags that carry lineage and stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.errors import RegistryError

STAGE_TAG = "stage"
PACKAGE_TAG = "model_package_arn"
PREVIOUS_CHAMPION_TAG = "previous_champion"
LINEAGE_TAGS = ("dataset_version", "training_job", "code_version", "holdout_uri", "model_artifact")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version with its aliases, tags and its run's metrics."""

    name: str
    version: int
    aliases: tuple[str, ...]
    tags: dict[str, str]
    metrics: dict[str, float]
    run_id: str
    source: str


def version_of(client: Any, name: str, version: int | str) -> ModelVersion:
    raw = client.get_model_version(name, str(version))
    run = client.get_run(raw.run_id) if raw.run_id else None
    return ModelVersion(
        name=name,
        version=int(raw.version),
        aliases=tuple(sorted(raw.aliases or ())),
        tags=dict(raw.tags or {}),
        metrics=dict(run.data.metrics) if run is not None else {},
        run_id=raw.run_id or "",
        source=raw.source or "",
    )


def by_alias(client: Any, name: str, alias: str) -> ModelVersion | None:
    """The version holding ``alias``, or ``None`` when no version holds it (or the model is unregistered)."""
    from mlflow.exceptions import MlflowException

    try:
        raw = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of model {name!r}: {exc}") from exc
    return version_of(client, name, raw.version)


def require_alias(client: Any, name: str, alias: str) -> ModelVersion:
    found = by_alias(client, name, alias)
    if found is None:
        raise RegistryError(f"model {name!r} has no version with alias {alias!r}")
    return found


def all_versions(client: Any, name: str) -> list[ModelVersion]:
    """Every version of the registered model, oldest first (empty if it was never registered)."""
    raws = client.search_model_versions(f"name='{name}'")
    return sorted((version_of(client, name, r.version) for r in raws), key=lambda v: v.version)


def set_stage(client: Any, version: ModelVersion, stage: str) -> None:
    client.set_model_version_tag(version.name, str(version.version), STAGE_TAG, stage)
