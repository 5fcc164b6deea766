"""Data lake on Google Cloud: one bucket per zone (CMEK, uniform bucket-level access, public access prevention
enforced, versioning, lifecycle, usage logs into the access-log bucket) and the BigQuery catalog of its tables
(a dataset, a BigLake connection, the Delta feature tables and the endpoint's captured predictions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity
from infra.lifecycle import Retention

COMPONENT = "datalake"
LOG_WRITER = "group:cloud-storage-analytics@google.com"
"""The identity Cloud Storage writes usage and storage logs as (it needs object-create on the log bucket)."""


def gcs_lifecycle_rules(zone: str, retention: Retention) -> list[dict[str, Any]]:
    """Lifecycle rules of one zone's bucket, the AWS program's rules in Cloud Storage's terms: old non-current
    versions go, raw/quarantine/access logs expire, curated/feature/monitoring data move to Nearline."""
    rules: list[dict[str, Any]] = [
        {
            "action": {"type": "Delete"},
            "condition": {
                "days_since_noncurrent_time": retention.noncurrent_version_expiration_days,
                "with_state": "ARCHIVED",
            },
        },
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
    ]
    expiry = {
        "raw": retention.raw_expiration_days,
        "quarantine": retention.quarantine_expiration_days,
        naming.ACCESS_LOGS: retention.access_log_expiration_days,
    }.get(zone)
    if expiry is not None:
        rules.append({"action": {"type": "Delete"}, "condition": {"age": expiry, "with_state": "LIVE"}})
    if zone in ("curated", "features", "monitoring"):
        rules.append(
            {
                "action": {"type": "SetStorageClass", "storage_class": "NEARLINE"},
                "condition": {"age": retention.infrequent_access_after_days, "with_state": "LIVE"},
            }
        )
    return rules


@dataclass(frozen=True)
class GcpDataLakeArgs:
    """Inputs of :class:`GcpDataLake`."""

    identity: GcpIdentity
    storage_key: pulumi.Output[str]
    bigquery_key: pulumi.Output[str]
    retention: Retention
    datasets: tuple[str, ...]


class GcpDataLake(pulumi.ComponentResource):
    """Zone buckets, the access-log bucket and the BigQuery catalog."""

    buckets: dict[str, pulumi.Output[str]]
    access_logs_bucket: pulumi.Output[str]
    dataset_id: pulumi.Output[str]
    connection_id: pulumi.Output[str]
    feature_tables: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GcpDataLakeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:datalake:DataLake", name, None, opts)
        self._args = args
        ident = args.identity
        logs = self._bucket(naming.ACCESS_LOGS, log_bucket=None)
        gcp.storage.BucketIAMMember(
            f"{name}-access-logs-writer",
            bucket=logs.name,
            role="roles/storage.objectCreator",
            member=LOG_WRITER,
            opts=child(self),
        )
        self.access_logs_bucket = logs.name
        self.buckets = {zone: self._bucket(zone, log_bucket=logs).name for zone in naming.ZONES}
        dataset = gcp.bigquery.Dataset(
            f"{name}-dataset",
            dataset_id=gcp_naming.dataset_id(ident.project, ident.environment),
            project=ident.gcp_project,
            location=ident.region,
            description=f"{ident.project} {ident.environment}: datasets of the data lake",
            default_encryption_configuration={"kms_key_name": args.bigquery_key},
            delete_contents_on_destroy=ident.environment != "prod",
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        connection = gcp.bigquery.Connection(
            f"{name}-biglake",
            connection_id=naming.resource_name(ident.project, ident.environment, "biglake", 63),
            project=ident.gcp_project,
            location=ident.region,
            description="BigLake connection: BigQuery reads the lake's Delta and JSON files through it",
            cloud_resource={},
            opts=child(self),
        )
        reader = connection.cloud_resource.apply(lambda c: f"serviceAccount:{getattr(c, 'service_account_id', '')}")
        for zone in ("features", "monitoring"):
            gcp.storage.BucketIAMMember(
                f"{name}-biglake-reads-{zone}",
                bucket=self.buckets[zone],
                role="roles/storage.objectViewer",
                member=reader,
                opts=child(self),
            )
        self.dataset_id = dataset.dataset_id
        self.connection_id = connection.id
        self._dataset, self._connection = dataset, connection
        self.feature_tables = {
            ds: self._table(f"{ds}_features", "DELTA_LAKE", self._uri("features", f"tables/{ds}"))
            for ds in args.datasets
        }
        self._table("predictions", "NEWLINE_DELIMITED_JSON", self._uri("monitoring", "data-capture/*"))
        self.register_outputs({"buckets": self.buckets, "dataset": self.dataset_id})

    def _uri(self, zone: str, path: str) -> pulumi.Output[str]:
        return self.buckets[zone].apply(lambda bucket: gcp_naming.gcs_uri(bucket, path))

    def _table(self, table: str, source_format: str, uri: pulumi.Output[str]) -> pulumi.Output[str]:
        ident, dataset, connection = self._args.identity, self._dataset, self._connection
        created = gcp.bigquery.Table(
            f"{self._name}-table-{table.replace('_', '-')}",
            dataset_id=dataset.dataset_id,
            table_id=table,
            project=ident.gcp_project,
            deletion_protection=ident.environment == "prod",
            encryption_configuration={"kms_key_name": self._args.bigquery_key},
            external_data_configuration={
                "autodetect": True,
                "source_format": source_format,
                "source_uris": [uri],
                "connection_id": connection.id,
            },
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        return created.table_id

    def _bucket(self, zone: str, *, log_bucket: gcp.storage.Bucket | None) -> gcp.storage.Bucket:
        ident = self._args.identity
        return gcp.storage.Bucket(
            f"{self._name}-{zone}",
            name=gcp_naming.bucket_name(ident.project, ident.environment, zone, ident.gcp_project),
            project=ident.gcp_project,
            location=ident.region,
            force_destroy=ident.environment != "prod",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": self._args.storage_key},
            lifecycle_rules=cast(Any, gcs_lifecycle_rules(zone, self._args.retention)),
            logging=None if log_bucket is None else {"log_bucket": log_bucket.name, "log_object_prefix": f"{zone}/"},
            labels={**ident.labels(COMPONENT), "zone": zone},
            opts=child(self),
        )
