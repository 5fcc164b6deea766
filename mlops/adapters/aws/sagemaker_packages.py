"""``ModelPackageRegistry`` on one SageMaker model package group (``outputs.model_package_group``).

The stage (Staging, Production, Archived) is kept in the package's ``CustomerMetadataProperties`` under
``stage``: SageMaker's ``ModelLifeCycle`` field exists, but the emulator (moto 5.2) drops it silently, so the kit
uses a field both honour. ``UpdateModelPackage`` replaces the whole metadata map (and, in moto, resets an omitted
approval status), so updates always send both in full. SageMaker reports a missing package as a
``ValidationException`` whose message says "not found" / "does not exist": those become
:class:`~mlops.ports.model_packages.ModelPackageNotFoundError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.errors import ThrottledError, UnavailableError
from mlops.ports.model_packages import (
    DESCRIPTION_LIMIT,
    STAGE_KEY,
    Approval,
    ModelPackage,
    ModelPackageError,
    ModelPackageNotFoundError,
    Stage,
    checked_metadata,
)

_THROTTLED = ("ThrottlingException", "Throttling", "TooManyRequestsException", "ResourceLimitExceeded")
_MISSING_WORDS = ("not found", "does not exist", "could not find")


class ModelPackageThrottledError(ModelPackageError, ThrottledError):
    """SageMaker kept throttling the call after the client's retries."""


class ModelPackageUnavailableError(ModelPackageError, UnavailableError):
    """The SageMaker endpoint (or the emulator) did not answer."""


def _failure(what: str, exc: Exception) -> ModelPackageError:
    if isinstance(exc, EndpointConnectionError):
        return ModelPackageUnavailableError(f"{what}: SageMaker did not answer: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "") or exc)
        if code in _THROTTLED:
            return ModelPackageThrottledError(f"{what}: {code}: {message}")
        if code in ("ResourceNotFound", "ResourceNotFoundException") or any(
            word in message.lower() for word in _MISSING_WORDS
        ):
            return ModelPackageNotFoundError(f"{what}: {message}")
        return ModelPackageError(f"{what}: {code}: {message}")
    return ModelPackageError(f"{what}: {exc}")


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
        drift_baselines: Mapping[str, str] | None = None,
    ) -> ModelPackage:
        request: dict[str, Any] = {
            "ModelPackageGroupName": self.group,
            "ModelPackageDescription": description[:DESCRIPTION_LIMIT],
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "CustomerMetadataProperties": checked_metadata({**metadata, STAGE_KEY: "Staging"}),
        }
        if metrics_url:
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": metrics_url}}
            }
        if drift_baselines:
            quality = _data_quality(drift_baselines)
            request.setdefault("ModelMetrics", {})["ModelDataQuality"] = quality
            request["DriftCheckBaselines"] = {"ModelDataQuality": quality}
        if lineage:
            request["MetadataProperties"] = {key: value for key, value in lineage.items() if value}
        try:
            arn = self._client.create_model_package(**request)["ModelPackageArn"]
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"creating a model package in group {self.group!r}", exc) from exc
        return self.describe(arn)

    def describe(self, arn: str) -> ModelPackage:
        try:
            raw = self._client.describe_model_package(ModelPackageName=arn)
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"describing model package {arn!r}", exc) from exc
        metadata = dict(raw.get("CustomerMetadataProperties") or {})
        containers = raw.get("InferenceSpecification", {}).get("Containers") or [{}]
        return ModelPackage(
            arn=raw["ModelPackageArn"],
            version=int(raw.get("ModelPackageVersion", 0)),
            approval=raw.get("ModelApprovalStatus", ""),
            stage=metadata.get(STAGE_KEY, ""),
            model_data_url=containers[0].get("ModelDataUrl", ""),
            image=containers[0].get("Image", ""),
            metadata=metadata,
            description=raw.get("ApprovalDescription") or "",
            drift_check_baselines=_baselines_of(raw),
        )

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        current = self.describe(arn)
        try:
            self._client.update_model_package(
                ModelPackageArn=arn,
                ModelApprovalStatus=approval,
                ApprovalDescription=note[:DESCRIPTION_LIMIT],
                CustomerMetadataProperties={**current.metadata, STAGE_KEY: stage},
            )
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"updating model package {arn!r} to {approval}/{stage}", exc) from exc
        return self.describe(arn)

    def list(self) -> list[ModelPackage]:
        arns: list[str] = []
        try:
            pages = self._client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.group)
            for page in pages:
                arns.extend(summary["ModelPackageArn"] for summary in page["ModelPackageSummaryList"])
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"listing model packages of group {self.group!r}", exc) from exc
        return sorted((self.describe(arn) for arn in arns), key=lambda package: package.version)


def _data_quality(baselines: Mapping[str, str]) -> dict[str, Any]:
    """SageMaker's ``ModelDataQuality``: the baseline's statistics and constraints files (Model Monitor's JSON)."""
    return {
        key.capitalize(): {"ContentType": "application/json", "S3Uri": uri}
        for key, uri in baselines.items()
        if key in ("statistics", "constraints")
    }


def _baselines_of(raw: Mapping[str, Any]) -> dict[str, str]:
    quality = raw.get("DriftCheckBaselines", {}).get("ModelDataQuality", {})
    return {key.lower(): str(value["S3Uri"]) for key, value in quality.items() if "S3Uri" in value}
