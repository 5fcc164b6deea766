"""LocalStack for tests: one process per test session, started on first use and stopped by PID at the end.

Registered in tests/conftest.py (``pytest_plugins``). A test that asks for ``localstack_endpoint`` is skipped,
with the reason, only where LocalStack cannot run: no Python >= 3.13 on the machine, or its venv not installed.
Under CI an installed interpreter without the venv fails instead: scripts/test.sh installs it, so a missing venv
there means the install step went missing, which a skip would hide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.local import localstack
from mlops.settings import Settings, load_settings


def require_localstack() -> None:
    """Skip (or, under CI with an interpreter present, fail) when LocalStack cannot be started here."""
    reason = localstack.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") and localstack.find_interpreter() is not None:
        pytest.fail(f"{reason} (CI runs scripts/test.sh, which installs it: the install step did not run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def localstack_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localstack.LocalStackHandle]:
    """The session's LocalStack process (its log is under the session's temp dir)."""
    require_localstack()
    handle = localstack.start(tmp_path_factory.mktemp("localstack"))
    try:
        yield handle
    finally:
        localstack.stop(handle)


@pytest.fixture(scope="session")
def localstack_endpoint(localstack_handle: localstack.LocalStackHandle) -> str:
    """``http://127.0.0.1:<port>`` of the session's LocalStack."""
    return localstack_handle.endpoint_url


@pytest.fixture
def localstack_settings(localstack_endpoint: str) -> Settings:
    """The kit's settings for the ``localstack`` target, pointed at the session's LocalStack."""
    return load_settings(target="localstack", endpoint_url=localstack_endpoint)


@pytest.fixture
def localstack_clients(localstack_settings: Settings) -> ClientFactory:
    """The kit's client factory for the session's LocalStack, built as the kit builds it (the wiring)."""
    from mlops.wiring import client_factory

    return client_factory(localstack_settings)
