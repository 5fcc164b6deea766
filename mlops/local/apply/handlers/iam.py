"""IAM roles, inline role policies and the CI/CD OIDC identity provider."""

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
    outcome: Outcome = "reused"
    try:
        current = iam.get_role(RoleName=role_name)["Role"]
        if not same_json(current["AssumeRolePolicyDocument"], trust):
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
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


HANDLERS: dict[str, Handler] = {
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": oidc_provider,
}
