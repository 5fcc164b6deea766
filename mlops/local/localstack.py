"""Lifecycle of LocalStack run on the host, without Docker: start it, wait until it is healthy, stop it by PID.

Why this exists: the embedded moto server stores CloudWatch alarms but never evaluates them, and runs nothing;
LocalStack evaluates alarms and delivers SNS/SQS/EventBridge messages. Its Docker image needs an auth token
since 2026-03 and this kind of machine has no Docker engine, but ``localstack-core`` 2026.3.0 from PyPI runs as
a plain process. It needs Python >= 3.13 (it imports ``warnings.deprecated``) while the kit is on 3.11, so it
lives in its own virtualenv, ``.localstack-venv/``, made by ``scripts/localstack-venv.sh``.

A started LocalStack is held by a :class:`LocalStackHandle` (PID, port, log file); nothing is recorded on disk
beyond its log and its private filesystem root under the state dir, so two test sessions never share one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psutil

from mlops.errors import EmulatorError
from mlops.local import loopback
from mlops.local.emulator import HOST, free_port
from mlops.local.processes import command_line, wait_all_exited

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = REPO_ROOT / ".localstack-venv"
# Written by scripts/localstack-venv.sh as its last step: a venv without it is half-installed.
STAMP_FILE = ".mlops-kit-stamp"
INSTALL_SCRIPT = "scripts/localstack-venv.sh"
# localstack-core 2026.3.0 declares >= 3.10 but imports ``warnings.deprecated`` (3.13): on 3.12 it starts, finds
# no service plugin and exits.
MIN_PYTHON = (3, 13)
# Healthy in 1.2-3.7 s on a quiet two-core machine; a busy one (Spark, a second LocalStack) is several times slower.
START_TIMEOUT_S = 90.0
# Its Kinesis emulator (node) does not stop with it: :func:`stop` signals it too. A process left after this is killed.
STOP_GRACE_S = 10.0
LOGFILE = "localstack.log"
HEALTH_PATH = "/_localstack/health"
READY_STATES = frozenset({"available", "running"})
_ENTRY_MODULE = "localstack.runtime.main"
# Variables of the kit's own interpreter that would make LocalStack's 3.13 interpreter import the wrong packages.
_FOREIGN_PYTHON_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
# The Popen objects of the processes this interpreter started, so :func:`stop` can reap them (no zombie, no
# "subprocess is still running" warning); a handle from another process is stopped by PID alone.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


class LocalStackUnavailable(EmulatorError):
    """LocalStack cannot run here: no Python >= 3.13, or its venv was not installed (the message says which)."""


@dataclass(frozen=True)
class LocalStackHandle:
    """One LocalStack process started by :func:`start`; :func:`stop` needs nothing else."""

    pid: int
    host: str
    port: int
    log_file: Path
    filesystem_root: Path
    create_time: float  # the process's own start time: tells it apart from a later process that reuses the PID
    healthy_after_s: float

    @property
    def endpoint_url(self) -> str:
        """Every service of LocalStack answers on this one URL (its gateway)."""
        return f"http://{self.host}:{self.port}"


def _runs_as_new_enough(candidate: str) -> Path | None:
    """The real interpreter behind ``candidate`` when it runs and is >= 3.13 (pyenv shims fail or resolve here)."""
    code = f"import sys; assert sys.version_info >= {MIN_PYTHON!r}; print(sys.executable)"
    try:
        done = subprocess.run([candidate, "-c", code], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return Path(done.stdout.strip())


def _candidates() -> Iterable[str]:
    """The interpreters to try, in scripts/localstack-venv.sh's order."""
    override = os.environ.get("LOCALSTACK_PYTHON")
    if override:
        yield override
    for name in ("python3.13", "python3.14", "python3"):
        found = shutil.which(name)
        if found:
            yield found
    pyenv = Path.home() / ".pyenv" / "versions"
    versions = [p for p in pyenv.glob("3.1[3-9]*") if (p / "bin" / "python3").exists()]

    def version_key(path: Path) -> tuple[int, ...]:
        return tuple(int(part) if part.isdigit() else 0 for part in path.name.split("."))

    for version in sorted(versions, key=version_key):
        yield str(version / "bin" / "python3")


