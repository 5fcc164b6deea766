"""The program runs in a process where ``asyncio.run`` already ran (and left no current event loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from infra.plan import plan_stack

pytestmark = pytest.mark.pulumi

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_plan_runs_after_asyncio_run_cleared_the_event_loop() -> None:
    async def noop() -> None:
        return None

    asyncio.run(noop())
    with pytest.raises(RuntimeError):
        asyncio.get_event_loop_policy().get_event_loop()
    plan = plan_stack("dev", REPO_ROOT)
    assert any(r.name == "training-pipeline" for r in plan.resources)
