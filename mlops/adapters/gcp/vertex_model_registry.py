"""``ModelPackageRegistry`` on Vertex AI Model Registry (``target: gcp``): the package group is one Vertex model
(``outputs.model_package_group`` as its id), a package one of its versions
(``projects/<p>/locations/<l>/models/<group>@<version>``, the name the port calls the package's ARN).

The port's fields on a version:

- approval and stage are **labels** (``approval``: ``pending-manual-approval`` | ``approved`` | ``rejected``;
  ``stage``: ``staging`` | ``production`` | ``archived``: label values are lowercase);
- the Production stage also holds the version **alias** ``production``: an alias names one version of a model, so
  making another version Production moves it (serving can deploy ``<model>@production``);
- the approval note is the ``version_description``;
- what is set once, at registration (the metadata map with its ``stage``, the model archive, the quality report,
  lineage, the drift baselines, the registration's description) is the version's immutable ``metadata``;
- the version's ``artifact_uri`` is the model's directory (the archive's folder: ``AIP_MODEL_DIR``) and its
  container the serving image.

Vertex reports a missing model or version as ``NotFound``: that becomes
:class:`~mlops.ports.model_packages.ModelPackageNotFoundError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
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

PRODUCTION_ALIAS = "production"
APPROVAL_LABELS: dict[str, str] = {
    "PendingManualApproval": "pending-manual-approval",
    "Approved": "approved",
    "Rejected": "rejected",
}
_VERSION = re.compile(r"^(projects/[^/]+/locations/[^/]+/models/[^/@]+)@(\d+)$")


class VertexRegistryThrottledError(ModelPackageError, ThrottledError):
    """Vertex AI kept refusing the call for quota after the client's retries."""


class VertexRegistryUnavailableError(ModelPackageError, UnavailableError):
    """Vertex AI did not answer."""


def _failure(what: str, exc: Exception) -> ModelPackageError:
    if isinstance(exc, google_errors.NotFound):
        return ModelPackageNotFoundError(f"{what}: {exc.message}")
    if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted):
        return VertexRegistryThrottledError(f"{what}: {exc}")
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return VertexRegistryUnavailableError(f"{what}: Vertex AI did not answer: {exc}")
    return ModelPackageError(f"{what}: {exc}")


class VertexModelPackages:
    """``ModelPackageRegistry`` on one Vertex AI model's versions."""

    def __init__(self, clients: GcpClients, group: str, *, model_service: Any | None = None) -> None:
        self._clients = clients
        self.group = group
        self._service = model_service
        gcp = clients.settings.gcp
        self._parent = f"projects/{gcp.project}/locations/{gcp.location}"
        self.model_name = f"{self._parent}/models/{group}"

    def _models(self) -> Any:
        if self._service is None:
            from google.cloud import aiplatform_v1

            location = self._clients.settings.gcp.location
            self._service = aiplatform_v1.ModelServiceClient(
                client_options={"api_endpoint": f"{location}-aiplatform.googleapis.com"}
            )
        return self._service

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
        from google.cloud import aiplatform_v1
        from google.protobuf import json_format, struct_pb2

        values = checked_metadata({**metadata, STAGE_KEY: "Staging"})
        recorded = {
            "metadata": values,
            "model_data_url": model_data_url,
            "metrics_url": metrics_url or "",
            "lineage": dict(lineage or {}),
            "drift_check_baselines": dict(drift_baselines or {}),
            "description": description,
        }
        model = aiplatform_v1.Model(
            display_name=self.group,
            artifact_uri=model_data_url.rsplit("/", 1)[0] + "/",
            container_spec=aiplatform_v1.ModelContainerSpec(image_uri=image),
            labels={"approval": APPROVAL_LABELS["PendingManualApproval"], "stage": "staging"},
            metadata=json_format.ParseDict(recorded, struct_pb2.Value()),
        )
        request = aiplatform_v1.UploadModelRequest(parent=self._parent, model=model)
        if self._model_exists():
            request.parent_model = self.model_name
        else:
            request.model_id = self.group
        try:
            response = self._models().upload_model(request=request).result()
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"registering {model_data_url} as a version of {self.model_name}", exc) from exc
        return self.describe(f"{self.model_name}@{response.model_version_id}")

    def _model_exists(self) -> bool:
        try:
            self._models().get_model(name=self.model_name)
        except google_errors.NotFound:
            return False
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"reading model {self.model_name}", exc) from exc
        return True

    def _checked(self, arn: str) -> str:
        match = _VERSION.match(arn)
        if match is None or match.group(1) != self.model_name:
            raise ModelPackageNotFoundError(f"model package {arn!r}: not a version of {self.model_name}")
        return arn

    def describe(self, arn: str) -> ModelPackage:
        try:
            return self._package(self._models().get_model(name=self._checked(arn)))
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"describing model package {arn}", exc) from exc

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        from google.cloud import aiplatform_v1
        from google.protobuf import field_mask_pb2

        try:
            current = self._models().get_model(name=self._checked(arn))
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"updating model package {arn}", exc) from exc
        labels = {**dict(current.labels), "approval": APPROVAL_LABELS[approval], "stage": stage.lower()}
        try:
            self._models().update_model(
                model=aiplatform_v1.Model(name=arn, labels=labels, version_description=note[:DESCRIPTION_LIMIT]),
                update_mask=field_mask_pb2.FieldMask(paths=["labels", "version_description"]),
            )
            self._move_production_alias(arn, holds=PRODUCTION_ALIAS in current.version_aliases, wanted=stage)
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"updating model package {arn}", exc) from exc
        return self.describe(arn)

    def _move_production_alias(self, arn: str, *, holds: bool, wanted: Stage) -> None:
        if wanted == "Production" and not holds:
            for other in self._versions():
                if PRODUCTION_ALIAS in other.version_aliases:
                    self._models().merge_version_aliases(
                        name=f"{self.model_name}@{other.version_id}", version_aliases=[f"-{PRODUCTION_ALIAS}"]
                    )
            self._models().merge_version_aliases(name=arn, version_aliases=[PRODUCTION_ALIAS])
        elif wanted != "Production" and holds:
            self._models().merge_version_aliases(name=arn, version_aliases=[f"-{PRODUCTION_ALIAS}"])

    def _versions(self) -> list[Any]:
        try:
            return list(self._models().list_model_versions(name=self.model_name))
        except google_errors.NotFound:
            return []

    def list(self) -> list[ModelPackage]:
        try:
            versions = self._versions()
        except google_errors.GoogleAPIError as exc:
            raise _failure(f"listing the versions of {self.model_name}", exc) from exc
        return sorted((self._package(v) for v in versions), key=lambda package: package.version)

    def _package(self, model: Any) -> ModelPackage:
        from google.protobuf import json_format

        recorded: dict[str, Any] = json_format.MessageToDict(type(model).pb(model).metadata) or {}
        labels = dict(model.labels)
        stage = labels.get("stage", "staging").capitalize()
        approval = next((k for k, v in APPROVAL_LABELS.items() if v == labels.get("approval")), "PendingManualApproval")
        return ModelPackage(
            arn=f"{self.model_name}@{model.version_id}",
            version=int(model.version_id),
            approval=approval,
            stage=stage,
            model_data_url=str(recorded.get("model_data_url", "")),
            image=model.container_spec.image_uri,
            metadata={**{str(k): str(v) for k, v in dict(recorded.get("metadata", {})).items()}, STAGE_KEY: stage},
            description=model.version_description,
            drift_check_baselines={str(k): str(v) for k, v in dict(recorded.get("drift_check_baselines", {})).items()},
        )