def find_interpreter() -> Path | None:
    """A Python >= 3.13 to build LocalStack's venv with, or ``None`` when this machine has none."""
    for candidate in _candidates():
        found = _runs_as_new_enough(candidate)
        if found is not None:
            return found
    return None


def venv_python(venv_dir: Path = VENV_DIR) -> Path | None:
    """The venv's interpreter when scripts/localstack-venv.sh finished installing it, else ``None``."""
    python = venv_dir / "bin" / "python"
    if (venv_dir / STAMP_FILE).is_file() and os.access(python, os.X_OK):
        return python
    return None


def unavailable_reason(venv_dir: Path = VENV_DIR) -> str | None:
    """Why LocalStack cannot be started here, or ``None`` when its venv is ready."""
    if venv_python(venv_dir) is not None:
        return None
    interpreter = find_interpreter()
    wanted = ".".join(str(part) for part in MIN_PYTHON)
    if interpreter is None:
        return (
            f"no Python >= {wanted} on this machine (localstack-core 2026.3.0 needs it; tried $LOCALSTACK_PYTHON, "
            f"python3.13/3.14/python3 on PATH and ~/.pyenv/versions): LocalStack cannot run here"
        )
    return f"LocalStack's venv {venv_dir} is not installed: run {INSTALL_SCRIPT} (it would use {interpreter})"


def health(endpoint_url: str, timeout: float = 2.0) -> dict[str, str] | None:
    """Service name -> state from LocalStack's health endpoint, or ``None`` when nothing answers as LocalStack."""
    try:
        response = loopback.get(endpoint_url + HEALTH_PATH, timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        services = response.json().get("services")
    except (ValueError, AttributeError):
        return None
    if not isinstance(services, dict):
        return None
    return {str(name): str(state) for name, state in services.items()}


def is_healthy(endpoint_url: str, timeout: float = 2.0) -> bool:
    """True when LocalStack answers and its S3 is available (the first service every part of the kit needs)."""
    services = health(endpoint_url, timeout)
    return services is not None and services.get("s3") in READY_STATES


def _environment(port: int, filesystem_root: Path) -> dict[str, str]:
    """LocalStack's settings for a host run: loopback only, no DNS, no persistence, nothing outside the state dir.

    ``OVERRIDE_IN_DOCKER=0``: this host has /.dockerenv, so LocalStack would otherwise write to /var/lib/localstack.
    ``GATEWAY_SERVER=hypercorn``: the default (twisted) gateway binds 0.0.0.0 whatever ``GATEWAY_LISTEN`` says.
    ``LOCALSTACK_HOST``/``SQS_ENDPOINT_STRATEGY``: URLs it returns (SQS queue URLs) point back at this port.
    """
    env = {name: value for name, value in os.environ.items() if name not in _FOREIGN_PYTHON_ENV}
    env.update(
        GATEWAY_LISTEN=f"{HOST}:{port}",
        GATEWAY_SERVER="hypercorn",
        LOCALSTACK_HOST=f"{HOST}:{port}",
        SQS_ENDPOINT_STRATEGY="path",
        OVERRIDE_IN_DOCKER="0",
        DNS_ADDRESS="0",
        PERSISTENCE="0",
        FILESYSTEM_ROOT=str(filesystem_root),
        SKIP_SSL_CERT_DOWNLOAD="1",
        DISABLE_EVENTS="1",  # no analytics calls to the internet
    )
    return env


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def start(
    state_dir: Path,
    port: int | None = None,
    *,
    venv_dir: Path = VENV_DIR,
    timeout: float = START_TIMEOUT_S,
) -> LocalStackHandle:
    """Start LocalStack on ``port`` (a free loopback port when ``None``) and return once its S3 is available.

    It runs in its own process group (``start_new_session``): a terminal's Ctrl-C does not reach it, and
    :func:`stop` can signal it and its children at once. Its log and filesystem root live under ``state_dir``.
    """
    python = venv_python(venv_dir)
    if python is None:
        raise LocalStackUnavailable(unavailable_reason(venv_dir) or f"LocalStack's venv {venv_dir} is not usable")
    chosen = port or free_port()
    if health(f"http://{HOST}:{chosen}", timeout=0.5) is not None:
        raise EmulatorError(f"a LocalStack already answers on {HOST}:{chosen}; choose another port")
    state_dir.mkdir(parents=True, exist_ok=True)
    filesystem_root = state_dir / "localstack-fs"
    filesystem_root.mkdir(exist_ok=True)
    log_path = state_dir / LOGFILE
    started_at = time.monotonic()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(python), "-m", _ENTRY_MODULE],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_environment(chosen, filesystem_root),
            cwd=state_dir,
            start_new_session=True,
        )
    handle = LocalStackHandle(
        pid=process.pid,
        host=HOST,
        port=chosen,
        log_file=log_path,
        filesystem_root=filesystem_root,
        create_time=psutil.Process(process.pid).create_time(),
        healthy_after_s=0.0,
    )
    _STARTED[process.pid] = process
    deadline = started_at + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _STARTED.pop(process.pid, None)
            raise EmulatorError(
                f"LocalStack exited with code {process.returncode} during start-up; see {log_path}:\n{_tail(log_path)}"
            )
        if is_healthy(handle.endpoint_url, timeout=1.0):
            return replace(handle, healthy_after_s=time.monotonic() - started_at)
        time.sleep(0.2)
    stop(handle)
    raise EmulatorError(
        f"LocalStack did not report s3 available within {timeout:.0f}s on {handle.endpoint_url}; see {log_path}:\n"
        f"{_tail(log_path)}"
    )


