"""IAM roles, inline role policies, customer-managed policies and their attachments, and the CI/CD OIDC identity
provider."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.local.apply.base import (
    Applied,
    Handler,
    HandlerContext,
    Outcome,
    applied,
    is_not_found,
    require,
    same_json,
    tags_list,
)


def role(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:iam/role:Role``: create the named role or reuse it, keeping its trust policy in step."""
    typ = "aws:iam/role:Role"
    iam = ctx.clients.client("iam")
    role_name = str(require(inputs, "name", typ, name))
    trust = str(require(inputs, "assumeRolePolicy", typ, name))
    boundary = inputs.get("permissionsBoundary") or None
    outcome: Outcome = "reused"
    try:
        current = iam.get_role(RoleName=role_name)["Role"]
        if not same_json(current["AssumeRolePolicyDocument"], trust):
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
            outcome = "updated"
        if boundary and current.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") != boundary:
            iam.put_role_permissions_boundary(RoleName=role_name, PermissionsBoundary=boundary)
            outcome = "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {
            "RoleName": role_name,
            "AssumeRolePolicyDocument": trust,
            "Path": inputs.get("path", "/"),
            "Description": inputs.get("description", ""),
            "Tags": tags_list(inputs.get("tags")),
        }
        if inputs.get("maxSessionDuration"):
            request["MaxSessionDuration"] = int(inputs["maxSessionDuration"])
        if boundary:
            request["PermissionsBoundary"] = boundary
        current = iam.create_role(**request)["Role"]
        outcome = "created"
    return applied(role_name, inputs, outcome, name=role_name, arn=current["Arn"], uniqueId=current["RoleId"])


def role_policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:iam/rolePolicy:RolePolicy``: the inline policy ``name`` on ``role`` (id ``role:name``)."""
    typ = "aws:iam/rolePolicy:RolePolicy"
    iam = ctx.clients.client("iam")
    role_name = str(require(inputs, "role", typ, name))
    # An inline policy's name only matters inside its role: without one, the logical name keeps re-applies
    # idempotent where the provider would autoname with a random suffix.
    policy_name = str(inputs.get("name") or name)
    document = str(require(inputs, "policy", typ, name))
    current: Any = None
    try:
        current = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    outcome: Outcome = "reused"
    if current is None or not same_json(current, document):
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=document)
        outcome = "created" if current is None else "updated"
    return applied(f"{role_name}:{policy_name}", inputs, outcome, name=policy_name, role=role_name)


def oidc_provider(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:iam/openIdConnectProvider:OpenIdConnectProvider``: identified by its URL, as in AWS."""
    typ = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    iam = ctx.clients.client("iam")
    url = str(require(inputs, "url", typ, name))
    arn = ctx.arn("iam", f"oidc-provider/{url.removeprefix('https://')}", regional=False)
    known = {entry["Arn"] for entry in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    outcome: Outcome = "reused"
    if arn not in known:
        arn = iam.create_open_id_connect_provider(
            Url=url,
            ClientIDList=list(inputs.get("clientIdLists") or []),
            ThumbprintList=list(inputs.get("thumbprintLists") or []),
            Tags=tags_list(inputs.get("tags")),
        )["OpenIDConnectProviderArn"]
        outcome = "created"
    return applied(arn, inputs, outcome, arn=arn)


def managed_policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:iam/policy:Policy``: the named customer-managed policy; a changed document becomes its new default
    version (the oldest non-default version is removed first when IAM's five are used)."""
    typ = "aws:iam/policy:Policy"
    iam = ctx.clients.client("iam")
    policy_name = str(require(inputs, "name", typ, name))
    document = str(require(inputs, "policy", typ, name))
    path = str(inputs.get("path") or "/")
    arn = ctx.arn("iam", f"policy{path}{policy_name}", regional=False)
    outcome: Outcome = "reused"
    try:
        current = iam.get_policy(PolicyArn=arn)["Policy"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=current["DefaultVersionId"])["PolicyVersion"]
        if not same_json(version["Document"], document):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= 5:
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
            outcome = "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        current = iam.create_policy(
            PolicyName=policy_name,
            Path=path,
            PolicyDocument=document,
            Description=str(inputs.get("description") or ""),
            Tags=tags_list(inputs.get("tags")),
        )["Policy"]
        outcome = "created"
    return applied(current["Arn"], inputs, outcome, name=policy_name, arn=current["Arn"], policyId=current["PolicyId"])


def role_policy_attachment(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:iam/rolePolicyAttachment:RolePolicyAttachment``: ``policyArn`` attached to ``role`` (attaching
    again is a no-op in IAM; the listing tells a re-apply from a first one)."""
    typ = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    iam = ctx.clients.client("iam")
    role_name = str(require(inputs, "role", typ, name))
    policy_arn = str(require(inputs, "policyArn", typ, name))
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name)
    attached = {entry["PolicyArn"] for page in pages for entry in page["AttachedPolicies"]}
    outcome: Outcome = "reused"
    if policy_arn not in attached:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        outcome = "created"
    return applied(f"{role_name}/{policy_arn}", inputs, outcome, role=role_name, policyArn=policy_arn)


HANDLERS: dict[str, Handler] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": role_policy_attachment,
    "aws:iam/policy:Policy": managed_policy,
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": oidc_provider,
}
