"""Model registry port: ONE service over the tracking server's registered models (MLflow versions and aliases)
and the cloud's model packages (SageMaker model package groups, Vertex Model Registry).

Every trained model is registered the same way whichever runner trained it (the local pipeline executor or the
cloud's pipeline): an MLflow version with the ``challenger`` alias, lineage tags, and a model package in
PendingManualApproval / Staging that points back at the version. Promotion moves ``champion`` and approves the
package; rollback restores the previous champion; both keep the two registries in step.

The gate deciding *whether* a challenger is promoted is not here: it lives with the capability
(:mod:`pipelines.registry.promotion`), which scores with :mod:`mlops.modeling` and then calls
:meth:`ModelRegistry.set_champion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops.errors import PromotionRejectedError, RegistryError
from mlops.ports.errors import ConflictError, NotFoundError, PortError
from mlops.ports.model_packages import Approval, Stage

__all__ = [
    "LINEAGE_KEYS",
    "Approval",
    "GateRejectedError",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelRegistryError",
    "ModelVersionInfo",
    "Registration",
    "RegistrationConflictError",
    "RegistrationRequest",
    "Stage",
]

# The lineage a registration records on its version (tags of the same names) and a listing shows.
LINEAGE_KEYS = ("dataset_version", "training_job", "code_version", "holdout_uri", "model_artifact")


class ModelRegistryError(PortError, RegistryError):
    """A registry operation failed; the message names the model, version, alias or package."""


class ModelNotFoundError(ModelRegistryError, NotFoundError):
    """No such registered model, version, alias or model package."""


class RegistrationConflictError(ModelRegistryError, ConflictError):
    """The registry is not in the state the operation needs (e.g. the version already is the champion);
    nothing was changed."""


class GateRejectedError(PromotionRejectedError):
    """The challenger did not beat the champion by the margin (nothing was changed)."""


@dataclass(frozen=True)
class Registration:
    """Where a trained model was registered."""

    model_name: str
    model_version: int
    run_id: str
    model_package_arn: str
    model_package_version: int


@dataclass(frozen=True)
class RegistrationRequest:
    """Everything a registration needs, produced the same way by both training runners.

    ``model_dir`` is the unpacked MLflow model the training job wrote; ``metrics`` its evaluation figures
    (``validation:pr_auc`` ...); ``summary`` the job's ``metrics.json`` (with ``best_params``), uploaded as the
    package's quality report; ``lineage`` holds ``dataset_version``, ``training_job``, ``code_version``,
    ``holdout_uri``, ``model_artifact`` and, for a pipeline execution, ``pipeline_execution``.
    """

    dataset: str
    job_name: str
    job_arn: str
    model_dir: Path
    model_artifact: str
    image: str
    hyperparameters: Mapping[str, str]
    metrics: Mapping[str, float]
    summary: Mapping[str, Any]
    lineage: Mapping[str, str] = field(default_factory=dict)
    baseline: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The drift-check baseline files by name (``statistics.json``, ``constraints.json``: Model Monitor's
    formats), stored with the version and named on its model package; empty when the pipeline wrote none."""


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version with its aliases, stage, run metrics (``validation_pr_auc`` ...), tags (lineage,
    ``stage``, ``model_package_arn``, ``previous_champion``) and its package's state."""

    name: str
    version: int
    aliases: tuple[str, ...]
    stage: str
    metrics: dict[str, float]
    tags: dict[str, str]
    model_package_arn: str
    approval: str
    package_stage: str
    run_id: str = ""


class ModelRegistry(Protocol):
    """Register, promote, roll back and list the models of a dataset (one registered model per dataset)."""

    def register(self, request: RegistrationRequest) -> Registration:
        """Register the model as ``challenger`` with its package; all-or-nothing (a failure leaves no alias on a
        half-registered version, the run FAILED and the package, if one was created, Rejected/Archived)."""
        ...

    def version(self, name: str, alias_or_version: str) -> ModelVersionInfo:
        """The version an alias (``champion``, ``challenger``) or a version number names;
        :class:`ModelNotFoundError` when none does."""
        ...

    def find(self, name: str, alias: str) -> ModelVersionInfo | None:
        """The version holding ``alias``, ``None`` when no version holds it (or the model does not exist)."""
        ...

    def versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version, oldest first (empty when the model was never registered)."""
        ...

    def set_champion(self, name: str, version: int, *, note: str) -> ModelVersionInfo | None:
        """Make ``version`` the champion (approve its package, stage Production), archive the previous champion
        and remember it for rollback; returns the previous champion."""
        ...

    def rollback(self, name: str) -> tuple[int, int]:
        """Restore the champion's predecessor; returns (rolled-back version, restored version)."""
        ...

    def model_uri(self, name: str, alias_or_version: str) -> str:
        """A URI the serving side loads the model from (``models:/<name>/<version>``, the version resolved)."""
        ...

    def load_model(self, name: str, alias_or_version: str) -> Any:
        """The fitted model object of a version, for scoring in process (the promotion gate, monitoring)."""
        ...

    def environment(self) -> dict[str, str]:
        """The environment variables another process (a model server, ``mlflow ui``) needs to read this
        registry's models: the tracking URI and the artifact store's endpoint and credentials."""
        ...
