"""Registered MLflow models of a dataset: versions, aliases and the tags that carry lineage, stage and package.

Every read turns MLflow's "does not exist" into :class:`~mlops.ports.model_registry.ModelNotFoundError` naming the
model and version or alias, so callers never see an ``MlflowException``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.ports.model_registry import LINEAGE_KEYS, ModelNotFoundError, ModelRegistryError

STAGE_TAG = "stage"
PACKAGE_TAG = "model_package_arn"
PREVIOUS_CHAMPION_TAG = "previous_champion"
PROMOTION_TAG = "promotion"
LINEAGE_TAGS = LINEAGE_KEYS
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


@dataclass(frozen=True)
class MlflowVersion:
    """One registered version as MLflow holds it: aliases, tags and its run's metrics."""

    name: str
    version: int
    aliases: tuple[str, ...]
    tags: dict[str, str]
    metrics: dict[str, float]
    run_id: str
    source: str


def version_of(client: Any, name: str, version: int | str) -> MlflowVersion:
    """Version ``version`` of model ``name``; :class:`ModelNotFoundError` when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        raw = client.get_model_version(name, str(version))
        run = client.get_run(raw.run_id) if raw.run_id else None
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            raise ModelNotFoundError(f"model {name!r} has no version {version}: {exc.message}") from exc
        raise ModelRegistryError(f"cannot read model {name!r} version {version}: {exc}") from exc
    return MlflowVersion(
        name=name,
        version=int(raw.version),
        aliases=tuple(sorted(raw.aliases or ())),
        tags=dict(raw.tags or {}),
        metrics=dict(run.data.metrics) if run is not None else {},
        run_id=raw.run_id or "",
        source=raw.source or "",
    )


def by_alias(client: Any, name: str, alias: str) -> MlflowVersion | None:
    """The version holding ``alias``, or ``None`` when no version holds it (or the model is unregistered)."""
    from mlflow.exceptions import MlflowException

    try:
        raw = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            return None
        raise ModelRegistryError(f"cannot read alias {alias!r} of model {name!r}: {exc}") from exc
    return version_of(client, name, raw.version)


def require_alias(client: Any, name: str, alias: str) -> MlflowVersion:
    """The version holding ``alias``; :class:`ModelNotFoundError` when none does."""
    found = by_alias(client, name, alias)
    if found is None:
        raise ModelNotFoundError(f"model {name!r} has no version with alias {alias!r}")
    return found


def resolve(client: Any, name: str, alias_or_version: str) -> MlflowVersion:
    """A version number (``"3"``) or an alias (``"champion"``) of model ``name``."""
    if alias_or_version.isdigit():
        return version_of(client, name, alias_or_version)
    return require_alias(client, name, alias_or_version)


def all_versions(client: Any, name: str) -> list[MlflowVersion]:
    """Every version of the registered model, oldest first (empty if it was never registered)."""
    if "'" in name:
        raise ModelRegistryError(f"model name {name!r} may not contain a quote")
    raws = client.search_model_versions(f"name='{name}'")
    return sorted((version_of(client, name, raw.version) for raw in raws), key=lambda v: v.version)
