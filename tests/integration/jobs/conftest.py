"""One local SparkSession for the jobs tests (local[2], few shuffle partitions, no UI), stopped at the end; the
kit's job scripts declared as Glue jobs for a test's own dataset."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("mlops-kit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    gateway = session.sparkContext._gateway
    assert gateway is not None
    try:
        yield session
    finally:
        session.stop()
        # stop() leaves the JVM that launch_gateway started running; end exactly that process.
        jvm = getattr(gateway, "proc", None)
        gateway.shutdown()
        if jvm is not None:
            jvm.terminate()
            jvm.wait(timeout=30)


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
