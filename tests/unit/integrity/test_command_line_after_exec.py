"""A process that has just been started can show an empty command line for a moment: the kernel closes the exec
pipe its parent waits on (so ``Popen`` returns) before it sets the new program's arguments. The kit's "is this pid
still our server" checks read it then (``mlops local down`` right after ``up``): CI saw the Spark Connect server's
check call a live server gone and leave it running. They now read it again while it is empty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mlops.local import spark_connect
from mlops.local.processes import command_line


class _StartingProcess:
    """``cmdline()`` empty for the first reads, then the program's arguments (what /proc shows mid-exec)."""

    def __init__(self, empty_reads: int, argv: list[str]) -> None:
        self.reads, self._empty, self._argv = 0, empty_reads, argv

    def cmdline(self) -> list[str]:
        self.reads += 1
        return [] if self.reads <= self._empty else self._argv


def test_an_empty_command_line_is_read_again_until_it_shows() -> None:
    starting = _StartingProcess(3, ["java", "SparkConnectServer"])
    assert command_line(starting) == ["java", "SparkConnectServer"]  # type: ignore[arg-type]
    assert starting.reads == 4


def test_a_command_line_that_stays_empty_is_returned_empty_after_the_wait() -> None:
    never: Any = _StartingProcess(10**9, [])
    assert command_line(never, settle_s=0.05) == []


def test_a_server_checked_right_after_it_was_started_is_ours(tmp_path: Path) -> None:
    """Before the fix about 1 start in 150 read as gone on a quiet machine; 500 starts here."""
    argv = [sys.executable, "-c", "import time; time.sleep(60)", str(spark_connect.DRIVER_PROGRAM)]
    gone = 0
    for _ in range(500):
        server = subprocess.Popen([*argv, "spark.connect.grpc.binding.port=15004"], start_new_session=True)
        try:
            state = spark_connect.SparkConnectState(server.pid, "127.0.0.1", 15004, "t", "1g", 2, 0.0)
            gone += not spark_connect._is_our_server(state)
        finally:
            server.kill()
            server.wait()
    assert gone == 0
