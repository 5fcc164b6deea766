"""Promotion gate, rollback and listing over MLflow aliases and SageMaker model packages, kept in step.

- promote: the ``challenger`` becomes ``champion`` only if, on the challenger's own holdout, its primary
  metric (PR-AUC for classification, RMSE for regression) beats the champion's by ``margin`` (absolute, in
  the metric's units). ``force`` skips the gate and needs a reason, which is recorded. The old champion is
  archived (its package stays Approved, stage Archived) and remembered for rollback.
- rollback: the champion is replaced by the version it replaced; the rolled-back version is Rejected/Archived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.adapters.registry import Approval, SageMakerModelPackages, Stage
from mlops.contracts import CHALLENGER, CHAMPION
from mlops.datasets import DatasetDefinition
from mlops.errors import PromotionRejectedError, RegistryError
from mlops.local.platform import Platform
from mlops.modeling.metrics import beats, primary_metric
from mlops.modeling.spec import ModelSpec
from mlops.tracking import mlflow_session
from pipelines.registry.mlflow_models import (
    LINEAGE_TAGS,
    PACKAGE_TAG,
    PREVIOUS_CHAMPION_TAG,
    STAGE_TAG,
    ModelVersion,
    all_versions,
    by_alias,
    require_alias,
    set_stage,
    version_of,
)
from pipelines.training import steps


@dataclass(frozen=True)
class Promotion:
    """The gate's inputs and decision."""

    dataset: str
    metric: str
    challenger_version: int
    challenger_score: float
    champion_version: int | None
    champion_score: float | None
    margin: float
    forced: bool
    reason: str


def holdout_of(platform: Platform, version: ModelVersion) -> Any:
    """The validation channel the version was evaluated on (recorded as its ``holdout_uri`` tag)."""
    import pandas as pd

    uri = version.tags.get("holdout_uri")
    if not uri:
        raise RegistryError(f"model {version.name!r} version {version.version} records no holdout_uri tag")
    return pd.read_parquet(uri.removeprefix("s3://").rstrip("/"), filesystem=platform.clients.arrow_filesystem())


def score(version: ModelVersion, holdout: Any, spec: ModelSpec) -> float:
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")
    metric, _ = primary_metric(spec.task)
    return steps.evaluate(model, holdout, spec)[metric]


def promote(
    platform: Platform, definition: DatasetDefinition, margin: float, force: bool = False, reason: str = ""
) -> Promotion:
    """Gate and promote the challenger; raises :class:`PromotionRejectedError` (changing nothing) if it loses."""
    if force and not reason.strip():
        raise RegistryError("a forced promotion needs a reason (--reason)")
    spec = ModelSpec.from_definition(definition)
    metric, _ = primary_metric(spec.task)
    name = definition.name
    with mlflow_session(platform) as client:
        challenger = require_alias(client, name, CHALLENGER)
        champion = by_alias(client, name, CHAMPION)
        holdout = holdout_of(platform, challenger)
        challenger_score = score(challenger, holdout, spec)
        champion_score = score(champion, holdout, spec) if champion is not None else None
        decision = Promotion(
            dataset=name,
            metric=metric,
            challenger_version=challenger.version,
            challenger_score=challenger_score,
            champion_version=champion.version if champion else None,
            champion_score=champion_score,
            margin=margin,
            forced=force,
            reason=reason,
        )
        wins = champion_score is None or beats(challenger_score, champion_score, spec.task, margin)
        if not wins and not force:
            raise PromotionRejectedError(
                f"model {name!r}: challenger v{challenger.version} {metric}={challenger_score:.4f} does not beat "
                f"champion v{decision.champion_version} {metric}={champion_score:.4f} by margin {margin} on the "
                "challenger's holdout; nothing changed (use --force --reason to override)"
            )
        note = (
            f"forced: {reason}" if force else f"{metric} {challenger_score:.4f} vs {champion_score} (margin {margin})"
        )
        client.set_registered_model_alias(name, CHAMPION, str(challenger.version))
        client.delete_registered_model_alias(name, CHALLENGER)
        set_stage(client, challenger, "Production")
        client.set_model_version_tag(name, str(challenger.version), "promotion", note)
        _package(platform, challenger, "Approved", "Production", f"promoted: {note}")
        if champion is not None:
            client.set_model_version_tag(name, str(challenger.version), PREVIOUS_CHAMPION_TAG, str(champion.version))
            set_stage(client, champion, "Archived")
            _package(platform, champion, "Approved", "Archived", f"replaced by v{challenger.version}")
    return decision


def rollback(platform: Platform, definition: DatasetDefinition) -> tuple[int, int]:
    """Restore the champion's predecessor; returns (rolled-back version, restored version)."""
    name = definition.name
    with mlflow_session(platform) as client:
        current = require_alias(client, name, CHAMPION)
        previous_version = current.tags.get(PREVIOUS_CHAMPION_TAG)
        if not previous_version:
            raise RegistryError(f"model {name!r}: champion v{current.version} replaced no earlier champion")
        previous = version_of(client, name, previous_version)
        client.set_registered_model_alias(name, CHAMPION, str(previous.version))
        set_stage(client, current, "Archived")
        set_stage(client, previous, "Production")
        _package(platform, current, "Rejected", "Archived", f"rolled back to v{previous.version}")
        _package(platform, previous, "Approved", "Production", f"restored by rollback of v{current.version}")
    return current.version, previous.version


def _package(platform: Platform, version: ModelVersion, approval: Approval, stage: Stage, note: str) -> None:
    arn = version.tags.get(PACKAGE_TAG)
    if not arn:
        raise RegistryError(f"model {version.name!r} version {version.version} records no {PACKAGE_TAG} tag")
    SageMakerModelPackages(platform.clients, platform.outputs.model_package_group).update(arn, approval, stage, note)


def list_models(platform: Platform, dataset: str) -> list[dict[str, Any]]:
    """Every version with aliases, stage, validation metrics, lineage and its package's approval and stage."""
    packages = SageMakerModelPackages(platform.clients, platform.outputs.model_package_group)
    rows: list[dict[str, Any]] = []
    with mlflow_session(platform) as client:
        for version in all_versions(client, dataset):
            arn = version.tags.get(PACKAGE_TAG, "")
            package = packages.describe(arn) if arn else None
            rows.append(
                {
                    "version": version.version,
                    "aliases": list(version.aliases),
                    "stage": version.tags.get(STAGE_TAG, ""),
                    "metrics": {k: v for k, v in sorted(version.metrics.items()) if k.startswith("validation_")},
                    **{key: version.tags.get(key, "") for key in LINEAGE_TAGS},
                    "model_package_arn": arn,
                    "approval": package.approval if package else "",
                    "package_stage": package.stage if package else "",
                }
            )
    return rows
