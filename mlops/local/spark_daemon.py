"""The Python worker daemon of the local Spark Connect server (``spark.python.daemon.module``), forked warm.

Why: the JVM starts ``python -m <daemon module>`` for its Python workers (once, and again whenever the daemon has
gone), and each worker the daemon forks imports pyarrow, pandas and the job's code before its first task (measured
when each session had a daemon of its own: a session's first ``mapInArrow`` 1.2-1.7 s, importing pandas and the
kit in it another 0.7 s). Here the JVM starts this module instead; it asks the server's warm
interpreter (a :mod:`mlops.local.warm_cli` server for the Spark dir, started with the JVM by
:func:`mlops.local.spark_connect.up`; it has imported :data:`PRELOAD` once) to fork the daemon
(:data:`DAEMON_MODULE`: ``pyspark.daemon`` whose workers run each task on the kit's modules as they are on disk)
with this process's standard streams, arguments, environment and working directory, and stands in for it: the JVM's
SIGTERM (how it stops a daemon) is passed on, and this process exits with the daemon's status. The JVM talks to
the daemon as to its own: the daemon writes its port to the handed-over stdout and reads the workers to kill from
the handed-over stdin (at EOF, the JVM gone, it stops). If this process is killed, the warm server kills the
daemon's process group (its workers). A daemon that has had no worker for ``local_spark.idle_daemon_seconds``
is stopped (:class:`IdleWatch`).

Not warm (this process runs the daemon itself, as Spark would): no warm server answers (not started,
still importing, stopped), or it says cold (another interpreter, an environment the libraries were not imported
with).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

# Set in the Spark Connect server's environment (the JVM passes it on to this process): the Spark dir whose warm
# server forks the daemon.
WARM_DIR_ENV = "MLOPS_SPARK_WARM_DIR"
# How long a session's daemon may have no worker before its stand-in stops it (local_spark.idle_daemon_seconds).
IDLE_ENV = "MLOPS_SPARK_DAEMON_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 120.0
_MIN_IDLE_SECONDS = 0.1
_POLL_SECONDS = 5.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# pyspark.daemon, its workers' tasks run on the kit's modules as they are on disk (mlops.local.spark_worker_daemon)
DAEMON_MODULE = "mlops.local.spark_worker_daemon"
# What a worker imports before its first task (the Arrow and pandas UDF machinery, the libraries the jobs' executor
# code uses); third-party only: the kit's code is imported by each worker as it is on disk.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "pyarrow.fs",
    "pyspark.daemon",
    "pyspark.worker",
    "pyspark.sql.pandas.serializers",
    "pyspark.sql.pandas.types",
    "pyspark.cloudpickle",
)


def main() -> int:
    """Run the daemon forked by the warm server, or here when it cannot."""
    directory = os.environ.get(WARM_DIR_ENV)
    served = _warm(Path(directory)) if directory else None
    return served if served is not None else _cold()


def _warm(spark_dir: Path) -> int | None:
    from mlops.local.warm_python import _hand_over, _module_request

    request = _module_request([sys.executable, "-m", DAEMON_MODULE, *sys.argv[1:]], os.environ, os.getcwd())
    assert request is not None  # a `python -m` command by construction
    streams = [sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer]
    handed = _hand_over(spark_dir, request, streams)
    if handed is None:
        return None
    connection, pid = handed
    with connection:
        return _stand_in(connection, pid, sys.stdin.buffer)


def _stand_in(connection: socket.socket, pid: int, jvm: BinaryIO) -> int:
    """Pass the JVM's stop signals on to the daemon until the warm server reports its status; stop an idle
    daemon (:class:`IdleWatch`). A daemon that ended without the JVM asking (idle, or the warm server stopped)
    leaves this process reading ``jvm`` (its standard input) until the JVM stops it or goes."""
    import json

    asked: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        asked.append(signum)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, forward)
    watch = IdleWatch(pid, idle_limit(os.environ))
    connection.settimeout(min(_POLL_SECONDS, watch.limit))
    while True:
        try:
            data = connection.recv(1 << 16)
            break
        except TimeoutError:
            watch.check()
    if data:
        raw = int(json.loads(data)["code"])
        code = raw if raw >= 0 else 128 - raw
    else:
        code = 1  # the warm server stopped: it killed the daemon's group
    if not asked:
        _outlive_the_daemon(jvm)
    return code


class _Stopped(Exception):
    """The JVM stopped the stand-in of a daemon that had already ended."""


def _outlive_the_daemon(jvm: BinaryIO) -> None:
    """Stay until the JVM stops this process or closes its standard input, taking what it writes there.

    Why: the JVM keeps its idle workers of this daemon. When its next task finds them dead it asks the daemon, on
    this process's standard input, to stop them: had this process exited, that write fails and fails the task
    (Spark's PythonWorkerFactory.stopWorker: "Stream closed"). The workers' pids are only taken: the daemon that
    forked them is gone, and they with it. The JVM then finds no daemon at its port, stops this process and starts
    another daemon."""

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    for signum in _STOP_SIGNALS:
        signal.signal(signum, stop)
    with contextlib.suppress(_Stopped, OSError):  # OSError: the pipe broke, the JVM is gone
        while jvm.read(4):  # a worker's pid per write: 4 bytes
            pass


def idle_limit(env: Mapping[str, str]) -> float:
    """How long a daemon may have no worker before it is stopped (:data:`IDLE_ENV`, else the default)."""
    value = env.get(IDLE_ENV, "")
    try:
        return max(float(value), _MIN_IDLE_SECONDS) if value else DEFAULT_IDLE_SECONDS
    except ValueError:
        return DEFAULT_IDLE_SECONDS


class IdleWatch:
    """Stops a daemon once it has had no worker for ``limit`` seconds.

    Why: Spark keeps a daemon until the server stops (SPARK-54055), and with session isolation it keys its daemons
    by the session's artifact id (``SPARK_JOB_ARTIFACT_UUID``): a server with isolation would keep a daemon and its
    stand-in (~26 MB and two processes) per job run. The kit's server runs without it (one daemon), but a daemon
    without workers serves no task either way: the JVM stops idle workers a minute after their last task, and should
    Python run again, the JVM finds the daemon gone and starts another (a warm fork: ~0.2 s more on that task).
    """

    def __init__(self, pid: int, limit: float) -> None:
        self.pid, self.limit = pid, limit
        self._idle_since: float | None = None
        self.stopped = False

    def check(self) -> None:
        """One look at the daemon's workers (call every few seconds); SIGTERM it when idle long enough."""
        if self.stopped:
            return
        now = time.monotonic()
        if _has_workers(self.pid):
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self.limit:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGTERM)  # pyspark.daemon's own shutdown: it stops its process group
            self.stopped = True


def _has_workers(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).children())
    except psutil.Error:  # gone: its status is on the way
        return False


def _cold() -> int:
    from mlops.local.warm_python import run_module

    sys.argv = [DAEMON_MODULE, *sys.argv[1:]]
    return run_module(DAEMON_MODULE)


if __name__ == "__main__":
    sys.exit(main())
