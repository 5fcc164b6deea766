"""Model packages for ``cloud: gcp`` on Google's emulators: Vertex AI Model Registry has no emulator, so the kit keeps
the packages in the Firestore emulator with the port's semantics, as :mod:`mlops.local.gcp_metrics` keeps metrics.
Every process of a local stack (the CLI, the pipeline's Register step) sees the same registry.

A group is the document ``model-package-groups/<group>`` (``latest``: the last version number); a version is
``model-package-groups/<group>/versions/<00000001>``. A version is named as Vertex names a model version,
``projects/<project>/locations/<location>/models/<group>@<version>``, the name
:class:`mlops.adapters.gcp.vertex_model_registry.VertexModelPackages` gives on Google Cloud. Versions are numbered
in a transaction, so two registrations racing never share a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.ports.errors import UnavailableError
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

COLLECTION = "model-package-groups"
_VERSION = re.compile(r"^projects/[^/]+/locations/[^/]+/models/([^/@]+)@(\d+)$")


class ModelPackageUnavailableError(ModelPackageError, UnavailableError):
    """The Firestore emulator did not answer."""


class FirestoreModelPackages:
    """``ModelPackageRegistry`` on one group, kept in the Firestore emulator."""

    def __init__(self, clients: GcpClients, group: str, collection: str = COLLECTION) -> None:
        self._clients = clients
        self.group = group
        self._collection = collection

    def _group(self) -> Any:
        return self._clients.firestore().collection(self._collection).document(self.group)

    def _name(self, version: int) -> str:
        gcp = self._clients.settings.gcp
        return f"projects/{gcp.project}/locations/{gcp.location}/models/{self.group}@{version}"

    def _error(self, action: str, exc: Exception) -> ModelPackageError:
        where = f"model package group {self.group!r}: {action}"
        if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
            return ModelPackageUnavailableError(f"{where}: the Firestore emulator did not answer: {exc}")
        return ModelPackageError(f"{where} failed: {exc}")

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
        row = {
            "approval": "PendingManualApproval",
            "stage": "Staging",
            "model_data_url": model_data_url,
            "image": image,
            "metadata": values,
            "description": "",
            "version_description": description,
            "metrics_url": metrics_url or "",
            "lineage": dict(lineage or {}),
            "drift_check_baselines": dict(drift_baselines or {}),
        }
        client = self._clients.firestore()
        group = self._group()

        def number(transaction: Any) -> int:
            snapshot = group.get(transaction=transaction)
            version = int((snapshot.to_dict() or {}).get("latest", 0)) + 1 if snapshot.exists else 1
            transaction.set(group, {"latest": version}, merge=True)
            transaction.set(group.collection("versions").document(f"{version:08d}"), {**row, "version": version})
            return version

        try:
            from google.cloud import firestore

            version = firestore.transactional(number)(client.transaction())
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"creating a version of {model_data_url}", exc) from exc
        return self._package({**row, "version": version})

    def _document(self, arn: str) -> Any:
        match = _VERSION.match(arn)
        if match is None or match.group(1) != self.group:
            raise ModelPackageNotFoundError(f"model package {arn!r}: no version of group {self.group!r} has that name")
        return self._group().collection("versions").document(f"{int(match.group(2)):08d}")

    def describe(self, arn: str) -> ModelPackage:
        document = self._document(arn)
        try:
            snapshot = document.get()
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"describing {arn}", exc) from exc
        if not snapshot.exists:
            raise ModelPackageNotFoundError(f"describing model package {arn!r}: not found in group {self.group!r}")
        return self._package(snapshot.to_dict())

    def update(self, arn: str, approval: Approval, stage: Stage, note: str) -> ModelPackage:
        current = self.describe(arn)
        changes = {
            "approval": approval,
            "stage": stage,
            "metadata": {**current.metadata, STAGE_KEY: stage},
            "description": note[:DESCRIPTION_LIMIT],
        }
        try:
            self._document(arn).update(changes)
        except google_errors.NotFound as exc:  # deleted between the read and the write
            raise ModelPackageNotFoundError(f"updating model package {arn!r}: not found") from exc
        except google_errors.GoogleAPIError as exc:
            raise self._error(f"updating {arn}", exc) from exc
        return self.describe(arn)

    def list(self) -> list[ModelPackage]:
        try:
            snapshots = list(self._group().collection("versions").stream())
        except google_errors.GoogleAPIError as exc:
            raise self._error("listing its versions", exc) from exc
        return sorted((self._package(s.to_dict()) for s in snapshots), key=lambda package: package.version)

    def _package(self, row: Mapping[str, Any]) -> ModelPackage:
        version = int(row["version"])
        return ModelPackage(
            arn=self._name(version),
            version=version,
            approval=str(row["approval"]),
            stage=str(row["stage"]),
            model_data_url=str(row["model_data_url"]),
            image=str(row["image"]),
            metadata={str(k): str(v) for k, v in dict(row["metadata"]).items()},
            description=str(row["description"]),
            drift_check_baselines={str(k): str(v) for k, v in dict(row["drift_check_baselines"]).items()},
        )
