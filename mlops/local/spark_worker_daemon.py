"""``pyspark.daemon``, with each task of its workers run on the kit's modules as they are on disk.

The local Spark Connect server's Python worker daemon (started through :mod:`mlops.local.spark_daemon`, warm or
cold) runs this module: in each worker it forks, the worker module's ``main`` (one call per task) is wrapped with
:class:`~mlops.local.fresh_modules.FreshModules`, looking once the task's first bytes have come (a reused worker
calls ``main`` as soon as its last task ended, then waits in it); then the daemon runs as Spark would.
"""

from __future__ import annotations

import importlib
import socket
import sys
from typing import BinaryIO

from mlops.local.fresh_modules import FreshModules

_FRESH = "_mlops_fresh_modules"  # marks the worker module's main once wrapped


def _task_arrived(infile: BinaryIO, _outfile: BinaryIO) -> None:
    infile.peek(1)  # type: ignore[attr-defined]  # a buffered reader: blocks until the JVM sends the task


def _worker_module() -> str:
    """The module whose ``main`` serves a task: as ``pyspark.daemon.worker`` picks it (its first argument)."""
    return sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].startswith("pyspark") else "pyspark.worker"


def main() -> None:
    import pyspark.daemon

    fresh = FreshModules()
    serve = pyspark.daemon.worker

    def worker(sock: socket.socket, authenticated: bool) -> int:
        # In the forked worker, where pyspark.daemon imports the worker module (never in the daemon: its
        # libraries start threads, and a fork keeps none)
        module = importlib.import_module(_worker_module())
        task = module.main
        if not getattr(task, _FRESH, False):  # not __wrapped__: pyspark's own decorators set that
            wrapped = fresh.wrap(task, arrived=_task_arrived)
            setattr(wrapped, _FRESH, True)
            setattr(module, "main", wrapped)  # noqa: B010 (a module attribute)
        return int(serve(sock, authenticated))

    pyspark.daemon.worker = worker  # manager() calls the module-level `worker` in each worker it forks
    pyspark.daemon.manager()


if __name__ == "__main__":
    main()