def _is_ours(process: psutil.Process, handle: LocalStackHandle) -> bool:
    """True when ``process`` is still the LocalStack of ``handle`` (not a later process that reused its PID)."""
    try:
        return _ENTRY_MODULE in command_line(process) and abs(process.create_time() - handle.create_time) < 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False


def stop(handle: LocalStackHandle, grace: float = STOP_GRACE_S) -> None:
    """Stop exactly that LocalStack and everything it started: TERM, then KILL whatever is left after ``grace``.

    Its Kinesis emulator (node) runs in a session of its own, so the process group alone would miss it when
    LocalStack has to be killed: the whole process tree is collected before any signal. A gone process is fine.
    """
    try:
        _stop(handle, grace)
    finally:
        started = _STARTED.pop(handle.pid, None)
        if started is not None and started.poll() is None:
            started.wait(timeout=grace)


def _terminate_outside_group(family: list[psutil.Process], group: int) -> None:
    """TERM the processes of ``family`` that the group's signal missed: its Kinesis emulator (node) leads a session
    of its own and outlives LocalStack's exit, so without this every stop after a Kinesis call waited the whole
    grace and then killed it."""
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            if os.getpgid(process.pid) != group:
                process.terminate()


def _stop(handle: LocalStackHandle, grace: float) -> None:
    try:
        leader = psutil.Process(handle.pid)
    except psutil.NoSuchProcess:
        return
    if not _is_ours(leader, handle):
        return
    family = [leader, *leader.children(recursive=True)]
    try:
        os.killpg(handle.pid, signal.SIGTERM)
    except ProcessLookupError:
        leader.terminate()
    _terminate_outside_group(family, handle.pid)
    alive = wait_all_exited(family, grace)
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(handle.pid, signal.SIGKILL)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        still = wait_all_exited(alive, grace)
        if still:
            described = ", ".join(str(p.pid) for p in still)
            raise EmulatorError(f"LocalStack pid {handle.pid}: processes {described} survived SIGKILL")


def main(argv: list[str] | None = None) -> None:
    """``python -m mlops.local.localstack [--state-dir DIR] [--port N]``: run LocalStack until Ctrl-C.

    For trying the kit against it by hand; tests use :func:`start`/:func:`stop` directly.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlops.local.localstack", description=main.__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".mlops/localstack"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        handle = start(args.state_dir, args.port)
    except EmulatorError as exc:
        raise SystemExit(str(exc)) from exc
    print(f"LocalStack pid {handle.pid} at {handle.endpoint_url} (healthy in {handle.healthy_after_s:.1f}s)")
    print(f"log: {handle.log_file}; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop(handle)


if __name__ == "__main__":
    main()
