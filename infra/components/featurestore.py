"""Feature store: the online store (DynamoDB, TTL, PITR, KMS).

The offline store needs no resource of its own here: it is the Delta table ``tables/<dataset>`` in the features
zone's bucket (declared by :mod:`infra.components.datalake`), written by the ``build_features`` Glue job, which
also registers it in the catalog as ``<dataset>_features`` with its real columns and current Delta version.
Declaring that catalog table here too would put two owners on one entry: every job run would change what the
program declared, and every ``pulumi up`` would put back a schema and version that are no longer true.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.base import StackIdentity, child

COMPONENT = "featurestore"


@dataclass(frozen=True)
class FeatureStoreArgs:
    """Inputs of :class:`FeatureStore`."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    ttl_attribute: str


class FeatureStore(pulumi.ComponentResource):
    """The latest feature row per entity, online; the offline rows are the features zone's Delta tables."""

    online_table: pulumi.Output[str]

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:featurestore:FeatureStore", name, None, opts)
        ident = args.identity
        online = aws.dynamodb.Table(
            f"{name}-online",
            name=naming.resource_name(ident.project, ident.environment, "online-features"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="entity_id",
            attributes=[{"name": "entity_id", "type": "S"}],
            ttl={"attribute_name": args.ttl_attribute, "enabled": True},
            point_in_time_recovery={"enabled": True},
            deletion_protection_enabled=True,
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            tags=ident.tags(COMPONENT),
            opts=child(self),
        )
        self.online_table = online.name
        self.register_outputs({"online_table": self.online_table})
