"""What every component shares: its identity (project, environment, owner) and the child resource options."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.tags import common_tags


@dataclass(frozen=True)
class StackIdentity:
    """Who and where: names, tags and ARNs are derived from these values."""

    project: str
    environment: str
    owner: str
    region: str
    account_id: pulumi.Output[str]
    permissions_boundary: pulumi.Output[str] | None = None
    """ARN of the stack's workload permissions boundary: every role a component creates carries it."""

    def tags(self, component: str) -> dict[str, str]:
        """The required tags of a resource of ``component``."""
        return common_tags(self.project, self.environment, self.owner, component)


def child(parent: pulumi.Resource, *, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Options of a component's child resource: parented, so the plan and the engine show it in its component."""
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on)


def policy_json(build: Callable[..., dict[str, Any]], *inputs: pulumi.Input[str]) -> pulumi.Output[str]:
    """Serialise a pure policy builder once its ARN/name inputs resolve (``json.dumps``, sorted keys)."""
    return pulumi.Output.all(*inputs).apply(lambda values: json.dumps(build(*values), sort_keys=True))
