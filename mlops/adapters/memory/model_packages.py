"""``ModelPackageRegistry`` in memory: one package group held in a dict, with SageMaker's observable behaviour
(versions numbered from 1, PendingManualApproval/Staging on creation, the metadata limit, not-found errors)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from mlops.ports.model_packages import (
    DESCRIPTION_LIMIT,
    STAGE_KEY,
    Approval,
    ModelPackage,
    ModelPackageNotFoundError,
    Stage,
    checked_metadata,
)


class MemoryModelPackages:
    """``ModelPackageRegistry`` on an in-process package group; ARNs are ``memory:model-package/<group>/<n>``."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._packages: dict[str, ModelPackage] = {}
        self._lock = threading.Lock()

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
        values = checked_metadata({**metadata, STAGE_KEY: "Staging"})
        with self._lock:
            version = len(self._packages) + 1
            package = ModelPackage(
                arn=f"memory:model-package/{self.group}/{version}",
                version=version,
                approval="PendingManualApproval",
                stage="Staging",
                model_data_url=model_data_url,
                image=image,
                metadata=values,
                description="",
                drift_check_baselines=dict(drift_baselines or {}),
            )
            self._packages[package.arn] = package
        return package

    def describe(self, arn: str) -> ModelPackage:
        with self._lock:
            found = self._packages.get(arn)
        if found is None:
            raise ModelPackageNotFoundError(f"describing model package {arn!r}: not found in group {self.group!r}")
        return found

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        current = self.describe(arn)
        updated = replace(
            current,
            approval=approval,
            stage=stage,
            metadata={**current.metadata, STAGE_KEY: stage},
            description=note[:DESCRIPTION_LIMIT],
        )
        with self._lock:
            self._packages[arn] = updated
        return updated

    def list(self) -> list[ModelPackage]:
        with self._lock:
            return sorted(self._packages.values(), key=lambda package: package.version)
