"""Online feature store on Google Cloud: a Firestore (native mode) database, CMEK-encrypted, with point-in-time
recovery and delete protection; the offline store is the Delta table ``tables/<dataset>`` in the features bucket."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp.components.base import GcpIdentity

COMPONENT = "featurestore"
FEATURES_COLLECTION = "online-features"
"""The collection the online-store adapter keeps one document per entity in."""


@dataclass(frozen=True)
class GcpFeatureStoreArgs:
    """Inputs of :class:`GcpFeatureStore`."""

    identity: GcpIdentity
    firestore_key: pulumi.Output[str]


class GcpFeatureStore(pulumi.ComponentResource):
    """The online database; :attr:`database` is its id."""

    database: pulumi.Output[str]

    def __init__(self, name: str, args: GcpFeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:featurestore:FeatureStore", name, None, opts)
        ident = args.identity
        database = gcp.firestore.Database(
            f"{name}-online",
            name=naming.resource_name(ident.project, ident.environment, "online", 63),
            project=ident.gcp_project,
            location_id=ident.region,
            type="FIRESTORE_NATIVE",
            concurrency_mode="OPTIMISTIC",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED",
            cmek_config={"kms_key_name": args.firestore_key},
            opts=child(self),
        )
        self.database = database.name
        self.register_outputs({"database": self.database})
