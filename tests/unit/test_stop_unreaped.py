"""Stopping a process this one did not start returns once it has exited, not once its parent has reaped it: the
platform's servers are orphans by the time `mlops local down` stops them, and a container's init reaps orphans
only every second or two (~1.6-2 s per stop, four stops per `down`)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from mlops.local.processes import has_exited, terminate, wait_all_exited

# A parent that never reaps: the process it starts stays a zombie once it exits, for as long as this one lives.
NEGLIGENT_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _unreaped_child() -> tuple[subprocess.Popen[str], psutil.Process]:
    parent = subprocess.Popen([sys.executable, "-c", NEGLIGENT_PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    return parent, psutil.Process(int(parent.stdout.readline()))


def test_terminate_returns_when_the_process_exited_though_its_parent_never_reaps_it() -> None:
    parent, child = _unreaped_child()
    try:
        terminate(child.pid, timeout=3)  # waited for the pid to vanish: TimeoutExpired, after a SIGKILL
        assert has_exited(child) and child.status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        parent.wait(timeout=10)


def test_waiting_for_several_reports_only_those_still_running() -> None:
    parent, child = _unreaped_child()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        child.terminate()
        still = wait_all_exited([child, psutil.Process(running.pid)], timeout=1)
        assert [p.pid for p in still] == [running.pid]
    finally:
        for process in (parent, running):
            process.kill()
            process.wait(timeout=10)
