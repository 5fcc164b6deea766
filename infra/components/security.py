"""Security base: the stack's customer-managed KMS key (rotated yearly), its alias, and the Glue Data Catalog's
encryption (metadata and connection passwords) with that key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import naming, policies, promotion
from infra.components.base import StackIdentity, child, policy_json
from infra.promotion import PromotionPeer


@dataclass(frozen=True)
class SecurityBaseArgs:
    """Inputs of :class:`SecurityBase`."""

    identity: StackIdentity
    deletion_window_days: int = 30
    manage_catalog_encryption: bool = True
    """The catalog's encryption settings are one per account and region: with several stacks in one account,
    exactly one of them manages them (``manageCatalogEncryption``)."""
    promotion_target: PromotionPeer | None = None
    """The stack receiving this stack's gated versions: its deploy role may decrypt (through S3) what it reads."""


def _key_policy(account_id: str, region: str, ident: StackIdentity, target: PromotionPeer | None) -> dict[str, Any]:
    document = policies.kms_key_policy(account_id, region)
    if target is not None:
        here = PromotionPeer(ident.environment, account_id)
        grant = promotion.link(ident.project, region, source=here, target=target, account_id=account_id)
        document["Statement"].append(promotion.key_grant(grant))
    return document


class SecurityBase(pulumi.ComponentResource):
    """The KMS key that encrypts every data store, stream, topic and log group of the stack."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: SecurityBaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:SecurityBase", name, None, opts)
        ident = args.identity
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{ident.project} {ident.environment}: data at rest",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=policy_json(
                lambda acct, region: _key_policy(acct, region, ident, args.promotion_target),
                ident.account_id,
                ident.region,
            ),
            tags=ident.tags("security"),
            opts=child(self),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=naming.kms_alias(ident.project, ident.environment),
            target_key_id=key.key_id,
            opts=child(self),
        )
        if args.manage_catalog_encryption:
            aws.glue.DataCatalogEncryptionSettings(
                f"{name}-catalog-encryption",
                data_catalog_encryption_settings={
                    "encryption_at_rest": {"catalog_encryption_mode": "SSE-KMS", "sse_aws_kms_key_id": key.arn},
                    "connection_password_encryption": {
                        "return_connection_password_encrypted": True,
                        "aws_kms_key_id": key.arn,
                    },
                },
                opts=child(self),
            )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id})
