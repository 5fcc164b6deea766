"""Destroying a non-production stack with its deploy role: everything but the deploy identity.

The deploy role may not delete itself, the preview role, the boundary or the OIDC provider (explicit deny), so
``pulumi destroy`` runs with one ``--exclude`` per identity resource; an administrator removes those last
(docs/release.md). Production is never destroyed by a workflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mlops.release.errors import ReleaseError

PROTECTED_STACKS = ("prod",)
IDENTITY_COMPONENTS = ("cicd", "boundary")
"""Logical names of the components holding the deploy identity (``infra/components/cicd.py``)."""


class Declared(Protocol):
    """A planned resource as ``infra.plan.PlannedResource`` describes it."""

    type: str
    name: str
    parent: str | None


def urn(stack: str, project: str, resource: Declared, parents: dict[str, str]) -> str:
    """The resource's URN as the engine names it (``<parent type>$<type>`` for a component's child)."""
    qualified = resource.type if resource.parent is None else f"{parents[resource.parent]}${resource.type}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{resource.name}"


def destroy_excludes(stack: str, project: str, resources: Iterable[Declared]) -> list[str]:
    """``pulumi destroy`` arguments keeping the deploy identity: ``--exclude <urn>`` for each of its resources.
    A protected stack is refused."""
    if stack in PROTECTED_STACKS:
        raise ReleaseError(f"stack {stack!r} is protected: no workflow destroys it")
    listed = list(resources)
    parents = {r.name: r.type for r in listed}
    kept = [r for r in listed if r.name in IDENTITY_COMPONENTS or r.parent in IDENTITY_COMPONENTS]
    if not kept:
        raise ReleaseError(f"stack {stack!r} declares no deploy identity ({', '.join(IDENTITY_COMPONENTS)})")
    return [arg for r in sorted(kept, key=lambda r: r.name) for arg in ("--exclude", urn(stack, project, r, parents))]
