"""A cold local job run's JVM (the job starts its own when no warm Spark server runs) is compiled by the quick
compiler only and collects with the serial collector: on a short job the default tiered compiler's optimising tier
and parallel GC threads cost ~45% more CPU (benchmarks/local_jobs.py, cold column: curate on 30,000 rows 19.6 ->
10.8 CPU-s). Its temporary files stay in the run's directory."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mlops.local.job_process import COLD_JVM_OPTIONS, jvm_scratch_env


def test_the_cold_runs_jvm_gets_the_quick_compiler_the_serial_collector_and_its_scratch_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no Spark class archive
    env = jvm_scratch_env(tmp_path)
    submit = shlex.split(env["PYSPARK_SUBMIT_ARGS"])
    assert submit[0] == "--driver-java-options" and submit[-1] == "pyspark-shell"
    options = submit[1].split()
    assert options == [f"-Djava.io.tmpdir={tmp_path / 'jvm-tmp'}", *COLD_JVM_OPTIONS]
    assert set(COLD_JVM_OPTIONS) == {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}
    assert env["SPARK_LOCAL_DIRS"] == str(tmp_path / "jvm-tmp")
