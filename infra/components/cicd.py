"""CI/CD identity: GitHub Actions' OIDC provider, this stack's deploy and preview roles, and the permissions
boundary every workload role of the stack carries (no long-lived keys anywhere).

The deploy role is assumed only by jobs running in the GitHub environment named like the stack (subject
``repo:<repository>:environment:<env>``), so the environment's required reviewers gate it; the preview role
(read-only: state and secrets key) only by jobs in ``<env>-preview``, which pull requests use. The deploy role can
apply its stack and nothing else, and cannot change these resources: an administrator's ``pulumi up`` creates
and changes them (docs/release.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json
from infra.promotion import PromotionPeer

COMPONENT = "cicd"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
PREVIEW_SUFFIX = "-preview"
"""GitHub environment of a stack's pull-request previews: ``<env>-preview``."""


def preview_environment(environment: str) -> str:
    """The GitHub environment whose jobs may assume the preview role of ``environment``'s stack."""
    return f"{environment}{PREVIEW_SUFFIX}"


@dataclass(frozen=True)
class CicdArgs:
    """Inputs of :class:`CicdIdentity`. The OIDC provider is account-wide: one stack per account creates it
    (``create_oidc_provider``), the others refer to it by its ARN. ``state_bucket``/``secrets_key_arn``: where the
    stack's Pulumi state and secrets key live (the DIY S3 backend and the awskms secrets provider)."""

    identity: StackIdentity
    repository: str
    create_oidc_provider: bool
    state_bucket: str | None = None
    secrets_key_arn: str | None = None
    promotion_source: PromotionPeer | None = None
    """The stack whose gated versions this one receives: the deploy role may read them there."""


def deploy_scope(ident: StackIdentity, account_id: str, args: CicdArgs) -> policies.DeployScope:
    return policies.DeployScope(
        account_id=account_id,
        region=ident.region,
        project=ident.project,
        environment=ident.environment,
        state_bucket=args.state_bucket,
        secrets_key_arn=args.secrets_key_arn,
        promotion_source=args.promotion_source,
    )


class WorkloadBoundary(pulumi.ComponentResource):
    """The permissions boundary of the stack's workload roles (declared first: every role names it)."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, identity: StackIdentity, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:cicd:WorkloadBoundary", name, None, opts)
        scope = policies.DeployScope(
            account_id="", region=identity.region, project=identity.project, environment=identity.environment
        )
        boundary = aws.iam.Policy(
            f"{name}-policy",
            name=scope.boundary_name,
            description=f"Permissions boundary of every role of the {identity.environment} stack",
            policy=policy_json(
                lambda acct: policies.workload_boundary_policy(
                    policies.DeployScope(
                        account_id=acct,
                        region=identity.region,
                        project=identity.project,
                        environment=identity.environment,
                    )
                ),
                identity.account_id,
            ),
            tags=identity.tags(COMPONENT),
            opts=child(self),
        )
        self.arn = boundary.arn
        self.register_outputs({"arn": self.arn})


class CicdIdentity(pulumi.ComponentResource):
    """Deploy and preview roles trusted only by GitHub Actions jobs of the repository's stack environments."""

    deploy_role_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CicdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:cicd:CicdIdentity", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        if args.create_oidc_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[policies.GITHUB_AUDIENCE],
                tags=tags,
                opts=child(self),
            )
            provider_arn: pulumi.Output[str] = provider.arn
        else:
            provider_arn = ident.account_id.apply(naming.oidc_provider_arn)
        roles: dict[str, aws.iam.Role] = {}
        for purpose, environment in (
            ("deploy", ident.environment),
            ("preview", preview_environment(ident.environment)),
        ):
            roles[purpose] = aws.iam.Role(
                f"{name}-{purpose}-role",
                name=naming.role_name(ident.project, ident.environment, purpose),
                assume_role_policy=policy_json(
                    lambda arn, env=environment: policies.github_trust_policy(arn, args.repository, env),
                    provider_arn,
                ),
                max_session_duration=3600,
                tags=tags,
                opts=child(self),
            )
        # The preview policy is small: inline. The deploy permissions exceed IAM's 10,240 characters of inline
        # policies per role, so they are customer-managed policies by concern, each attached to the role.
        aws.iam.RolePolicy(
            f"{name}-preview-policy",
            role=roles["preview"].id,
            policy=policy_json(lambda acct: policies.preview_policy(deploy_scope(ident, acct, args)), ident.account_id),
            opts=child(self),
        )
        self._attach_deploy_policies(name, args, roles["deploy"])
        self.deploy_role_arn = roles["deploy"].arn
        self.preview_role_arn = roles["preview"].arn
        self.register_outputs({"deploy_role_arn": self.deploy_role_arn, "preview_role_arn": self.preview_role_arn})

    def _attach_deploy_policies(self, name: str, args: CicdArgs, role: aws.iam.Role) -> None:
        """One managed policy per concern of :func:`infra.policies.deploy_policies`, attached to the deploy role.
        The concerns depend on the config alone (the account only fills ARNs), so they are known at plan time."""
        ident = args.identity
        scope = deploy_scope(ident, "000000000000", args)
        for concern in policies.deploy_policies(scope):
            policy = aws.iam.Policy(
                f"{name}-deploy-{concern}-policy",
                name=scope.deploy_policy_name(concern),
                description=f"Deploy role of the {ident.environment} stack: {concern}",
                policy=policy_json(
                    lambda acct, c=concern: policies.deploy_policies(deploy_scope(ident, acct, args))[c],
                    ident.account_id,
                ),
                tags=ident.tags(COMPONENT),
                opts=child(self),
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy-{concern}-attachment", role=role.name, policy_arn=policy.arn, opts=child(self)
            )
