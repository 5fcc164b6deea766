"""CI/CD identity on Google Cloud: a Workload Identity pool and GitHub provider per environment that admits only
``repo:<owner>/<repo>:environment:<env>``, and the deploy service account that principal may impersonate."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity, member

COMPONENT = "cicd"
PROVIDER_ID = "github"


@dataclass(frozen=True)
class GcpCicdArgs:
    """Inputs of :class:`GcpCicd`."""

    identity: GcpIdentity
    repository: str
    buckets: dict[str, pulumi.Output[str]]
    repositories: dict[str, pulumi.Output[str]]
    vertex_account: pulumi.Output[str]


class GcpCicd(pulumi.ComponentResource):
    """Pool, provider, deploy account and its grants."""

    deploy_account: pulumi.Output[str]
    provider: pulumi.Output[str]

    def __init__(self, name: str, args: GcpCicdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:cicd:CicdIdentity", name, None, opts)
        ident = args.identity
        pool_id = gcp_naming.workload_identity_pool_id(ident.project, ident.environment)
        subject = gcp_naming.github_subject(args.repository, ident.environment)
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            workload_identity_pool_id=pool_id,
            project=ident.gcp_project,
            display_name=f"GitHub {ident.environment}",
            opts=child(self),
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=PROVIDER_ID,
            project=ident.gcp_project,
            attribute_mapping={
                "google.subject": "assertion.sub",
                "attribute.repository": "assertion.repository",
                "attribute.environment": "assertion.environment",
            },
            # Only jobs of this repository running in this GitHub environment get a token at all.
            attribute_condition=f"assertion.sub == '{subject}'",
            oidc={"issuer_uri": gcp_naming.GITHUB_ISSUER},
            opts=child(self),
        )
        account = gcp.serviceaccount.Account(
            f"{name}-deploy-account",
            account_id=ident.account_id("deploy"),
            display_name=f"{ident.environment} deploys from GitHub ({args.repository})",
            project=ident.gcp_project,
            opts=child(self),
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-github-impersonates",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=gcp_naming.github_principal(ident.project_number, pool_id, args.repository, ident.environment),
            opts=child(self, depends_on=[provider]),
        )
        deployer = member(account.email)
        for zone, bucket in args.buckets.items():
            gcp.storage.BucketIAMMember(
                f"{name}-writes-{zone}",
                bucket=bucket,
                role="roles/storage.objectUser",
                member=deployer,
                opts=child(self),
            )
        for image, repository in args.repositories.items():
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-pushes-{image}",
                repository=repository,
                location=ident.region,
                project=ident.gcp_project,
                role="roles/artifactregistry.writer",
                member=deployer,
                opts=child(self),
            )
        gcp.projects.IAMMember(
            f"{name}-deploys-models",
            project=ident.gcp_project,
            role="roles/aiplatform.user",
            member=deployer,
            opts=child(self),
        )
        # Deployed models run as the Vertex account: the deploy account may hand out that one account.
        gcp.serviceaccount.IAMMember(
            f"{name}-acts-as-vertex",
            service_account_id=args.vertex_account.apply(lambda e: f"projects/{ident.gcp_project}/serviceAccounts/{e}"),
            role="roles/iam.serviceAccountUser",
            member=deployer,
            opts=child(self),
        )
        self.deploy_account = account.email
        self.provider = provider.name
        self.register_outputs({"deploy_account": self.deploy_account})
