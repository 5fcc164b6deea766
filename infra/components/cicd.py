"""CI/CD identity: GitHub Actions' OIDC provider and this environment's deploy role (no long-lived keys)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json

COMPONENT = "cicd"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class CicdArgs:
    """Inputs of :class:`CicdIdentity`. The OIDC provider is account-wide: one stack per account creates it
    (``create_oidc_provider``), the others refer to it by its ARN."""

    identity: StackIdentity
    repository: str
    branch: str
    create_oidc_provider: bool


class CicdIdentity(pulumi.ComponentResource):
    """Deploy role trusted only by GitHub Actions runs of the configured repository and environment/branch."""

    deploy_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CicdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:cicd:CicdIdentity", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        if args.create_oidc_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=["sts.amazonaws.com"],
                tags=tags,
                opts=child(self),
            )
            provider_arn: pulumi.Output[str] = provider.arn
        else:
            provider_arn = ident.account_id.apply(naming.oidc_provider_arn)
        role = aws.iam.Role(
            f"{name}-deploy-role",
            name=naming.role_name(ident.project, ident.environment, "deploy"),
            assume_role_policy=policy_json(
                lambda arn: policies.github_trust_policy(arn, args.repository, ident.environment, args.branch),
                provider_arn,
            ),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-deploy-policy",
            role=role.id,
            policy=policy_json(
                lambda acct: policies.deploy_policy(
                    acct, ident.region, naming.prefix(ident.project, ident.environment), ident.environment
                ),
                ident.account_id,
            ),
            opts=child(self),
        )
        self.deploy_role_arn = role.arn
        self.register_outputs({"deploy_role_arn": self.deploy_role_arn})
