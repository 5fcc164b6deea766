"""Experiment tracking on Google Cloud: MLflow's tracking server, which Google does not manage (SageMaker's managed
MLflow plays it on AWS).

- **Backend store**: Cloud SQL for PostgreSQL with a private IP only, on the stack's VPC (the private services
  access range the network component peers for Vertex), CMEK, daily backups with point-in-time recovery, deletion
  protection unless the stack turns it off (``mlflowDatabaseDeletionProtection``).
- **Password**: a Secret Manager secret (CMEK, in the stack's region). ``pulumi-random`` is not a dependency of the
  kit, so the program generates no password and holds none: the operator sets the database user's password and adds
  it as the secret's first version (docs/gcp.md, "Experiment tracking"); the server reads the latest version.
- **Server**: a Cloud Run v2 service running ``mlflow server`` from the stack's Artifact Registry image (the
  image must hold MLflow and a PostgreSQL driver), artifacts served from ``gs://<models>/mlflow``. Ingress is
  internal only, it reaches the database through direct VPC egress, and it runs as its own service account that
  may connect to Cloud SQL, read the one secret and use the models bucket, nothing else. Only the accounts given as
  ``invokers`` (training, pipelines, serving) may call it, with a Google ID token for the service URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp.components.base import GcpIdentity, member

COMPONENT = "tracking"
DATABASE_VERSION = "POSTGRES_16"
DATABASE_TIER = "db-custom-1-3840"
"""1 vCPU, 3.75 GB: MLflow's metadata is small; raise it per stack by editing here when runs grow."""
DATABASE_NAME = "mlflow"
DATABASE_USER = "mlflow"
PASSWORD_VARIABLE = "MLFLOW_DB_PASSWORD"
SERVER_PORT = 5000
BACKUP_RETENTION = 14
LOG_RETENTION_DAYS = 7
"""Days of write-ahead log kept for point-in-time recovery (PostgreSQL's maximum on the Enterprise edition)."""


@dataclass(frozen=True)
class GcpTrackingArgs:
    """Inputs of :class:`GcpTracking`."""

    identity: GcpIdentity
    sql_key: pulumi.Output[str]
    secrets_key: pulumi.Output[str]
    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    private_services: pulumi.Resource
    """The private services access peering: Cloud SQL's private IP comes from its range."""
    models_bucket: pulumi.Output[str]
    image: pulumi.Input[str]
    invokers: Sequence[pulumi.Input[str]]
    """Emails of the service accounts that may call the server."""
    deletion_protection: bool = True


def server_args(private_ip: str, models_bucket: str) -> list[str]:
    """``mlflow server``'s arguments; Cloud Run expands ``$(MLFLOW_DB_PASSWORD)`` from the secret it mounts."""
    backend = f"postgresql://{DATABASE_USER}:$({PASSWORD_VARIABLE})@{private_ip}:5432/{DATABASE_NAME}"
    return [
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        f"gs://{models_bucket}/mlflow",
        "--serve-artifacts",
        "--host",
        "0.0.0.0",  # inside the container; ingress is internal only
        "--port",
        str(SERVER_PORT),
    ]


