"""The warm Spark Connect server's Python workers: forked by its warm interpreter, and run as Spark's own (cold)
when that interpreter is gone. A server of this module's own: the test stops its interpreter, which the other
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


def test_a_sessions_python_workers_fork_from_the_warm_interpreter_and_run_cold_without_it(
    own_server: tuple[Path, Any],
) -> None:
    from mlops.local import spark_connect, warm_cli

    state_dir, warm_spark = own_server
    directory = spark_connect.spark_dir(state_dir)
    record = warm_cli.read_record(directory)
    assert record is not None and warm_cli.is_ours(record)
    assert _daemon_parent(warm_spark) == record.pid  # forked by the warm interpreter, not started by the JVM

    warm_cli.down(directory)
    try:
        assert _daemon_parent(warm_spark) == warm_spark.pid  # none: the JVM's own child runs it, as Spark's would
    finally:
        spark_connect.up(directory)  # the running server's warm interpreter again
    record = warm_cli.read_record(directory)
    assert record is not None and warm_cli.is_ours(record)


def _daemon_of(session: Any) -> int:
    """The pid of the daemon that forked the worker of this session's next Python task."""
    import os

    import pyarrow as pa

    def daemon(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_pydict({"daemon": [os.getppid()] * batch.num_rows})

    return int(session.range(1).mapInArrow(daemon, "daemon long").collect()[0].daemon)


def _fail(batches: Iterator[Any]) -> Iterator[Any]:
    raise RuntimeError("this task fails: its worker is not kept for the next")
    yield from batches


def test_an_idle_daemon_is_stopped_and_its_session_runs_its_next_task_on_a_new_one(
    own_server: tuple[Path, Any],
) -> None:
    """Spark keeps a daemon per session until the server stops; the stand-in stops one that has no worker
    (mlops.local.spark_daemon.IdleWatch), and the JVM starts another when the session runs Python again.

    No worker in the JVM's pool, as when it has dropped a session's idle workers (a minute after its last task):
    the session's only task failed, and a failed task's worker is not kept."""
    import psutil
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    from mlops.local import spark_connect, warm_cli
    from mlops.local.spark_daemon import IdleWatch

    state_dir, warm_spark = own_server
    directory = spark_connect.spark_dir(state_dir)
    deadline = time.monotonic() + 60
    while not warm_cli.answers(directory):  # still importing (a test above restarted it): daemons would run cold
        assert time.monotonic() < deadline, "the warm interpreter does not answer"
        time.sleep(0.1)
    record = warm_cli.read_record(directory)
    assert record is not None
    forker = psutil.Process(record.pid)
    before = {child.pid for child in forker.children()}
    session = SparkSession.builder.remote(f"{warm_spark.remote_url}/;token={warm_spark.token}").create()
    try:
        with pytest.raises(PySparkException, match="this task fails"):
            session.range(1).mapInArrow(_fail, "id long").collect()
        (daemon,) = [child for child in forker.children() if child.pid not in before]
        watch = IdleWatch(daemon.pid, limit=0.1)
        deadline = time.monotonic() + 30
        while not watch.stopped and time.monotonic() < deadline:
            watch.check()
            time.sleep(0.05)
        assert watch.stopped
        daemon.wait(timeout=10)  # gone (not our child: psutil cannot give its status)
        assert _daemon_of(session) not in (daemon.pid, *before)
    finally:
        session.stop()
