"""Feature store: offline store (features zone + Glue table) and online store (DynamoDB, TTL, PITR, KMS)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.base import StackIdentity, child

COMPONENT = "featurestore"
OFFLINE_TABLE = "offline_features"
OFFLINE_PREFIX = "offline/"


@dataclass(frozen=True)
class FeatureStoreArgs:
    """Inputs of :class:`FeatureStore`."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    features_bucket: pulumi.Output[str]
    database_name: pulumi.Output[str]
    ttl_attribute: str


class FeatureStore(pulumi.ComponentResource):
    """Offline rows land as Parquet under ``s3://<features>/offline/``; the latest row per entity is online."""

    offline_table: pulumi.Output[str]
    online_table: pulumi.Output[str]

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:featurestore:FeatureStore", name, None, opts)
        ident = args.identity
        offline = aws.glue.CatalogTable(
            f"{name}-offline",
            name=OFFLINE_TABLE,
            database_name=args.database_name,
            description="Offline feature store: one row per entity and event time (point-in-time joins)",
            table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet"},
            partition_keys=[{"name": "dt", "type": "string"}],
            storage_descriptor={
                "location": args.features_bucket.apply(lambda b: f"s3://{b}/{OFFLINE_PREFIX}"),
                "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "ser_de_info": {"serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
                "columns": [
                    {"name": "entity_id", "type": "string"},
                    {"name": "event_timestamp", "type": "timestamp"},
                    {"name": "features", "type": "map<string,double>"},
                ],
            },
            opts=child(self),
        )
        online = aws.dynamodb.Table(
            f"{name}-online",
            name=naming.resource_name(ident.project, ident.environment, "online-features"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="entity_id",
            attributes=[{"name": "entity_id", "type": "S"}],
            ttl={"attribute_name": args.ttl_attribute, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            tags=ident.tags(COMPONENT),
            opts=child(self),
        )
        self.offline_table = offline.name
        self.online_table = online.name
        self.register_outputs({"offline_table": self.offline_table, "online_table": self.online_table})
