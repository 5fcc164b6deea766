"""The deploy role's policies stay within IAM's size quotas for the longest names the naming functions allow (the
planned stacks are measured in tests/integration/release/test_deploy_identity.py)."""

from __future__ import annotations

import pytest

from infra import policies
from infra.promotion import PromotionPeer

LONGEST_PREFIX = 40
"""``naming.prefix`` allows ``<project>-<environment>`` of at most 40 characters."""


def _scope(environment: str, source: PromotionPeer | None) -> policies.DeployScope:
    project = "p" * (LONGEST_PREFIX - len(environment) - 1)
    return policies.DeployScope(
        account_id="123456789012",
        region="ap-southeast-2",
        project=project,
        environment=environment,
        state_bucket="s" * 63,
        secrets_key_arn="arn:aws:kms:ap-southeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        promotion_source=source,
    )


@pytest.mark.parametrize(("environment", "source"), [("dev", None), ("staging", PromotionPeer("dev", "111111111111"))])
def test_each_deploy_policy_fits_a_managed_policy_even_with_the_longest_names(
    environment: str, source: PromotionPeer | None
) -> None:
    scope = _scope(environment, source)
    documents = policies.deploy_policies(scope)
    sizes = {concern: policies.policy_size(document) for concern, document in documents.items()}
    assert len(scope.prefix) == LONGEST_PREFIX
    assert {c: s for c, s in sizes.items() if s > policies.MANAGED_POLICY_MAX_CHARS} == {}
    assert len(documents) <= policies.ATTACHED_POLICIES_MAX
    assert ("promotion" in documents) == (source is not None)


def test_the_union_is_every_concern_s_statements_and_too_large_to_be_inline() -> None:
    scope = _scope("staging", PromotionPeer("dev"))
    union = policies.deploy_policy(scope)
    parts = [s for document in policies.deploy_policies(scope).values() for s in document["Statement"]]
    assert union["Statement"] == parts
    assert policies.policy_size(union) > policies.INLINE_POLICIES_MAX_CHARS
    sids = [s["Sid"] for s in parts]
    assert len(sids) == len(set(sids))  # one union, no statement shadowing another


def test_the_deploy_role_may_not_rewrite_its_own_policies() -> None:
    scope = _scope("dev", None)
    deny = next(
        s
        for s in policies.deploy_policies(scope)["identity"]["Statement"]
        if s["Sid"] == "DenyChangingTheDeployIdentity"
    )
    assert scope.deploy_policy_arns in deny["Resource"]
    assert {"iam:CreatePolicyVersion", "iam:AttachRolePolicy", "iam:DetachRolePolicy"} <= set(deny["Action"])
