"""Run the Pulumi program in-process under any :class:`pulumi.runtime.Mocks` and collect its outputs.

Used by ``mlops infra plan`` (recording mocks) and by the local apply (mocks that create each resource in
the emulator). No Pulumi CLI or engine is involved: ``set_mocks`` replaces the engine's resource monitor.

The mocks must answer the program's one invoke, ``aws:index/getCallerIdentity:getCallerIdentity``, with a
camelCase dict holding ``accountId``; ``new_resource`` must return state whose camelCase keys include
every output the program reads (``arn``, ``name``, ``bucket``, ``keyId``...), as the real provider does.

Several runs in one process work (each call configures fresh mock settings and a fresh root stack), so
tests can run all four stacks in one pytest session; runs must not overlap in time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import PROJECT, StackConfig, read_stack_file
from mlops.errors import ConfigError


def run_program(
    stack: str, mocks: pulumi.runtime.Mocks, repo_root: Path, *, monitor: MockMonitor | None = None
) -> dict[str, Any]:
    """Run the program for ``stack`` (config from ``infra/Pulumi.<stack>.yaml``) and return plain outputs.

    ``monitor`` lets a caller see each registration request (parents, dependencies); by default the
    SDK's own mock monitor wraps ``mocks``. Errors raised by the program or the mocks propagate unchanged.
    """
    config = read_stack_file(stack, repo_root)
    return run_config(config, mocks, monitor=monitor)


def ensure_event_loop() -> None:
    """The SDK drives the program on the thread's current event loop; ``asyncio.run`` (in the same process,
    earlier) leaves the main thread without one, so give it a new one then."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_config(
    config: StackConfig, mocks: pulumi.runtime.Mocks, *, monitor: MockMonitor | None = None
) -> dict[str, Any]:
    """Like :func:`run_program` for an already built config (tests pass deliberately altered configs)."""
    from infra.platform import define_platform

    ensure_event_loop()
    # A fresh root stack per run: set_mocks keeps an existing root, whose URN would name the previous stack.
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=config.stack, preview=False, monitor=monitor)
    collected: dict[str, Any] = {}

    async def program() -> None:
        outputs = define_platform(config)
        resolved = await pulumi.Output.from_input(outputs).future()
        if resolved is None:
            raise ConfigError(f"stack {config.stack!r}: the program's outputs did not resolve (unknown values)")
        collected.update(resolved)

    _sync_await(run_pulumi_func(program))
    return collected
