"""The session-end check finds what a test leaves running even when it left the session's process tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from tests.support import leftovers

# A launcher that starts a detached sleeper in ``cwd`` and exits at once, as `mlops deploy` leaves a model server.
LAUNCHER = (
    "import subprocess, sys; "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True, "
    "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(p.pid)"
)


def test_a_detached_server_in_the_sessions_directories_is_found_though_not_a_child(tmp_path: Path) -> None:
    work = tmp_path / "state" / "endpoints"
    work.mkdir(parents=True)
    launched = subprocess.run([sys.executable, "-c", LAUNCHER], cwd=work, capture_output=True, text=True, check=True)
    orphan = psutil.Process(int(launched.stdout))
    try:
        assert orphan.pid not in {p.pid for p in leftovers.children()}  # what the old check saw
        assert orphan.pid in {p.pid for p in leftovers.working_under(tmp_path)}
        assert orphan.pid not in {p.pid for p in leftovers.working_under(tmp_path / "elsewhere")}
        assert str(orphan.pid) in leftovers.describe([orphan])
    finally:
        orphan.kill()
        orphan.wait(5)
    assert orphan.pid not in {p.pid for p in leftovers.working_under(tmp_path)}
