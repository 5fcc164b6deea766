"""IAM and resource policies: no public principal in any form, no wildcard privileges, no privilege escalation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra.guardrails.model import (
    Declared,
    Rule,
    Violation,
    actions,
    allows,
    as_list,
    grants,
    of,
    refers,
    resource_matches,
    statements,
    targets,
    value,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KEY = "aws:kms/key:Key"

RESOURCE_POLICIES: dict[str, str] = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    KEY: "policy",
    ROLE: "assumeRolePolicy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "policy",
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": "resourcePolicy",
}
"""Documents that name principals (who may act), by the input holding them."""

IDENTITY_POLICIES: dict[str, str] = {
    ROLE_POLICY: "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
"""Documents granting the identity they are attached to (what it may do)."""

RESTRICTING_CONDITION_KEYS = (
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:sourcevpce",
    "aws:sourcevpc",
)
"""Condition keys that keep a ``*`` principal to one account, organisation, source or network."""

RESOURCE_WILDCARD_ALLOWED: tuple[str, ...] = (
    "ecr:GetAuthorizationToken",
    "sts:GetCallerIdentity",
    "ec2:Describe*",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "glue:CreateSecurityConfiguration",
    "glue:DeleteSecurityConfiguration",
    "glue:GetSecurityConfiguration",
    "glue:GetSecurityConfigurations",
    "cloudwatch:PutMetricData",
    "kms:CreateKey",
    "kms:TagResource",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScalingActivities",
    "kms:ListAliases",
    "logs:DescribeLogGroups",
)
"""Actions that support no resource-level permission, so they may (only they may) be granted on ``*``
(``kms:CreateKey``/``kms:TagResource`` at creation: the deploy role grants them only with a request-tag condition)."""

ROLE_WRITE_ACTIONS = (
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:TagRole",
)
POLICY_WRITE_ACTIONS = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion")


def _documents(resources: Sequence[Declared], kinds: Mapping[str, str]) -> Iterator[tuple[Declared, str, Any]]:
    for resource in resources:
        field = kinds.get(resource.type)
        if field is not None and value(resource, field) is not None:
            yield resource, field, value(resource, field)


def is_public_principal(principal: Any) -> bool:
    """``"*"``, ``{"AWS": "*"}`` or ``{"AWS": [..., "*"]}``: every AWS account."""
    if principal == "*":
        return True
    # One `if` per form (not one boolean): the mutation test deletes each form's check on its own.
    if isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")):  # noqa: SIM103 - {"AWS": "*"} too
        return True
    return False


def _restricted(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    keys = {str(key).lower() for block in (condition or {}).values() if isinstance(block, Mapping) for key in block}
    return bool(keys & set(RESTRICTING_CONDITION_KEYS))


def no_public_principal(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource, field, document in _documents(resources, RESOURCE_POLICIES):
        for statement in statements(document):
            if allows(statement) and is_public_principal(statement.get("Principal")) and not _restricted(statement):
                yield Violation("no-public-principal", resource.name, f"{field} allows every principal")


def _non_key_documents(resources: Sequence[Declared]) -> Iterator[tuple[Declared, str, Any]]:
    """Identity policies and resource policies other than key policies (whose ``Resource: *`` is the key)."""
    yield from _documents(resources, IDENTITY_POLICIES)
    yield from _documents(resources, {k: v for k, v in RESOURCE_POLICIES.items() if k != KEY})


def no_admin_wildcard(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource, field, document in _documents(resources, {**IDENTITY_POLICIES, **RESOURCE_POLICIES}):
        for statement in statements(document):
            if allows(statement) and any(a in ("*", "*:*") for a in actions(statement)):
                yield Violation("iam-no-admin-wildcard", resource.name, f"{field} allows every action")


def no_service_wildcard(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "iam-no-service-wildcard"
    for resource, field, document in _non_key_documents(resources):
        for statement in statements(document):
            if allows(statement) and "*" in targets(statement) and any(a.endswith(":*") for a in actions(statement)):
                yield Violation(rule, resource.name, f"{field} allows a whole service on every resource")
    for resource, field, document in _documents(resources, {**IDENTITY_POLICIES, **RESOURCE_POLICIES}):
        for statement in statements(document):
            if allows(statement) and any(a.lower() == "iam:*" for a in actions(statement)):
                yield Violation(rule, resource.name, f"{field} allows iam:* (any IAM change)")


def no_not_action(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "iam-no-not-action"
    for resource, field, document in _documents(resources, {**IDENTITY_POLICIES, **RESOURCE_POLICIES}):
        for statement in statements(document):
            if allows(statement) and "NotAction" in statement:
                yield Violation(rule, resource.name, f"{field} allows NotAction (every action but some)")
            if allows(statement) and "NotResource" in statement:
                yield Violation(rule, resource.name, f"{field} allows NotResource (every resource but some)")


def resource_wildcard_allowlist(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource, field, document in _documents(resources, IDENTITY_POLICIES):
        for statement in statements(document):
            unscoped = [a for a in actions(statement) if a not in RESOURCE_WILDCARD_ALLOWED]
            if allows(statement) and "*" in targets(statement) and unscoped:
                yield Violation(
                    "iam-resource-wildcard",
                    resource.name,
                    f"{field} grants {', '.join(sorted(unscoped))} on Resource * (scope them to ARNs)",
                )


def passrole_scoped(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "iam-passrole-scoped"
    for resource, field, document in _documents(resources, IDENTITY_POLICIES):
        for statement in statements(document):
            if not (allows(statement) and grants(statement, "iam:PassRole")):
                continue
            condition_keys = {
                str(key).lower()
                for block in (statement.get("Condition") or {}).values()
                if isinstance(block, Mapping)
                for key in block
            }
            if "iam:passedtoservice" not in condition_keys:
                yield Violation(rule, resource.name, f"{field} allows iam:PassRole without iam:PassedToService")
            if "*" in targets(statement):
                yield Violation(rule, resource.name, f"{field} allows iam:PassRole on every role")


def _role_of(resources: Sequence[Declared], policy: Declared) -> Declared | None:
    return next((role for role in of(resources, ROLE) if refers(policy, "role", role)), None)


def _role_arn_pattern_hits(pattern: str, role: Declared) -> bool:
    """Whether a resource pattern covers ``role`` (any account: the pattern's own account is not checked)."""
    path = str(value(role, "path") or "/")
    name = str(value(role, "name") or role.name)
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    return len(parts) == 6 and parts[2] in ("iam", "*") and resource_matches(parts[5], f"role{path}{name}")


def _role_documents(resources: Sequence[Declared]) -> Iterator[tuple[Declared, Declared]]:
    """(policy, role): each inline policy with its role, and each managed policy with every role it is attached
    to (``RolePolicyAttachment``): what a role may do is the union of both."""
    for policy in of(resources, ROLE_POLICY):
        role = _role_of(resources, policy)
        if role is not None:
            yield policy, role
    for attachment in of(resources, ROLE_POLICY_ATTACHMENT):
        role = _role_of(resources, attachment)
        managed = next((p for p in of(resources, MANAGED_POLICY) if refers(attachment, "policyArn", p)), None)
        if role is not None and managed is not None:
            yield managed, role


def no_self_escalation(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "iam-no-self-escalation"
    for policy, role in _role_documents(resources):
        boundary = str(value(role, "permissionsBoundary") or "")
        for statement in statements(value(policy, "policy")):
            if not allows(statement):
                continue
            writes = [a for a in ROLE_WRITE_ACTIONS if grants(statement, a)]
            if writes and any(_role_arn_pattern_hits(p, role) for p in targets(statement)):
                yield Violation(rule, policy.name, f"lets role {role.name} change itself ({', '.join(writes)})")
            edits = [a for a in POLICY_WRITE_ACTIONS if grants(statement, a)]
            if boundary and edits and any(resource_matches(p, boundary) for p in targets(statement)):
                yield Violation(rule, policy.name, f"lets role {role.name} rewrite its permissions boundary")


def oidc_trust_scoped(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "iam-oidc-trust-scoped"
    for role in of(resources, ROLE):
        for statement in statements(value(role, "assumeRolePolicy")):
            principal = statement.get("Principal")
            federated = isinstance(principal, Mapping) and "Federated" in principal
            if not (allows(statement) and federated):
                continue
            conditions = {
                str(key).lower(): values
                for block in (statement.get("Condition") or {}).values()
                if isinstance(block, Mapping)
                for key, values in block.items()
            }
            audiences = [v for k, v in conditions.items() if k.endswith(":aud")]
            subjects = [s for k, v in conditions.items() if k.endswith(":sub") for s in as_list(v)]
            if not audiences:
                yield Violation(rule, role.name, "web identity trust without an audience condition")
            if not subjects:
                yield Violation(rule, role.name, "web identity trust without a subject condition (any repository)")
            if any(str(s) == "*" or str(s).startswith("repo:*") for s in subjects):
                yield Violation(rule, role.name, "web identity subject matches every repository")


RULES: tuple[Rule, ...] = (
    Rule(
        "no-public-principal",
        "public-access",
        "No Allow in a bucket, key, topic, endpoint or trust policy names every principal ('*', {'AWS': '*'}, "
        "{'AWS': ['*']}) without an account, organisation or source condition.",
        no_public_principal,
    ),
    Rule("iam-no-admin-wildcard", "iam", "No policy allows every action ('*').", no_admin_wildcard),
    Rule(
        "iam-no-service-wildcard",
        "iam",
        "No policy allows a whole service on Resource '*', and none allows iam:*.",
        no_service_wildcard,
    ),
    Rule("iam-no-not-action", "iam", "No Allow uses NotAction or NotResource.", no_not_action),
    Rule(
        "iam-resource-wildcard",
        "iam",
        "Resource '*' only for actions without resource-level permissions (e.g. ecr:GetAuthorizationToken).",
        resource_wildcard_allowlist,
    ),
    Rule(
        "iam-passrole-scoped",
        "iam",
        "iam:PassRole names roles and the service they may be passed to (iam:PassedToService).",
        passrole_scoped,
    ),
    Rule(
        "iam-no-self-escalation",
        "iam",
        "No role may change its own policies, trust or boundary, nor rewrite its boundary policy.",
        no_self_escalation,
    ),
    Rule(
        "iam-oidc-trust-scoped",
        "iam",
        "Web identity (GitHub OIDC) trust names an audience and the repository subjects it accepts.",
        oidc_trust_scoped,
    ),
)
