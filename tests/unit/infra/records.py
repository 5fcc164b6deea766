"""Hand-built resource records for policy-rule tests (the shape the plan's mocks record)."""

from __future__ import annotations

from typing import Any

from infra.plan import PlannedResource


def record(type_token: str, logical: str, **inputs: Any) -> PlannedResource:
    return PlannedResource(type=type_token, name=logical, custom=True, inputs=inputs, id=f"{logical}-id")
