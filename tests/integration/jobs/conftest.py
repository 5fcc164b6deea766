"""The jobs tests' Spark: the warm Spark Connect server `mlops local up` starts, one per test worker for the
session's platform (its job runs open their own sessions there, as a user's do; the tests' own Spark work runs in
a session of it too), stopped by PID at the end; the kit's job scripts declared as Glue jobs for a test's own
dataset. The classic engine (a job's own JVM, as on Glue) is run by ``test_cold_spark``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from mlops.platform import Platform

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def warm_spark(emulator_state_dir: Path) -> Iterator[Any]:
    """The warm server for the session's platform (``spark_dir`` of its state dir), started once per worker."""
    with warm_spark_server(emulator_state_dir) as state:
        yield state


@pytest.fixture(scope="session")
def warm_platform(platform: Platform, warm_spark: Any) -> Platform:
    """The session's platform with the warm server turned on: its local Glue runner runs each job in a session of
    the server instead of a JVM of its own (the session's ``platform`` keeps it off)."""
    from mlops.settings import LocalSparkSettings
    from mlops.wiring import build_platform

    settings = platform.settings.model_copy(update={"local_spark": LocalSparkSettings(enabled=True)})
    return build_platform(settings, platform.outputs)


@pytest.fixture(scope="module")
def spark(warm_spark: Any, emulator_state_dir: Path) -> Iterator[SparkSession]:
    """A Spark Connect session of the warm server (UTC, few shuffle partitions), released after the module: a
    session left active in the test process is found by MLflow (``start_run`` asks the active Spark session whether
    it runs on Databricks), in whatever test comes next. The token travels in the URL: a local channel to
    ``localhost`` carries it without TLS."""
    from pyspark.sql import SparkSession

    from mlops.local import spark_connect

    running = spark_connect.running_state(spark_connect.spark_dir(emulator_state_dir))
    if running is None or running.pid != warm_spark.pid:  # else pyspark retries for ten minutes, then fails
        pytest.fail(
            f"the session's warm Spark server (pid {warm_spark.pid}) no longer runs: a test's `mlops local up` "
            "with the server off stops it (tests/support/session_cli.py)"
        )
    session = SparkSession.builder.remote(f"{warm_spark.remote_url}/;token={warm_spark.token}").create()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    try:
        yield session
    finally:
        session.stop()


@contextmanager
def warm_spark_server(state_dir: Path) -> Iterator[Any]:
    """The Spark Connect server ``mlops local up`` starts, for the platform under ``state_dir``, stopped by PID
    at the end: while it runs, the local Glue runner of that platform runs its jobs on it."""
    from mlops.local import spark_connect

    directory = spark_connect.spark_dir(state_dir)
    state, _ = spark_connect.up(directory, driver_memory="1g", cores=2)
    try:
        yield state
    finally:
        spark_connect.down(directory)


def declare_glue_jobs(platform: Any, name: str, datasets_dir: Path) -> Any:
    """The kit's job scripts declared as Glue jobs for dataset ``name`` (as the infra program would), and a
    platform whose job runner knows them (the local Glue runner on the emulator)."""
    from mlops.local.clients import clients_of
    from mlops.wiring import build_platform

    out = platform.outputs
    glue = clients_of(platform).client("glue")  # declaring jobs is the infra program's part: no port for it
    jobs = {}
    for key in ("curate", "build_features"):
        script_key = f"tests/{name}/{key}.py"
        platform.services.object_store.put(out.artifacts_bucket, script_key, (REPO / "jobs" / f"{key}.py").read_bytes())
        jobs[key] = f"{name}-{key}"
        glue.create_job(
            Name=jobs[key],
            Role=out.glue_role_arn,
            Command={"Name": "glueetl", "ScriptLocation": platform.layout.uri(out.artifacts_bucket, script_key)},
            DefaultArguments={
                "--dataset": name,
                "--curated_bucket": out.curated_bucket,
                "--features_bucket": out.features_bucket,
                "--glue_database": out.glue_database,
                "--datasets_dir": str(datasets_dir),
            },
            WorkerType="G.1X",
            NumberOfWorkers=2,
            Timeout=10,
        )
    return build_platform(platform.settings, out.model_copy(update={"glue_jobs": {**out.glue_jobs, **jobs}}))
