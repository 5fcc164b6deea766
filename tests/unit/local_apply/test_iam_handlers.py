"""The local apply's IAM and registry-grant handlers on the session's emulator: re-applies are idempotent, as
``pulumi up`` is."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import LocalApplyError
from mlops.local.apply.base import HandlerContext
from mlops.local.apply.handlers import iam, sagemaker_registry

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
READ = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def _context(clients: ClientFactory, tmp_path: Path) -> HandlerContext:
    return HandlerContext(clients=clients, account_id="123456789012", region="us-east-1", state_dir=tmp_path)


def test_a_managed_policy_is_attached_once_and_reapplying_reuses_it(
    emulated_clients: ClientFactory, tmp_path: Path
) -> None:
    ctx = _context(emulated_clients, tmp_path)
    suffix = uuid.uuid4().hex[:8]
    role = iam.role(ctx, "r", {"name": f"attach-{suffix}", "assumeRolePolicy": TRUST})
    policy = iam.managed_policy(ctx, "p", {"name": f"read-{suffix}", "policy": READ})
    inputs = {"role": role.physical_id, "policyArn": policy.state["arn"]}

    first = iam.role_policy_attachment(ctx, "a", inputs)
    again = iam.role_policy_attachment(ctx, "a", inputs)

    attached = emulated_clients.client("iam").list_attached_role_policies(RoleName=role.physical_id)
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [policy.state["arn"]]
    assert (first.outcome, again.outcome) == ("created", "reused")
    assert first.physical_id == f"{role.physical_id}/{policy.state['arn']}"


def test_a_package_group_policy_needs_its_group_and_is_kept_for_reapplies(
    emulated_clients: ClientFactory, tmp_path: Path
) -> None:
    ctx = _context(emulated_clients, tmp_path)
    group = f"grants-{uuid.uuid4().hex[:8]}"
    inputs = {"modelPackageGroupName": group, "resourcePolicy": READ}
    with pytest.raises(LocalApplyError, match=group):
        sagemaker_registry.model_package_group_policy(ctx, "g", inputs)
    emulated_clients.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)

    first = sagemaker_registry.model_package_group_policy(ctx, "g", inputs)
    again = sagemaker_registry.model_package_group_policy(ctx, "g", inputs)
    changed = sagemaker_registry.model_package_group_policy(ctx, "g", {**inputs, "resourcePolicy": TRUST})

    assert (first.outcome, again.outcome, changed.outcome) == ("created", "reused", "updated")
