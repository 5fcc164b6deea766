"""KMS keys and aliases. Keys have no name, so each is tagged with its logical name to be found again."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, is_not_found, require

LOGICAL_NAME_TAG = "mlops:logical-name"
ENVIRONMENT_TAG = "environment"  # every resource of the program carries its stack's (infra/tags.py)


def _find_key(kms: Any, logical_name: str, declared_tags: dict[str, str]) -> dict[str, Any] | None:
    """The key tagged with ``logical_name`` and the same ``environment`` tag: stacks applied side by side to one
    emulator declare the same logical names, and each must find its own key, not the first stack's."""
    wanted = {LOGICAL_NAME_TAG: logical_name}
    if ENVIRONMENT_TAG in declared_tags:
        wanted[ENVIRONMENT_TAG] = declared_tags[ENVIRONMENT_TAG]
    for page in kms.get_paginator("list_keys").paginate():
        for entry in page["Keys"]:
            tags = kms.list_resource_tags(KeyId=entry["KeyId"]).get("Tags", [])
            if wanted.items() <= {t["TagKey"]: t["TagValue"] for t in tags}.items():
                metadata: dict[str, Any] = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
                if metadata.get("KeyState") != "PendingDeletion":
                    return metadata
    return None


def key(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:kms/key:Key``: create a symmetric key (rotation as declared) or reuse the tagged one."""
    kms = ctx.clients.client("kms")
    metadata = _find_key(kms, name, dict(inputs.get("tags") or {}))
    outcome: Outcome = "reused"
    if metadata is None:
        tags = [{"TagKey": k, "TagValue": v} for k, v in (inputs.get("tags") or {}).items()]
        tags.append({"TagKey": LOGICAL_NAME_TAG, "TagValue": name})
        request: dict[str, Any] = {"Description": inputs.get("description", ""), "Tags": tags}
        if inputs.get("policy"):
            request["Policy"] = inputs["policy"]
        if inputs.get("keyUsage"):
            request["KeyUsage"] = inputs["keyUsage"]
        metadata = kms.create_key(**request)["KeyMetadata"]
        outcome = "created"
    key_id = metadata["KeyId"]
    rotation = bool(inputs.get("enableKeyRotation"))
    if kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] != rotation:
        (kms.enable_key_rotation if rotation else kms.disable_key_rotation)(KeyId=key_id)
        outcome = "updated" if outcome == "reused" else outcome
    return applied(key_id, inputs, outcome, arn=metadata["Arn"], keyId=key_id)


def alias(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:kms/alias:Alias``: point the alias at the key, creating or retargeting it as needed."""
    typ = "aws:kms/alias:Alias"
    kms = ctx.clients.client("kms")
    alias_name = str(require(inputs, "name", typ, name))
    target = str(require(inputs, "targetKeyId", typ, name))
    target_meta = kms.describe_key(KeyId=target)["KeyMetadata"]
    outcome: Outcome = "created"
    try:
        current = kms.describe_key(KeyId=alias_name)["KeyMetadata"]
        if current["KeyId"] == target_meta["KeyId"]:
            outcome = "reused"
        else:
            kms.update_alias(AliasName=alias_name, TargetKeyId=target_meta["KeyId"])
            outcome = "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        kms.create_alias(AliasName=alias_name, TargetKeyId=target_meta["KeyId"])
    return applied(
        alias_name,
        inputs,
        outcome,
        name=alias_name,
        arn=ctx.arn("kms", alias_name),
        targetKeyArn=target_meta["Arn"],
    )


HANDLERS: dict[str, Handler] = {"aws:kms/key:Key": key, "aws:kms/alias:Alias": alias}
