"""The jobs on the warm Spark Connect server of ``mlops local up``: the end-to-end checks of
``test_jobs_end_to_end`` again, on a dataset of this module, with the server running for the session's platform
(the local Glue runner then gives each run its own session there instead of a JVM of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlops.platform import Platform
from mlops.settings import LocalSparkSettings
from mlops.wiring import build_platform
from tests.integration.jobs import test_jobs_end_to_end as e2e
from tests.integration.jobs.conftest import warm_spark_server

pytestmark = [pytest.mark.emulator, pytest.mark.spark]

lake = e2e.lake  # the fixture: a dataset of this module, its Glue jobs declared on the session's emulator


@pytest.fixture(scope="module")
def platform(platform: Platform) -> Platform:
    """The session's platform with the warm server turned on (the suite turns it off for `mlops local up`)."""
    settings = platform.settings.model_copy(update={"local_spark": LocalSparkSettings(enabled=True)})
    return build_platform(settings, platform.outputs)


@pytest.fixture(scope="module", autouse=True)
def warm_spark(platform: Platform) -> Iterator[Any]:
    with warm_spark_server(platform.settings.state_dir) as state:
        yield state


def test_curate_and_build_features_on_the_server_match_the_cold_runs(lake: dict[str, Any], warm_spark: Any) -> None:
    e2e.test_curate_twice_then_build_features_from_a_recorded_version(lake)
    run, lines = e2e._run(lake, "build_features")
    assert run.state == "SUCCEEDED"
    assert f"spark: a session of the Spark Connect server at {warm_spark.remote_url}" in lines
    assert run.counts["rows_out"] == 40  # both curated versions' rows


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
    platform: Platform, warm_spark: Any
) -> None:
    from mlops.local import spark_connect, warm_cli

    directory = spark_connect.spark_dir(platform.settings.state_dir)
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
