"""Model package registry port: the cloud's own registry of deployable model versions (a SageMaker model package
group, Vertex AI Model Registry), each with an approval status and a lifecycle stage.

The kit's :class:`~mlops.ports.model_registry.ModelRegistry` keeps one package per MLflow model version and moves
its approval and stage in step with the version's aliases; capability code never calls this port directly.
Approval statuses are SageMaker's (PendingManualApproval, Approved, Rejected). The stage (Staging, Production,
Archived) lives in the package's metadata under :data:`STAGE_KEY`, a field every implementation keeps.
Metadata values are limited to :data:`METADATA_VALUE_LIMIT` characters and longer ones are refused, not cut:
a silently truncated lineage value (an S3 URI, a commit) would point somewhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mlops.errors import RegistryError
from mlops.ports.errors import NotFoundError, PortError

Approval = Literal["PendingManualApproval", "Approved", "Rejected"]
Stage = Literal["Staging", "Production", "Archived"]
STAGE_KEY = "stage"
METADATA_VALUE_LIMIT = 256
DESCRIPTION_LIMIT = 1000


class ModelPackageError(PortError, RegistryError):
    """A model package operation failed; the message names the group or the package ARN."""


class ModelPackageNotFoundError(ModelPackageError, NotFoundError):
    """No package at that ARN (or no such package group)."""


class InvalidModelPackageError(ModelPackageError):
    """The request was refused before reaching the registry (e.g. a metadata value over the limit)."""


@dataclass(frozen=True)
class ModelPackage:
    """One version of a model package group."""

    arn: str
    version: int
    approval: str
    stage: str
    model_data_url: str
    image: str
    metadata: dict[str, str]
    description: str
    drift_check_baselines: dict[str, str] = field(default_factory=dict)
    """``statistics`` / ``constraints`` URIs of the data-quality baseline (SageMaker's ``DriftCheckBaselines``)."""


class ModelPackageRegistry(Protocol):
    """Versioned model packages of one group, with approval status and stage."""

    group: str

    def create(
        self,
        model_data_url: str,
        image: str,
        *,
        metadata: Mapping[str, str],
        description: str,
        metrics_url: str | None = None,
        lineage: Mapping[str, str] | None = None,
        drift_baselines: Mapping[str, str] | None = None,
    ) -> ModelPackage:
        """Register a new version as PendingManualApproval in stage Staging (``drift_baselines``: ``statistics``
        and ``constraints`` URIs, the package's data-quality baseline); ``metadata`` values over
        :data:`METADATA_VALUE_LIMIT` characters raise :class:`InvalidModelPackageError` (nothing is created)."""
        ...

    def describe(self, arn: str) -> ModelPackage:
        """The package at ``arn``; :class:`ModelPackageNotFoundError` when there is none."""
        ...

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        """Set the approval status and stage (other metadata kept); ``note`` becomes the approval description."""
        ...

    def list(self) -> list[ModelPackage]:
        """Every version of the group, oldest first (empty when the group holds none)."""
        ...


def checked_metadata(values: Mapping[str, str]) -> dict[str, str]:
    """The metadata as strings, or :class:`InvalidModelPackageError` naming the first value over the limit."""
    too_long = [key for key, value in values.items() if len(str(value)) > METADATA_VALUE_LIMIT]
    if too_long:
        raise InvalidModelPackageError(
            f"model package metadata {too_long[0]!r} exceeds {METADATA_VALUE_LIMIT} characters "
            f"({len(str(values[too_long[0]]))}); values are refused, not cut"
        )
    return {key: str(value) for key, value in values.items()}
