"""The JVMs the local job runners start keep their temporary files where the kit cleans them up, and map the Spark
class archive (:mod:`mlops.local.jvm_archive`: made here unless the set-up made it).

A JVM deletes its ``java.io.tmpdir`` files (Spark's ``artifacts-*``, ``spark-*``) only when it exits normally; the
runners kill a job's process group on its time limit or an interrupt, and the warm server is stopped by PID. Before,
every such JVM left its directories in the machine's /tmp (150 of them after a day of test runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest

from mlops.local import jvm_archive, spark_connect
from mlops.local.job_process import job_environment, run_script

pytestmark = pytest.mark.spark

PROBE = """
import json, os
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
jvm = spark.sparkContext._jvm
with open(f"/proc/{jvm.java.lang.ProcessHandle.current().pid()}/maps") as maps:
    archives = sorted({line.split()[-1] for line in maps if line.rstrip().endswith(".jsa")})
seen = {"tmpdir": jvm.java.lang.System.getProperty("java.io.tmpdir"), "local_dirs": os.environ["SPARK_LOCAL_DIRS"]}
print(json.dumps({**seen, "archives": archives}))
spark.stop()
"""


@pytest.fixture(scope="module")
def archive() -> Path:
    """The Spark class archive of this installation (made now, a minute, unless the set-up made it)."""
    outcome = jvm_archive.ensure(spark_connect.spark_home(), spark_connect.inherited_env())
    assert outcome.path is not None, outcome.detail
    return outcome.path


def _mapped(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1] for line in maps if line.rstrip().endswith(".jsa")}


def test_a_job_runs_jvm_keeps_its_temporary_files_in_the_runs_directory_and_maps_the_archive(
    tmp_path: Path, archive: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**job_environment({}, master="local[1]"), "HOME": str(run_dir)}
    lines: list[str] = []
    outcome = run_script([sys.executable, "-c", PROBE], env, 300, lines.append)
    assert outcome.exit_code == 0, lines[-20:]
    seen = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    assert str(archive) in seen.pop("archives"), "the cold JVM maps the Spark class archive"
    assert seen == {"tmpdir": str(run_dir / "jvm-tmp"), "local_dirs": str(run_dir / "jvm-tmp")}


def test_the_warm_servers_jvm_keeps_its_temporary_files_in_its_state_dir_and_maps_the_archive(
    tmp_path: Path, archive: Path
) -> None:
    directory = tmp_path / "spark"
    (directory / spark_connect.SCRATCH_DIR / "artifacts-left-by-a-killed-server").mkdir(parents=True)
    state, started = spark_connect.up(directory, driver_memory="512m", cores=1)
    try:
        assert started
        scratch = directory / spark_connect.SCRATCH_DIR
        family = [psutil.Process(state.pid), *psutil.Process(state.pid).children(recursive=True)]
        java = [p for p in family if "java" in p.name()]
        assert java, [p.name() for p in family]
        assert f"-Djava.io.tmpdir={scratch}" in java[0].cmdline()
        assert not (scratch / "artifacts-left-by-a-killed-server").exists()  # cleared before the start
        assert str(archive) in _mapped(java[0].pid), "the warm server's JVM maps the Spark class archive"
    finally:
        spark_connect.down(directory)
