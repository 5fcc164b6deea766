"""Stopping the processes the local runtime started (emulator, serving processes), politely and then firmly."""

from __future__ import annotations

import signal

import psutil

STOP_TIMEOUT_S = 10.0


def terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``pid`` and wait; SIGKILL it if it has not exited within ``timeout``. A gone process is fine."""
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
