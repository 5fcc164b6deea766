"""Model package registry: versioned model packages with an approval status and a lifecycle stage.

``ModelPackageRegistry`` is the interface; ``SageMakerModelPackages`` implements it on a SageMaker model
package group (``outputs.model_package_group``). Approval statuses are SageMaker's own
(PendingManualApproval, Approved, Rejected). The stage (Staging, Production, Archived) is kept in the
package's ``CustomerMetadataProperties`` under ``stage``: SageMaker's ``ModelLifeCycle`` field exists, but the
emulator (moto 5.2) drops it silently, so the kit uses a field both honour. ``UpdateModelPackage`` replaces the
whole metadata map (and, in moto, resets an omitted approval status), so updates always send both in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import RegistryError

Approval = Literal["PendingManualApproval", "Approved", "Rejected"]
Stage = Literal["Staging", "Production", "Archived"]
STAGE_KEY = "stage"
_METADATA_VALUE_LIMIT = 256


@dataclass(frozen=True)
class ModelPackage:
    """One version of a model package group."""

    arn: str
    version: int
    approval: str
    stage: str
    model_data_url: str
    metadata: dict[str, str]
    description: str


class ModelPackageRegistry(Protocol):
    """Versioned model packages with approval status and stage."""

    def create(
        self,
        model_data_url: str,
        image: str,
        *,
        metadata: Mapping[str, str],
        description: str,
        metrics_url: str | None = None,
        lineage: Mapping[str, str] | None = None,
    ) -> ModelPackage:
        """Register a new version as PendingManualApproval in stage Staging."""
        ...

    def describe(self, arn: str) -> ModelPackage:
        """The package at ``arn``."""
        ...

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        """Set the approval status and stage; ``note`` becomes the approval description."""
        ...

    def list(self) -> list[ModelPackage]:
        """Every version of the group, oldest first."""
        ...


class SageMakerModelPackages:
    """``ModelPackageRegistry`` on one SageMaker model package group."""

    def __init__(self, clients: ClientFactory, group: str) -> None:
        self._clients = clients
        self.group = group

    @property
    def _client(self) -> Any:
        return self._clients.client("sagemaker")

    def create(
        self,
        model_data_url: str,
        image: str,
        *,
        metadata: Mapping[str, str],
        description: str,
        metrics_url: str | None = None,
        lineage: Mapping[str, str] | None = None,
    ) -> ModelPackage:
        request: dict[str, Any] = {
            "ModelPackageGroupName": self.group,
            "ModelPackageDescription": description[:1000],
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "CustomerMetadataProperties": _metadata({**metadata, STAGE_KEY: "Staging"}),
        }
        if metrics_url:
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": metrics_url}}
            }
        if lineage:
            request["MetadataProperties"] = {k: v for k, v in lineage.items() if v}
        try:
            arn = self._client.create_model_package(**request)["ModelPackageArn"]
        except ClientError as exc:
            raise RegistryError(f"cannot create a model package in group {self.group!r}: {exc}") from exc
        return self.describe(arn)

    def describe(self, arn: str) -> ModelPackage:
        try:
            raw = self._client.describe_model_package(ModelPackageName=arn)
        except ClientError as exc:
            raise RegistryError(f"model package {arn!r} not found: {exc}") from exc
        metadata = dict(raw.get("CustomerMetadataProperties") or {})
        containers = raw.get("InferenceSpecification", {}).get("Containers", [{}])
        return ModelPackage(
            arn=raw["ModelPackageArn"],
            version=int(raw.get("ModelPackageVersion", 0)),
            approval=raw.get("ModelApprovalStatus", ""),
            stage=metadata.get(STAGE_KEY, ""),
            model_data_url=containers[0].get("ModelDataUrl", ""),
            metadata=metadata,
            description=raw.get("ApprovalDescription") or "",
        )

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        current = self.describe(arn)
        self._client.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=approval,
            ApprovalDescription=note[:1000],
            CustomerMetadataProperties={**current.metadata, STAGE_KEY: stage},
        )
        return self.describe(arn)

    def list(self) -> list[ModelPackage]:
        arns: list[str] = []
        for page in self._client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.group):
            arns.extend(p["ModelPackageArn"] for p in page["ModelPackageSummaryList"])
        return sorted((self.describe(a) for a in arns), key=lambda p: p.version)


def _metadata(values: Mapping[str, str]) -> dict[str, str]:
    """CustomerMetadataProperties values are limited to 256 characters: longer ones are refused, not cut."""
    too_long = [k for k, v in values.items() if len(str(v)) > _METADATA_VALUE_LIMIT]
    if too_long:
        raise RegistryError(f"model package metadata {too_long[0]!r} exceeds {_METADATA_VALUE_LIMIT} characters")
    return {k: str(v) for k, v in values.items()}