class GcpTracking(pulumi.ComponentResource):
    """The database, the secret, the server; :attr:`tracking_uri` is the service's URL."""

    tracking_uri: pulumi.Output[str]
    service_account: pulumi.Output[str]

    def __init__(self, name: str, args: GcpTrackingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:tracking:Tracking", name, None, opts)
        ident = args.identity
        instance = self._database(name, args)
        secret = gcp.secretmanager.Secret(
            f"{name}-db-password",
            secret_id=naming.resource_name(ident.project, ident.environment, "mlflow-db-password", 255),
            project=ident.gcp_project,
            replication={
                "user_managed": {
                    "replicas": [
                        {"location": ident.region, "customer_managed_encryption": {"kms_key_name": args.secrets_key}}
                    ]
                }
            },
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        account = gcp.serviceaccount.Account(
            f"{name}-server-account",
            account_id=ident.account_id("mlflow"),
            display_name=f"{ident.environment} MLflow tracking server",
            project=ident.gcp_project,
            opts=child(self),
        )
        self._grants(name, args, account, secret)
        service = self._service(name, args, account.email, instance.private_ip_address, secret.secret_id)
        for index, invoker in enumerate(args.invokers):
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{index}",
                name=service.name,
                location=ident.region,
                project=ident.gcp_project,
                role="roles/run.invoker",
                member=member(invoker),
                opts=child(self),
            )
        self.tracking_uri = service.uri
        self.service_account = account.email
        self.register_outputs({"tracking_uri": self.tracking_uri})

    def _database(self, name: str, args: GcpTrackingArgs) -> gcp.sql.DatabaseInstance:
        ident = args.identity
        instance = gcp.sql.DatabaseInstance(
            f"{name}-database",
            name=naming.resource_name(ident.project, ident.environment, "mlflow", 63),
            project=ident.gcp_project,
            region=ident.region,
            database_version=DATABASE_VERSION,
            encryption_key_name=args.sql_key,
            deletion_protection=args.deletion_protection,
            settings={
                "tier": DATABASE_TIER,
                "edition": "ENTERPRISE",
                "availability_type": "REGIONAL" if ident.environment == "prod" else "ZONAL",
                "deletion_protection_enabled": args.deletion_protection,
                "ip_configuration": {
                    "ipv4_enabled": False,
                    "private_network": args.network_id,
                    "ssl_mode": "ENCRYPTED_ONLY",
                },
                "backup_configuration": {
                    "enabled": True,
                    "point_in_time_recovery_enabled": True,
                    "transaction_log_retention_days": LOG_RETENTION_DAYS,
                    "backup_retention_settings": {"retained_backups": BACKUP_RETENTION},
                },
                "user_labels": ident.labels(COMPONENT),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.private_services]),
        )
        gcp.sql.Database(
            f"{name}-database-mlflow",
            name=DATABASE_NAME,
            instance=instance.name,
            project=ident.gcp_project,
            opts=child(self),
        )
        # No password here: the operator sets it (gcloud sql users set-password) and stores it in the secret.
        gcp.sql.User(
            f"{name}-database-user",
            name=DATABASE_USER,
            instance=instance.name,
            project=ident.gcp_project,
            type="BUILT_IN",
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["password"]),
        )
        return instance

    def _grants(
        self, name: str, args: GcpTrackingArgs, account: gcp.serviceaccount.Account, secret: gcp.secretmanager.Secret
    ) -> None:
        ident = args.identity
        server = member(account.email)
        gcp.projects.IAMMember(
            f"{name}-server-sql-client",
            project=ident.gcp_project,
            role="roles/cloudsql.client",
            member=server,
            opts=child(self),
        )
        gcp.secretmanager.SecretIamMember(
            f"{name}-server-reads-password",
            secret_id=secret.id,
            project=ident.gcp_project,
            role="roles/secretmanager.secretAccessor",
            member=server,
            opts=child(self),
        )
        gcp.storage.BucketIAMMember(
            f"{name}-server-writes-models",
            bucket=args.models_bucket,
            role="roles/storage.objectUser",
            member=server,
            opts=child(self),
        )

    def _service(
        self,
        name: str,
        args: GcpTrackingArgs,
        account: pulumi.Output[str],
        private_ip: pulumi.Output[str],
        secret_id: pulumi.Output[str],
    ) -> gcp.cloudrunv2.Service:
        ident = args.identity
        container_args = pulumi.Output.all(private_ip, args.models_bucket).apply(lambda v: server_args(v[0], v[1]))
        return gcp.cloudrunv2.Service(
            f"{name}-server",
            name=naming.resource_name(ident.project, ident.environment, "mlflow", 49),
            project=ident.gcp_project,
            location=ident.region,
            ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
            deletion_protection=args.deletion_protection,
            labels=ident.labels(COMPONENT),
            template={
                "service_account": account,
                "vpc_access": {
                    "network_interfaces": [{"network": args.network_id, "subnetwork": args.subnet_id}],
                    "egress": "PRIVATE_RANGES_ONLY",
                },
                "scaling": {"min_instance_count": 0, "max_instance_count": 2},
                "containers": [
                    {
                        "image": args.image,
                        "commands": ["mlflow"],
                        "args": container_args,
                        "ports": {"container_port": SERVER_PORT},
                        "envs": [
                            {
                                "name": PASSWORD_VARIABLE,
                                "value_source": {"secret_key_ref": {"secret": secret_id, "version": "latest"}},
                            }
                        ],
                    }
                ],
            },
            opts=child(self),
        )
