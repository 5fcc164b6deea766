"""Stopping LocalStack signals the processes that left its process group too: its Kinesis emulator (node) leads
a session of its own and does not exit with LocalStack, so a stop after any Kinesis call used to wait the whole
grace period and then kill it (11 s per stop measured; the test session's LocalStack teardown paid it)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from mlops.local import localstack
from mlops.local.processes import has_exited

CHILD = """
import signal, sys, time
from pathlib import Path
marker = Path(sys.argv[1])
def stopped(signum, frame):
    marker.write_text("TERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
marker.write_text("ready")
while True:
    time.sleep(1)
"""
# A stand-in for LocalStack (its command line names LocalStack's entry module) that starts a child in a session
# of its own, as LocalStack starts node.
LEADER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], start_new_session=True)
while True:
    time.sleep(1)
"""


def test_a_child_in_its_own_session_gets_sigterm_not_a_kill_after_the_grace(tmp_path: Path) -> None:
    marker = tmp_path / "child-state"
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER, CHILD, str(marker), "localstack.runtime.main"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text() == "ready") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "ready"
        child = psutil.Process(leader.pid).children()[0]
        handle = localstack.LocalStackHandle(
            pid=leader.pid,
            host="127.0.0.1",
            port=0,
            log_file=tmp_path / "localstack.log",
            filesystem_root=tmp_path,
            create_time=psutil.Process(leader.pid).create_time(),
            healthy_after_s=0.0,
        )
        localstack.stop(handle, grace=60)
        assert marker.read_text() == "TERM"  # it was asked to stop, not killed when the grace ran out
        assert has_exited(child)  # its parent (init, once the stand-in is gone) reaps it when it gets to it
    finally:
        leader.kill()
        leader.wait(timeout=10)
