"""Benchmark: a job run's Spark Connect session on the kit's server (no artifact isolation) vs the same server as
``SparkConnectServer``'s main class runs it (isolation forced on: a class loader, compiled code and Python workers
per session).

    .venv/bin/python benchmarks/spark_sessions.py [--sessions 6]

Both servers are started as ``mlops local up`` starts its own (same JVM options, class archive and warm Python
workers), each in a temporary Spark dir, and stopped by PID at the end. Then, alternating which goes first, each
round opens a NEW session on each server and runs the jobs' kinds of work on it (Arrow frames, ``mapInArrow`` in
Python workers, windows, aggregates, joins: :func:`mlops.local.jvm_archive_workload.exercise`), as every local job
run opens a session of its own. Printed: seconds per session, side by side, and the classes each server compiled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.local import spark_connect


def isolated_command(command: list[str]) -> list[str]:
    """The kit's server command as ``SparkConnectServer`` runs it: its main class, no plugin, isolation on."""
    dropped = {f"spark.plugins={spark_connect.CONNECT_PLUGIN}"} | {
        f"{key}={value}" for key, value in spark_connect.NO_ARTIFACT_ISOLATION.items()
    }
    kept: list[str] = []
    for word in command[1:-1]:
        if word in dropped:
            kept.pop()  # its --conf
            continue
        kept.append(word)
    return [command[0], "--class", spark_connect.SERVER_CLASS, *kept, "spark-internal"]


def start(directory: Path, isolated: bool) -> Any:
    """A server in ``directory``, started by the kit's ``up`` (its command made isolated when asked)."""
    original: Callable[..., list[str]] = spark_connect.server_command
    if isolated:
        spark_connect.server_command = lambda *a, **k: isolated_command(original(*a, **k))
    try:
        state, _ = spark_connect.up(directory)
    finally:
        spark_connect.server_command = original
    return state


def one_session(state: Any) -> float:
    """Seconds to open a session, run the jobs' kinds of work on it and release it."""
    from pyspark.sql import SparkSession

    from mlops.local.jvm_archive_workload import exercise

    started = time.perf_counter()
    session = SparkSession.builder.remote(f"sc://localhost:{state.port}/;token={state.token}").create()
    try:
        exercise(session)
    finally:
        session.stop()
    return time.perf_counter() - started


def compilations(directory: Path) -> int:
    return (directory / spark_connect.LOGFILE).read_text(errors="replace").count("Code generated in")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6, help="sessions per server (the first one warms up)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlops-bench-sessions-") as scratch:
        dirs = {"isolated (main class)": Path(scratch) / "isolated", "kit (no isolation)": Path(scratch) / "kit"}
        states = {}
        try:
            for name, directory in dirs.items():
                states[name] = start(directory, isolated=name.startswith("isolated"))
            times: dict[str, list[float]] = {name: [] for name in dirs}
            compiled: dict[str, list[int]] = {name: [] for name in dirs}
            for round_ in range(args.sessions):
                order = list(dirs) if round_ % 2 == 0 else list(reversed(dirs))
                for name in order:
                    before = compilations(dirs[name])
                    times[name].append(one_session(states[name]))
                    compiled[name].append(compilations(dirs[name]) - before)
        finally:
            for directory in dirs.values():
                spark_connect.down(directory)
    load = os.getloadavg()[0]
    print(f"a job run's session on the local Spark Connect server, 2 cores (load 1-min avg {load:.1f} at the end)")
    print(f"{'server':24}{'first s':>9}{'later s (median)':>18}{'later s (range)':>18}{'classes compiled':>34}")
    for name in dirs:
        later = times[name][1:]
        spread = f"{min(later):.2f}-{max(later):.2f}" if later else "-"
        median = f"{statistics.median(later):.2f}" if later else "-"
        counts = " ".join(str(c) for c in compiled[name])
        print(f"{name:24}{times[name][0]:>9.2f}{median:>18}{spread:>18}{counts:>34}")
    print("first: the server's first session (its JVM still cold); later: every later session, each a new one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
