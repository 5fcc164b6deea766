"""Shared fixtures. Tests that need the emulator start it themselves and stop it by PID at session end."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.local import emulator
from mlops.platform import Platform
from mlops.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# One OpenMP/BLAS thread per test process (and the CLI, training and job processes it starts, which inherit it):
# the suite already runs one worker per core, and HistGradientBoosting's OpenMP threads on an oversubscribed
# 2-core machine wait at every barrier for a descheduled sibling (test_compiled.py: 79 s wall for 16 s of CPU with
# the default, 28 s with one thread). Set before sklearn loads its OpenMP runtime; a value already set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# What a developer's shell may set that no test may see (each test's settings are its own).
_DEVELOPERS_VARIABLES = ("MLOPS_", "AWS_", "LOCALSTACK_", "MLFLOW_TRACKING_", "MLFLOW_REGISTRY_")
pytest_plugins = [
    "tests.support.localstack",  # localstack_endpoint: a session LocalStack, skipped where it cannot run
    "tests.support.gcp",  # gcp_clients: the session's Google emulators (GCS, Pub/Sub, Firestore)
]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep the developer's own MLOPS_*/MLFLOW_* variables, config file and AWS profile out of every test, and
    one test's MLflow URIs out of the next (MLflow keeps them process-wide)."""
    for name in list(os.environ):
        if name.startswith(_DEVELOPERS_VARIABLES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_CONFIG_FILE", str(tmp_path / "absent-mlops.yaml"))
    # No test's `mlops local up` starts a Spark Connect server (a JVM that would outlive the test): the tests of
    # the warm server start it themselves (tests/integration/jobs/conftest.py: warm_spark, warm_spark_server).
    monkeypatch.setenv("MLOPS_LOCAL_SPARK__ENABLED", "false")
    # Nor a warm command server (its tests and the demo's start it: tests/integration/test_warm_cli.py).
    monkeypatch.setenv("MLOPS_LOCAL_CLI__ENABLED", "false")
    yield
    _forget_mlflow_uris()


def _forget_mlflow_uris() -> None:
    """Unset MLflow's process-wide tracking and registry URIs (if a test imported MLflow at all)."""
    if "mlflow" not in sys.modules:
        return
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    tracking_state._tracking_uri = None
    registry_state._registry_uri = None


@pytest.fixture(scope="session")
def emulator_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A moto server for the whole test session, out of process, and the warm command server `mlops local up`
    starts beside it: the model servers, pipeline steps and job drivers of the tests on this emulator fork from it
    instead of importing their libraries again (~2.4 s of CPU each). Both stopped by PID when the session ends;
    the cold starts are run by the tests with state dirs of their own."""
    from mlops.local import warm_cli

    state_dir = tmp_path_factory.mktemp("mlops-state")
    emulator.up(state_dir / "emulator")
    warm_cli.up(state_dir, {k: v for k, v in os.environ.items() if not k.startswith(_DEVELOPERS_VARIABLES)})
    try:
        yield state_dir
    finally:
        warm_cli.down(state_dir)
        emulator.down(state_dir / "emulator")


@pytest.fixture
def emulated_settings(emulator_state_dir: Path) -> Settings:
    """Settings pointing at the session's emulator."""
    return load_settings(target="moto", state_dir=emulator_state_dir)


@pytest.fixture
def emulated_clients(emulated_settings: Settings) -> ClientFactory:
    from mlops.wiring import client_factory

    return client_factory(emulated_settings)


@pytest.fixture(scope="session")
def platform(emulator_state_dir: Path) -> Platform:
    """The infra program applied once per test session for stack ``local`` to the session's emulator.

    The outputs file is written under the session's state dir and loaded back as :class:`StackOutputs`. Its job
    runs start JVMs of their own (a test that wants the warm Spark server asks for ``warm_platform``,
    tests/integration/jobs/conftest.py) and its processes fork from the session's warm command server, whatever
    the environment says.
    """
    from infra.runner import run_program
    from mlops.local.apply.engine import provision_platform

    settings = load_settings(
        target="moto",
        state_dir=emulator_state_dir,
        stack="local",
        local_spark={"enabled": False},
        local_cli={"enabled": True},
    )
    return provision_platform(settings, REPO_ROOT, runner=run_program)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No process may outlive the test session: any child still running, and any process working in the
    session's temporary directories (a detached model server whose CLI has exited), is killed and fails the run."""
    from tests.support import leftovers

    if "mlops.local.warm_python" in sys.modules:  # its kept interpreter is closed at exit, which comes after this
        sys.modules["mlops.local.warm_python"].close_idle()
    found = {p.pid: p for p in leftovers.children()}
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        found.update({p.pid: p for p in leftovers.working_under(factory.getbasetemp())})
    if not found:
        return
    described = leftovers.describe(list(found.values()))
    for process in found.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"processes outlived the test session and were killed: {described}"
    if reporter is not None:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The process ends next: its last collections need not walk the session's heap (a worker's whole run)."""
    import gc

    gc.freeze()
