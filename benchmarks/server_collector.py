"""Benchmark: the warm Spark Connect server with the JVM's default collector (G1) vs the serial collector the kit
gives a heap of up to 2 GB (``spark_connect.collector_options``), side by side in one run, alternating.

    .venv/bin/python -m benchmarks.server_collector [--repeat 2] [--jobs 6] [--rows 30000]

Each run starts a server (1 GB heap, the Spark class archive mapped as ``mlops local up`` does), then runs
``--jobs`` sessions one after the other, each a job's kind of work on ``--rows`` rows (an Arrow frame, rolling
windows per key, an aggregate), and stops it. Printed: the start until it listens, the first job and the later
ones, in wall seconds and the machine's CPU seconds (``/proc/stat``: the collector's threads count); run it on a
quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.jvm_archive import machine_cpu
from mlops.local import spark_connect
from mlops.local.jvm_archive_workload import frame_table

Figure = tuple[float, float]  # wall s, machine CPU s


def measured(action: Callable[[], object]) -> Figure:
    cpu, wall = machine_cpu(), time.monotonic()
    action()
    return time.monotonic() - wall, machine_cpu() - cpu


def one_job(remote_url: str, token: str, rows: int) -> None:
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    session = SparkSession.builder.remote(f"{remote_url}/;token={token}").create()
    try:
        per_key = Window.partitionBy("key").orderBy("at")
        frame = session.createDataFrame(frame_table(rows))
        rolled = frame.withColumn("mean_50", F.avg("amount").over(per_key.rowsBetween(-50, 0))).withColumn(
            "count_1000", F.count("*").over(per_key.rowsBetween(-1000, 0))
        )
        rolled.groupBy("key").agg(F.sum("mean_50"), F.max("count_1000")).toArrow()
    finally:
        session.stop()


def run(serial: bool, jobs: int, rows: int) -> list[Figure]:
    """The start, then each job's figures, of one server with or without the serial collector."""
    chosen = spark_connect.collector_options
    spark_connect.collector_options = chosen if serial else (lambda _memory: [])  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-collector-") as state:
            directory = Path(state) / "spark"
            holder: list[spark_connect.SparkConnectState] = []
            figures = [measured(lambda: holder.append(spark_connect.up(directory, driver_memory="1g")[0]))]
            try:
                for _ in range(jobs):
                    figures.append(measured(lambda: one_job(holder[0].remote_url, holder[0].token, rows)))
            finally:
                spark_connect.down(directory)
            return figures
    finally:
        spark_connect.collector_options = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="servers of each kind, alternating (default 2)")
    parser.add_argument("--jobs", type=int, default=6, help="jobs per server (default 6)")
    parser.add_argument("--rows", type=int, default=30_000, help="rows per job (default 30,000)")
    options = parser.parse_args()
    results: dict[bool, list[list[Figure]]] = {False: [], True: []}
    for _ in range(options.repeat):
        for serial in (False, True):
            results[serial].append(run(serial, options.jobs, options.rows))
    print(f"{'warm server, 1 GB heap':<36} {'G1 (default)':>22} {'serial':>22} {'CPU ratio':>10}")
    for name, pick in (
        ("start, until it listens", lambda runs: runs[0]),
        ("first job", lambda runs: runs[1]),
        (f"each later job ({options.jobs - 1})", lambda runs: mean(runs[2:])),
    ):
        base, kit = (median([pick(r) for r in results[s]]) for s in (False, True))
        print(f"{name:<36} {cell(base):>22} {cell(kit):>22} {base[1] / kit[1]:>9.2f}x")
    print(
        f"(medians of {options.repeat} servers each, {options.rows:,} rows per job; {time.strftime('%Y-%m-%d %H:%M')})"
    )


def mean(figures: list[Figure]) -> Figure:
    return statistics.fmean(f[0] for f in figures), statistics.fmean(f[1] for f in figures)


def median(figures: list[Figure]) -> Figure:
    return statistics.median(f[0] for f in figures), statistics.median(f[1] for f in figures)


def cell(figure: Figure) -> str:
    return f"{figure[0]:.1f} s / {figure[1]:.1f} CPU-s"


if __name__ == "__main__":
    main()
