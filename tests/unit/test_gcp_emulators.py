"""The Google emulators' lifecycle (mlops/local/gcp_emulators.py): recorded, found, stopped by PID, never a PID
reused by another program; tied to the caller, gone when the caller is killed. Uses the GCS emulator alone (a Go
binary from the ``gcp`` extra: starts in well under a second, no Java)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlops.local import gcp_emulators
from mlops.local.gcp_emulators import EmulatorProcess, GcpEmulators

pytestmark = pytest.mark.server


@pytest.fixture(autouse=True)
def _gcs_emulator_installed() -> None:
    reason = gcp_emulators.unavailable_reason(("gcs",))
    if reason is not None:
        pytest.skip(reason)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_started_emulators_are_recorded_answer_and_stop_by_pid(tmp_path: Path) -> None:
    started = gcp_emulators.start(tmp_path, names=("gcs",))
    server, front = started.processes  # fake-gcs-server and its XML front (what clients are given)
    assert gcp_emulators.read_state(tmp_path) == started
    assert gcp_emulators.running(tmp_path) == started
    assert started.hosts() == {"gcs-server": f"127.0.0.1:{server.port}", "gcs": f"127.0.0.1:{front.port}"}
    assert gcp_emulators.stop(tmp_path) == ["gcs-server", "gcs"]
    assert _gone(server.pid) and _gone(front.pid)
    assert gcp_emulators.read_state(tmp_path) is None
    assert gcp_emulators.stop(tmp_path) == []  # nothing recorded: nothing to stop


def test_a_pid_now_run_by_another_process_is_never_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # recorded with another start time: the PID was reused by a program the kit did not start
        reused = EmulatorProcess("gcs", other.pid, 1, psutil.Process(other.pid).create_time() - 100, "gcs.log")
        gcp_emulators.write_state(tmp_path, GcpEmulators("mlops-local", (reused,)))
        assert gcp_emulators.running(tmp_path) is None
        assert gcp_emulators.stop(tmp_path) == []
        assert other.poll() is None  # still running
    finally:
        other.kill()
        other.wait()


def test_an_unreadable_state_file_records_nothing(tmp_path: Path) -> None:
    (tmp_path / gcp_emulators.STATE_FILE).write_text(json.dumps({"project": "p", "processes": [{"pid": "x"}]}))
    assert gcp_emulators.read_state(tmp_path) is None
    assert gcp_emulators.running(tmp_path) is None


def test_emulators_tied_to_the_caller_die_with_it_even_by_sigkill(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from mlops.local import gcp_emulators\n"
        "started = gcp_emulators.start(Path(sys.argv[1]), names=('gcs',), tied_to_caller=True)\n"
        "print(started.processes[0].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout is not None
        supervisor = int(caller.stdout.readline())
        emulator = psutil.Process(supervisor).children()[0].pid
        caller.send_signal(signal.SIGKILL)
        caller.wait()
        assert _gone(supervisor) and _gone(emulator)
    finally:
        caller.kill()
        caller.wait()
