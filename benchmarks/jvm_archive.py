"""Benchmark: a local Spark JVM's start without vs with the Spark class archive (:mod:`mlops.local.jvm_archive`),
side by side in one run, alternating.

    .venv/bin/python -m benchmarks.jvm_archive [--repeat 2]

1. a cold job run's JVM (the kit's cold options: quick compiler, serial collector): a classic session that counts
   ten rows, in a process of its own started as the local Glue runner starts a job's;
2. the warm Spark Connect server of ``mlops local up``: from its start until it listens, then stopped.

Figures are wall seconds and the machine's CPU seconds over the same span (``/proc/stat``, every core: the JVM's
compiler and collector threads count), so run it on a quiet machine. The archive is made first if there is none
(printed: the one-off cost).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from mlops.local import jvm_archive, spark_connect
from mlops.local.job_process import job_environment, jvm_scratch_env

COUNT = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
assert spark.range(10).count() == 10
spark.stop()
"""


def machine_cpu() -> float:
    """CPU seconds every core has spent busy since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / 100


def measured(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and machine CPU seconds of ``action``."""
    cpu, wall = machine_cpu(), time.monotonic()
    action()
    return time.monotonic() - wall, machine_cpu() - cpu


def cold_start(archive: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as home:
        env = {**job_environment({}, master="local[2]"), "HOME": home}
        env.update(jvm_scratch_env(Path(home), class_archive=archive))
        subprocess.run([sys.executable, "-c", COUNT], env=env, check=True, capture_output=True, timeout=600)


def server_start(archive: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-server-") as state:
        directory = Path(state) / "spark"
        try:
            spark_connect.up(directory, driver_memory="1g", cores=2, class_archive=archive)
        finally:
            spark_connect.down(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind, alternating (default 2)")
    repeat = parser.parse_args().repeat
    outcome = jvm_archive.ensure(spark_connect.spark_home(), spark_connect.inherited_env())
    if outcome.path is None:
        raise SystemExit(f"no Spark class archive could be made: {outcome.detail}")
    made = f"made now in {outcome.seconds:.0f} s" if outcome.made else "made earlier"
    print(f"archive: {outcome.path} ({outcome.path.stat().st_size / 1e6:.0f} MB, {made})")
    print(f"{'start':<44} {'no archive':>22} {'archive':>22} {'CPU ratio':>10}")
    for name, start in (("cold job JVM (classic session, one count)", cold_start), ("warm server JVM", server_start)):
        figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(repeat):
            for archive in (False, True):
                figures[archive].append(measured(partial(start, archive)))
        base, kit = (_median(figures[a]) for a in (False, True))
        print(f"{name:<44} {_cell(base):>22} {_cell(kit):>22} {base[1] / kit[1]:>9.2f}x")
    print(f"(medians of {repeat} runs each; wall s / machine CPU s; {time.strftime('%Y-%m-%d %H:%M')})")


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _cell(figure: tuple[float, float]) -> str:
    return f"{figure[0]:.1f} s / {figure[1]:.1f} CPU-s"


if __name__ == "__main__":
    main()
