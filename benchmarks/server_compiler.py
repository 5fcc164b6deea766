"""Benchmark: the warm Spark Connect server compiling with the JVM's default tiered compilers (the quick one, then
the optimising one for hot code) vs the quick compiler only (``local_spark.quick_compiler``, the default), on the
kit's own jobs, side by side in one run, alternating.

    .venv/bin/python -m benchmarks.server_compiler [--rows 30000] [--pairs 3] [--repeat 2]

One platform in a temporary state dir (``mlops local up``, as in ``benchmarks/local_jobs.py``). Each round starts
the server afresh with one setting, then runs ``--pairs`` times: a new validated batch of ``--rows`` card
transactions, ``mlops job run curate``, ``mlops job run build_features`` (about a main job's session of jobs).
Printed per setting (medians of ``--repeat`` servers): the server's start, the first pair's jobs and the later
ones, in wall seconds and CPU seconds (each command's processes plus the server's: what the machine's load cannot
inflate), and the whole session's. JVM-heavy work on larger data (long windows, wide joins) is where the optimising
compiler pays back: turn the setting off for that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.local_jobs import job_run, mlops, new_batch, server_cpu
from benchmarks.server_collector import Figure, cell, mean, median
from mlops.local import spark_connect

JOBS = ("curate", "build_features")


def session(env: dict[str, str], work: Path, *, quick: bool, rows: int, pairs: int, seed: int) -> list[Figure]:
    """A fresh server with the setting, then ``pairs`` batches each curated and featured: [start, job, job, ...]."""
    spark = Path(env["MLOPS_STATE_DIR"]) / "spark"
    spark_connect.down(spark)
    began = time.perf_counter()
    spark_connect.up(spark, quick_compiler=quick)
    figures = [(time.perf_counter() - began, server_cpu(env))]
    for pair in range(pairs):
        new_batch(env, work, rows, seed + pair)
        for job in JOBS:
            run: dict[str, Any] = job_run(env, job, warm=True)
            figures.append((run["wall"], run["cpu"]))
            print(f"{'quick' if quick else 'tiered'} {run}", file=sys.stderr, flush=True)
    return figures


def table(results: dict[bool, list[list[Figure]]], rows: int, pairs: int) -> str:
    lines = [
        f"warm Spark server, {rows:,} rows per job, {pairs} pairs of jobs, {os.cpu_count()} cores "
        f"(medians; {time.strftime('%Y-%m-%d %H:%M')})",
        f"{'':<28} {'tiered (JVM default)':>22} {'quick only (kit)':>22} {'CPU ratio':>10}",
    ]
    picks: list[tuple[str, Callable[[list[Figure]], Figure]]] = [("start, until it listens", _at(0))]
    picks += [(f"first {job}", _at(1 + i)) for i, job in enumerate(JOBS)]
    picks += [(f"later {job}", _later(3 + i)) for i, job in enumerate(JOBS)]
    picks += [("the whole session", lambda s: (sum(f[0] for f in s), sum(f[1] for f in s)))]
    for name, pick in picks:
        base, kit = (median([pick(s) for s in results[quick]]) for quick in (False, True))
        lines.append(f"{name:<28} {cell(base):>22} {cell(kit):>22} {base[1] / kit[1]:>9.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000, help="rows per batch (default 30,000)")
    parser.add_argument("--pairs", type=int, default=3, help="batches curated and featured per server (default 3)")
    parser.add_argument("--repeat", type=int, default=2, help="servers of each setting, alternating (default 2)")
    args = parser.parse_args()
    if args.pairs < 2:
        parser.error("--pairs must be at least 2 (the first pair is shown apart from the later ones)")
    with tempfile.TemporaryDirectory(prefix="bench-compiler-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AWS_"))}
        env.update({"MLOPS_STATE_DIR": str(work / "state"), "MLOPS_CONFIG_FILE": str(work / "absent.yaml")})
        mlops(env, "local", "up")
        results: dict[bool, list[list[Figure]]] = {False: [], True: []}
        try:
            seed = 1
            for _ in range(args.repeat):
                for quick in (False, True):
                    results[quick].append(session(env, work, quick=quick, rows=args.rows, pairs=args.pairs, seed=seed))
                    seed += args.pairs
        finally:
            mlops(env, "local", "down")
    print(table(results, args.rows, args.pairs))


def _at(index: int) -> Callable[[list[Figure]], Figure]:
    return lambda figures: figures[index]


def _later(first: int) -> Callable[[list[Figure]], Figure]:
    """The mean of one job's runs after the first pair (the session alternates the jobs)."""
    return lambda figures: mean(figures[first :: len(JOBS)])


if __name__ == "__main__":
    main()
