"""The warm Spark Connect server's Python workers: forked by its warm interpreter, and run as Spark's own (cold)
when that interpreter is gone; reused across sessions on the kit's code as it is on disk; the query code one
session compiled reused by the next. A server of this module's own: a test stops its interpreter, which the other
jobs tests' shared server must keep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.jobs.conftest import warm_spark_server

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    state_dir = tmp_path_factory.mktemp("warm-workers")
    with warm_spark_server(state_dir) as state:
        yield state_dir, state


_PROBE = """
import os, sys
import pyarrow as pa
from pyspark.sql import SparkSession

def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

def lineage(batches):
    daemon = os.getppid()
    for batch in batches:
        rows = batch.num_rows
        yield pa.RecordBatch.from_pydict({"daemon": [daemon] * rows, "forker": [parent(daemon)] * rows})

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
row = spark.range(1).mapInArrow(lineage, "daemon long, forker long").collect()[0]
print(row.daemon, row.forker)
"""


def _daemon_parent(state: Any) -> int:
    """The pid of the process that started the daemon that forked a new session's Python worker (seen from the
    worker)."""
    import os
    import subprocess
    import sys

    from mlops.local import spark_connect

    env = {**os.environ, **spark_connect.client_env(state)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, state.remote_url], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.split()[-1])


def _daemon_of(session: Any) -> int:
    """The pid of the daemon that forked the worker of this session's next Python task."""
    import os

    import pyarrow as pa

    def daemon(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_pydict({"daemon": [os.getppid()] * batch.num_rows})

    return int(session.range(1).mapInArrow(daemon, "daemon long").collect()[0].daemon)


def test_an_idle_daemon_is_stopped_and_the_next_task_runs_on_a_new_one(own_server: tuple[Path, Any]) -> None:
    """Spark keeps its daemon until the server stops; the stand-in stops one that has no worker
    (mlops.local.spark_daemon.IdleWatch), and the JVM starts another when Python runs again.

    The JVM still holds its idle workers of the stopped daemon (here killed, as the daemon's end kills them): the
    next task asks the daemon, through its stand-in, to stop them, and must not fail for it ("Stream closed")."""
    import os
    import signal

    import psutil
    from pyspark.sql import SparkSession

    from mlops.local import spark_connect, warm_cli
    from mlops.local.spark_daemon import IdleWatch

    state_dir, warm_spark = own_server
    directory = spark_connect.spark_dir(state_dir)
    deadline = time.monotonic() + 60
    while not warm_cli.answers(directory):  # still importing (a test above restarted it): daemons would run cold
        assert time.monotonic() < deadline, "the warm interpreter does not answer"
        time.sleep(0.1)
    session = SparkSession.builder.remote(f"{warm_spark.remote_url}/;token={warm_spark.token}").create()
    try:
        daemon = psutil.Process(_daemon_of(session))
        for worker in daemon.children():
            os.kill(worker.pid, signal.SIGKILL)
        watch = IdleWatch(daemon.pid, limit=0.1)
        deadline = time.monotonic() + 30
        while not watch.stopped and time.monotonic() < deadline:
            watch.check()
            time.sleep(0.05)
        assert watch.stopped
        daemon.wait(timeout=10)
        assert _daemon_of(session) != daemon.pid  # before the fix: the task failed on the dead daemon's workers
    finally:
        session.stop()


def _compilations(directory: Path) -> int:
    """How many classes the server has compiled for query code so far (its log line per compilation)."""
    from mlops.local import spark_connect

    return (directory / spark_connect.LOGFILE).read_text(errors="replace").count("Code generated in")


def test_a_job_runs_session_reuses_the_query_code_an_earlier_session_compiled(own_server: tuple[Path, Any]) -> None:
    """Each session had a class loader of its own (artifact isolation) and Spark caches compiled code per class
    loader: each job run compiled every stage of its plan again (~0.5-0.8 s per run)."""
    from pyspark.sql import SparkSession

    from mlops.local import spark_connect

    state_dir, warm_spark = own_server
    directory = spark_connect.spark_dir(state_dir)
    counts = [_compilations(directory)]
    for _ in range(2):
        session = SparkSession.builder.remote(f"{warm_spark.remote_url}/;token={warm_spark.token}").create()
        try:
            rows = session.range(0, 1000).selectExpr("id % 7 AS k").groupBy("k").count().orderBy("k").collect()
        finally:
            session.stop()
        assert [row["count"] for row in rows] == [143, 143, 143, 143, 143, 143, 142]
        counts.append(_compilations(directory))
    assert counts[1] > counts[0]  # the first session compiled its plan
    assert counts[2] == counts[1]  # the second compiled nothing (before the fix: as many classes again)


def test_a_reused_worker_runs_the_next_sessions_task_on_a_kit_module_edited_in_between(
    own_server: tuple[Path, Any],
) -> None:
    """Workers outlive sessions (one daemon, reused workers); a kit module a task imported and that was edited
    since is imported again (mlops.local.fresh_modules), as on a fresh worker."""
    import os

    import pyarrow as pa
    from pyspark.sql import SparkSession

    from tests.integration.jobs.conftest import REPO

    _, warm_spark = own_server
    name = f"_fresh_probe_{os.getpid()}_{time.monotonic_ns()}"
    source = REPO / "pipelines" / f"{name}.py"
    module = f"pipelines.{name}"

    def value_and_worker(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import importlib
        import os

        value = importlib.import_module(module).VALUE
        for batch in batches:
            yield pa.RecordBatch.from_pydict({"value": [value] * batch.num_rows, "pid": [os.getpid()] * batch.num_rows})

    def run() -> tuple[set[int], set[int]]:
        """The module's value and the worker of each task (two: each of the server's workers gets one)."""
        session = SparkSession.builder.remote(f"{warm_spark.remote_url}/;token={warm_spark.token}").create()
        try:
            rows = session.range(0, 2, 1, 2).mapInArrow(value_and_worker, "value long, pid long").collect()
        finally:
            session.stop()
        return {int(row.value) for row in rows}, {int(row.pid) for row in rows}

    try:
        source.write_text("VALUE = 1\n")
        first, workers = run()
        source.write_text("VALUE = 2\n")
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later time, whatever the clock
        second, reused = run()
    finally:
        source.unlink(missing_ok=True)
        for cached in (source.parent / "__pycache__").glob(f"{name}.*.pyc"):  # when the workers write bytecode
            cached.unlink(missing_ok=True)
    assert (first, second) == ({1}, {2})  # before the fix: {1} again, the module as the workers first imported it
    assert reused <= workers  # the same workers served the second session


def _stop_the_workers(forker: int) -> None:
    """Stop the workers of the daemons ``forker`` forked, as the JVM does when it drops idle ones: each daemon
    reaps its own. (Workers whose daemon is killed with them are left to PID 1, and a container's PID 1 may never
    reap them: the JVM would take such a zombie for a live worker.)"""
    import os
    import signal

    import psutil

    workers = [worker for daemon in psutil.Process(forker).children() for worker in daemon.children()]
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
    psutil.wait_procs(workers, timeout=10)


# Last: the server runs its Python cold after it (the JVM keeps the daemon it started meanwhile).
def test_a_sessions_python_workers_fork_from_the_warm_interpreter_and_run_cold_without_it(
    own_server: tuple[Path, Any],
) -> None:
    from mlops.local import spark_connect, warm_cli

    state_dir, warm_spark = own_server
    directory = spark_connect.spark_dir(state_dir)
    record = warm_cli.read_record(directory)
    assert record is not None and warm_cli.is_ours(record)
    assert _daemon_parent(warm_spark) == record.pid  # forked by the warm interpreter, not started by the JVM

    _stop_the_workers(record.pid)
    warm_cli.down(directory)  # and with it the daemon; the JVM finds it gone at its next task
    try:
        assert _daemon_parent(warm_spark) == warm_spark.pid  # none: the JVM's own child runs it, as Spark's would
    finally:
        spark_connect.up(directory)  # the running server's warm interpreter again
    record = warm_cli.read_record(directory)
    assert record is not None and warm_cli.is_ours(record)
