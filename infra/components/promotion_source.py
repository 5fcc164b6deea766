"""The previous stack's side of a promotion (``promotionTarget`` in its config): the resource policies and the
role through which the next stack's deploy role reads the version this stack's gate passed.

The bucket and key grants live with the buckets and the key (datalake, security); this component holds what has
no other home: the model package group's resource policy (a separate resource in AWS,
``PutModelPackageGroupPolicy``) and the promotion reader role for MLflow, whose managed tracking server accepts
no resource policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, promotion
from infra.components.base import StackIdentity, child, policy_json
from infra.promotion import PromotionPeer

COMPONENT = "promotion"


@dataclass(frozen=True)
class PromotionSourceArgs:
    """``target``: the stack receiving this stack's gated versions; ``model_package_group``: this stack's group."""

    identity: StackIdentity
    target: PromotionPeer
    model_package_group: pulumi.Output[str]


def _link(ident: StackIdentity, target: PromotionPeer, account_id: str) -> promotion.PromotionLink:
    here = PromotionPeer(ident.environment, account_id)
    return promotion.link(ident.project, ident.region, source=here, target=target, account_id=account_id)


class PromotionSource(pulumi.ComponentResource):
    """Grants of this stack to the next stack's deploy role: describe/list its model packages, and assume the
    promotion reader (MLflow reads and the objects they lead to), a role under the stack's boundary."""

    reader_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PromotionSourceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:promotion:PromotionSource", name, None, opts)
        ident = args.identity
        aws.sagemaker.ModelPackageGroupPolicy(
            f"{name}-package-group-policy",
            model_package_group_name=args.model_package_group,
            resource_policy=policy_json(
                lambda acct: promotion.package_group_policy(_link(ident, args.target, acct)), ident.account_id
            ),
            opts=child(self),
        )
        reader = aws.iam.Role(
            f"{name}-reader-role",
            name=naming.role_name(ident.project, ident.environment, promotion.PROMOTION_READER),
            description=f"Assumed by the {args.target.environment} stack's deploy role to read promoted versions",
            assume_role_policy=policy_json(
                lambda acct: promotion.reader_trust(_link(ident, args.target, acct)), ident.account_id
            ),
            permissions_boundary=ident.permissions_boundary,
            max_session_duration=3600,
            tags=ident.tags(COMPONENT),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-reader-policy",
            role=reader.id,
            policy=policy_json(lambda acct: promotion.reader_policy(_link(ident, args.target, acct)), ident.account_id),
            opts=child(self),
        )
        self.reader_role_arn = reader.arn
        self.register_outputs({"reader_role_arn": self.reader_role_arn})
