"""The tags every taggable resource carries (the policy tests check each one)."""

from __future__ import annotations

REQUIRED_TAGS: tuple[str, ...] = ("project", "environment", "owner", "component")


def common_tags(project: str, environment: str, owner: str, component: str) -> dict[str, str]:
    """Tags of one component's resources: who owns it, which stack and which capability it belongs to."""
    return {"project": project, "environment": environment, "owner": owner, "component": component}
