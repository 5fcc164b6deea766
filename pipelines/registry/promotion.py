"""Promotion gate, rollback and listing over the model registry port (``platform.services.model_registry``).

- promote: the ``challenger`` becomes ``champion`` only if, on the challenger's own holdout, its primary
  metric (PR-AUC of the positive class for binary, log loss for multiclass, RMSE for regression) beats the
  champion's by ``margin`` (absolute, in the metric's units). Both are scored by the kit's one scoring function
  (:mod:`mlops.modeling`), so the gated figure is the one serving and monitoring compute. ``force`` skips the gate
  and needs a reason, which is recorded. The registry archives the old champion (its package stays Approved,
  stage Archived) and remembers it for rollback.
- rollback: the champion is replaced by the version it replaced; the rolled-back version is Rejected/Archived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.contracts import CHALLENGER, CHAMPION
from mlops.datasets import DatasetDefinition
from mlops.errors import RegistryError
from mlops.modeling.metrics import beats, primary_metric, task_metrics
from mlops.modeling.scoring import metric_scores, score
from mlops.modeling.spec import ModelSpec, features_of, target_of
from mlops.platform import Platform
from mlops.ports.model_registry import LINEAGE_KEYS, GateRejectedError
from mlops.registry.holdout import holdout_of


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


def primary_score(model: Any, holdout: Any, spec: ModelSpec) -> float:
    """The model's primary metric on ``holdout`` (features and label of ``spec``)."""
    metric, _ = primary_metric(spec.task)
    target = target_of(holdout, spec)
    if spec.is_classification and len(set(target.tolist())) < 2:
        raise RegistryError(f"the holdout holds a single class of label {spec.label!r}: {metric} is undefined")
    predicted = metric_scores(score(model, features_of(holdout, spec), spec.positive_class))
    return task_metrics(spec.task, target, predicted)[metric]


def promote(
    platform: Platform, definition: DatasetDefinition, margin: float, force: bool = False, reason: str = ""
) -> Promotion:
    """Gate and promote the challenger; raises :class:`GateRejectedError` (changing nothing) if it loses."""
    if force and not reason.strip():
        raise RegistryError("a forced promotion needs a reason (--reason)")
    registry = platform.services.model_registry
    spec = ModelSpec.from_definition(definition)
    metric, _ = primary_metric(spec.task)
    name = definition.name
    challenger = registry.version(name, CHALLENGER)
    champion = registry.find(name, CHAMPION)
    holdout = holdout_of(platform, challenger)
    challenger_score = primary_score(registry.load_model(name, str(challenger.version)), holdout, spec)
    champion_score = (
        primary_score(registry.load_model(name, str(champion.version)), holdout, spec) if champion else None
    )
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
        raise GateRejectedError(
            f"model {name!r}: challenger v{challenger.version} {metric}={challenger_score:.4f} does not beat "
            f"champion v{decision.champion_version} {metric}={champion_score:.4f} by margin {margin} on the "
            "challenger's holdout; nothing changed (use --force --reason to override)"
        )
    note = f"forced: {reason}" if force else f"{metric} {challenger_score:.4f} vs {champion_score} (margin {margin})"
    registry.set_champion(name, challenger.version, note=note)
    return decision


def rollback(platform: Platform, definition: DatasetDefinition) -> tuple[int, int]:
    """Restore the champion's predecessor; returns (rolled-back version, restored version)."""
    return platform.services.model_registry.rollback(definition.name)


def list_models(platform: Platform, dataset: str) -> list[dict[str, Any]]:
    """Every version with aliases, stage, validation metrics, lineage and its package's approval and stage."""
    return [
        {
            "version": version.version,
            "aliases": list(version.aliases),
            "stage": version.stage,
            "metrics": {k: v for k, v in sorted(version.metrics.items()) if k.startswith("validation_")},
            **{key: version.tags.get(key, "") for key in LINEAGE_KEYS},
            "model_package_arn": version.model_package_arn,
            "approval": version.approval,
            "package_stage": version.package_stage,
        }
        for version in platform.services.model_registry.versions(dataset)
    ]
