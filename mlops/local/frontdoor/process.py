"""Starting, recognising and stopping the front door process (``mlops local up``/``down`` do it with moto)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from mlops.errors import EmulatorError
from mlops.local.processes import command_line, terminate

MODULE = "mlops.local.frontdoor"
LOGFILE = "frontdoor.log"
START_TIMEOUT_S = 30.0


def healthy(url: str, timeout: float = 1.0) -> bool:
    import httpx  # on first use: `mlops predict` reaches this module through the emulator's and needs no httpx

    from mlops.local import loopback

    try:
        return loopback.get(url + "/_mlops/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def is_ours(pid: int | None, port: int | None) -> bool:
    """``pid`` is alive and is a front door started on ``port`` (guards against PID reuse)."""
    if not pid or not port:
        return False
    try:
        cmdline = command_line(psutil.Process(pid))
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return MODULE in cmdline and str(port) in cmdline


def start(emulator_dir: Path, host: str, port: int, moto_url: str, endpoints_dir: Path) -> int:
    """Start the front door on ``host:port`` in front of ``moto_url``; returns its pid once it answers."""
    return wait_until_healthy(launch(emulator_dir, host, port, moto_url, endpoints_dir), emulator_dir, host, port)


def launch(emulator_dir: Path, host: str, port: int, moto_url: str, endpoints_dir: Path) -> subprocess.Popen[bytes]:
    """Start the front door process without waiting for it: it calls moto only for the requests it serves, so it
    may start beside moto (:func:`wait_until_healthy` then waits for it)."""
    emulator_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--moto-url",
        moto_url,
        "--endpoints-dir",
        str(endpoints_dir),
    ]
    with (emulator_dir / LOGFILE).open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # stopped by `mlops local down`, not by the terminal's Ctrl-C
        )


def wait_until_healthy(process: subprocess.Popen[bytes], emulator_dir: Path, host: str, port: int) -> int:
    """The pid of the launched front door once it answers; stopped, and an error naming its log, if it does not."""
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"the front door exited with code {process.returncode} during start-up; see {emulator_dir / LOGFILE}"
            )
        if healthy(url, timeout=0.5):
            return process.pid
        time.sleep(0.1)
    terminate(process.pid)
    raise EmulatorError(f"the front door did not answer within {START_TIMEOUT_S:.0f}s; see {emulator_dir / LOGFILE}")


def stop(pid: int | None, port: int | None) -> None:
    """Stop the front door (it flushes metrics and capture on the way out) if the pid is still ours."""
    if pid and is_ours(pid, port):
        terminate(pid, timeout=20.0)
