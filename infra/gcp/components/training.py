"""Training on Google Cloud: the Vertex AI contract the training pipeline runs under (a service account with
access to the data and model buckets only, a staging location, a CMEK metadata store) and the Model Registry
entry name the registry adapter registers versions under (Vertex creates it with the first upload)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity, member

COMPONENT = "training"
STAGING_PREFIX = "vertex-staging/"


@dataclass(frozen=True)
class GcpTrainingArgs:
    """Inputs of :class:`GcpTraining`."""

    identity: GcpIdentity
    vertex_key: pulumi.Output[str]
    data_buckets: dict[str, pulumi.Output[str]]
    models_bucket: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    repositories: dict[str, pulumi.Output[str]]


class GcpTraining(pulumi.ComponentResource):
    """Vertex's service account, its grants and the metadata store."""

    service_account: pulumi.Output[str]
    model_name: str
    pipeline_name: str
    staging_uri: pulumi.Output[str]

    def __init__(self, name: str, args: GcpTrainingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:training:Training", name, None, opts)
        ident = args.identity
        account = gcp.serviceaccount.Account(
            f"{name}-vertex-account",
            account_id=ident.account_id("vertex"),
            display_name=f"{ident.environment} Vertex AI training, pipelines and serving",
            project=ident.gcp_project,
            opts=child(self),
        )
        runner = member(account.email)
        for zone, bucket in args.data_buckets.items():
            gcp.storage.BucketIAMMember(
                f"{name}-reads-{zone}",
                bucket=bucket,
                role="roles/storage.objectViewer",
                member=runner,
                opts=child(self),
            )
        for zone, bucket in (("models", args.models_bucket), ("artifacts", args.artifacts_bucket)):
            gcp.storage.BucketIAMMember(
                f"{name}-writes-{zone}", bucket=bucket, role="roles/storage.objectUser", member=runner, opts=child(self)
            )
        for image, repository in args.repositories.items():
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-pulls-{image}",
                repository=repository,
                location=ident.region,
                project=ident.gcp_project,
                role="roles/artifactregistry.reader",
                member=runner,
                opts=child(self),
            )
        gcp.projects.IAMMember(
            f"{name}-vertex-user",
            project=ident.gcp_project,
            role="roles/aiplatform.user",
            member=runner,
            opts=child(self),
        )
        # Pipeline steps run as this same account: it may act as itself, and as no other account.
        gcp.serviceaccount.IAMMember(
            f"{name}-acts-as-itself",
            service_account_id=account.name,
            role="roles/iam.serviceAccountUser",
            member=runner,
            opts=child(self),
        )
        gcp.vertex.AiMetadataStore(
            f"{name}-metadata",
            name="default",
            project=ident.gcp_project,
            region=ident.region,
            description="Vertex ML Metadata of the stack's pipeline runs",
            encryption_spec={"kms_key_name": args.vertex_key},
            opts=child(self),
        )
        self.service_account = account.email
        self.model_name = naming.sagemaker_name(ident.project, ident.environment, "model")
        self.pipeline_name = naming.sagemaker_name(ident.project, ident.environment, "training")
        self.staging_uri = args.artifacts_bucket.apply(lambda b: gcp_naming.gcs_uri(b, STAGING_PREFIX))
        self.register_outputs({"service_account": self.service_account})
