"""Stopping the processes the local runtime started (emulator, serving processes), politely and then firmly;
running a job's process tree so that it never outlives its runner (:func:`start_watched`)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

STOP_TIMEOUT_S = 10.0


def terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``pid`` and wait; SIGKILL it if it has not exited within ``timeout``. A gone process is fine."""
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        wait_exited(process, timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        process.kill()
        wait_exited(process, timeout)


def wait_exited(process: psutil.Process, timeout: float) -> None:
    """Return once ``process`` has exited: reaped when it is this process's child, else gone or a zombie.

    A platform's servers outlive the command that started them, so their parent is init by the time they stop;
    a container's init reaps orphans only every second or two, and waiting for the pid to vanish cost ~1.6-2 s
    per stop (4 per `mlops local down`). A zombie holds no port, file or memory: it has stopped.
    psutil.TimeoutExpired after ``timeout``."""
    try:
        if process.ppid() == os.getpid():
            process.wait(timeout=timeout)
            return
    except psutil.NoSuchProcess:
        return
    deadline, delay = time.monotonic() + timeout, 0.001
    while not has_exited(process):
        if time.monotonic() >= deadline:
            raise psutil.TimeoutExpired(timeout, process.pid)
        time.sleep(delay)
        delay = min(delay * 2, 0.04)


def has_exited(process: psutil.Process) -> bool:
    """Gone, or a zombie its parent has not reaped yet."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_all_exited(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """:func:`wait_exited` for each of ``processes`` within one ``timeout``; those still running after it."""
    deadline = time.monotonic() + timeout
    alive = []
    for process in processes:
        try:
            wait_exited(process, max(0.0, deadline - time.monotonic()))
        except psutil.TimeoutExpired:
            alive.append(process)
    return alive


# --- Child processes that must not outlive the command that started them ------------------------------------
#
# A job script (and the JVM or worker processes it starts) must stop when the runner that started it stops: a
# run the caller no longer waits for must not go on and commit. :func:`start_watched` runs the command under a
# small supervisor (this file run as a script): the command gets a process group of its own, and the supervisor
# kills that whole group when the command exits (leftover grandchildren), when it is asked to stop (SIGTERM,
# SIGINT, SIGHUP) and when the runner dies, even by SIGKILL (Linux: PR_SET_PDEATHSIG; elsewhere: it polls its
# parent's pid). The runner stops a run with :func:`stop_watched`.

_WATCH_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


def watched_command(command: list[str]) -> list[str]:
    """``command`` run under the supervisor, which watches this process (the caller) as its parent.

    ``-I``: the supervisor imports nothing from its folder or the environment's PYTHONPATH (the command does).
    """
    return [sys.executable, "-I", str(Path(__file__).resolve()), "--watch", str(os.getpid()), "--", *command]


def start_watched(command: list[str], **popen: Any) -> subprocess.Popen[str]:
    """Start ``command`` under the supervisor (see above), in a session of its own (Ctrl-C reaches the caller,
    who decides); ``popen`` are :class:`subprocess.Popen` arguments (pipes, env, cwd)."""
    return subprocess.Popen(watched_command(command), start_new_session=True, **popen)


def stop_watched(process: subprocess.Popen[str], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop a :func:`start_watched` process and everything the command started; SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


@dataclass(frozen=True)
class WatchedRun:
    """How a :func:`run_watched` command ended."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def run_watched(
    command: list[str], *, env: dict[str, str], timeout: float | None = None, cwd: str | None = None
) -> WatchedRun:
    """``subprocess.run`` with captured text output, under the supervisor: on ``timeout``, an interrupt or this
    process's death the command and everything it started are stopped (an entry point must not outlive
    ``mlops train run``). A command that cannot be found is an :class:`OSError`, as with ``subprocess.run``."""
    if shutil.which(command[0], path=env.get("PATH")) is None:
        raise FileNotFoundError(errno.ENOENT, "no such program", command[0])
    # Imported here: this file also runs as the supervisor script (``-I``), which imports nothing of the kit.
    from mlops.contracts import with_local_threads
    from mlops.local.warm_python import current

    env = with_local_threads(env)  # entry points fit and score models on cores the whole local stack shares
    warm = current()  # a runner's warm interpreter forks `python -m` entry points with their libraries imported
    done = warm.run(command, env=env, timeout=timeout, cwd=cwd) if warm is not None else None
    if done is not None:
        return WatchedRun(done.returncode, done.stdout, done.stderr, done.timed_out)
    process = start_watched(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_watched(process)
        stdout, stderr = process.communicate()
        return WatchedRun(process.returncode, stdout, stderr, timed_out=True)
    except BaseException:
        stop_watched(process)
        raise
    return WatchedRun(process.returncode, stdout, stderr, timed_out=False)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (no-op elsewhere: the poll covers it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _supervise(parent: int, command: list[str]) -> int:
    _die_with_parent()
    child = subprocess.Popen(command, process_group=0)

    def stop(signum: int, _frame: object) -> None:
        _kill_group(child.pid)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    if os.getppid() != parent:  # the parent died before the watch was set up
        stop(signal.SIGTERM, None)

    def poll_parent() -> None:
        while child.poll() is None:
            if os.getppid() != parent:
                stop(signal.SIGHUP, None)
            time.sleep(_WATCH_POLL_S)

    threading.Thread(target=poll_parent, daemon=True).start()
    code = child.wait()
    _kill_group(child.pid)  # whatever the command left running (a JVM, workers) goes with it
    return code if code >= 0 else 128 - code


@contextlib.contextmanager
def stop_after(timeout_s: float | None, stop: Callable[[], None]) -> Iterator[threading.Event]:
    """For the block: ``stop()`` runs once ``timeout_s`` seconds have passed (never without one); the event says
    whether it ran (a run's time limit)."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stop()

    timer = threading.Timer(timeout_s, expire) if timeout_s else None
    if timer:
        timer.start()
    try:
        yield expired
    finally:
        if timer:
            timer.cancel()


def command_line(process: psutil.Process, settle_s: float = 1.0) -> list[str]:
    """``process.cmdline()``, read again while it is empty for up to ``settle_s``: a process that has just been
    started shows an empty command line for a moment (the kernel closes the exec pipe its parent waits on before it
    sets the new program's arguments), and a check of "is this pid still our server" must not call it gone then.
    Raises what ``cmdline()`` raises."""
    deadline = time.monotonic() + settle_s
    while True:
        cmdline: list[str] = process.cmdline()
        if cmdline or time.monotonic() >= deadline:
            return cmdline
        time.sleep(0.01)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "--watch" or sys.argv[3] != "--":
        sys.exit("usage: processes.py --watch PARENT_PID -- COMMAND...")
    sys.exit(_supervise(int(sys.argv[2]), sys.argv[4:]))
