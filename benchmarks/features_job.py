"""Benchmark: curated rows -> feature table, Spark (the Glue job's engine) vs plain pandas, at 1M and 5M rows.

    .venv/bin/python benchmarks/features_job.py [--rows 1000000 5000000] [--engines spark pandas]

Each (engine, size) runs in a fresh child process so its peak memory is its own; the parent samples the RSS of
the child's whole process tree (Python + Spark's JVM) every 100 ms. Rows are synthetic curated card
transactions (``pipelines/datasets/card_transactions.yaml``), ~100 events per customer over 90 days. The Spark
time covers Arrow -> Spark -> features -> Arrow (as in ``jobs/build_features.py``, without the Delta I/O);
session start-up is reported apart. The pandas time covers :func:`mlops.features.frame.frame_features`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
EVENTS_PER_ENTITY = 100


def synthetic_curated(rows: int, seed: int = 11) -> Any:
    """A curated-table Arrow table of ``rows`` card transactions."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    entities = max(1, rows // EVENTS_PER_ENTITY)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype("int64")
    offsets = rng.integers(0, 90 * 86_400 * 1_000_000, rows)
    categories = np.array(["grocery", "restaurants", "travel", "electronics", "fuel"])
    channels = np.array(["card_present", "online", "contactless"])
    return pa.table(
        {
            "transaction_id": pa.array([f"t{n}" for n in range(rows)]),
            "customer_id": pa.array([f"c{n}" for n in rng.integers(0, entities, rows)]),
            "merchant_id": pa.array([f"m{n}" for n in rng.integers(0, 5000, rows)]),
            "event_time": pa.array(start + offsets, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(np.round(rng.lognormal(3.5, 1.0, rows), 2)),
            "category": pa.array(categories[rng.integers(0, len(categories), rows)]),
            "channel": pa.array(channels[rng.integers(0, len(channels), rows)]),
            "country": pa.array(np.full(rows, "FR")),
            "is_fraud": pa.array(rng.integers(0, 2, rows)),
        }
    )


def _worker(engine: str, rows: int) -> dict[str, Any]:
    from mlops.datasets import find_definition

    definition = find_definition("card_transactions", REPO / "pipelines" / "datasets")
    data = synthetic_curated(rows)
    result: dict[str, Any] = {"engine": engine, "rows": rows}
    if engine == "pandas":
        from mlops.features.frame import frame_features

        frame = data.to_pandas()
        started = time.perf_counter()
        out = frame_features(definition, frame)
        result["seconds"] = time.perf_counter() - started
        result["rows_out"] = len(out)
        return result
    from pyspark.sql import SparkSession

    from mlops.features.spark import spark_features

    began = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    result["startup_seconds"] = time.perf_counter() - began
    started = time.perf_counter()
    table = spark_features(definition, spark.createDataFrame(data)).toArrow()
    result["seconds"] = time.perf_counter() - started
    result["rows_out"] = table.num_rows
    spark.stop()
    return result


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a child that ended between listing and reading holds no memory
    return total


def measure(engine: str, rows: int) -> dict[str, Any]:
    """Run one (engine, size) in a child process; its result plus the peak RSS of its process tree."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [sys.executable, __file__, "--worker", engine, "--rows", str(rows)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO)
    handle = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(handle))
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{engine} at {rows} rows failed with status {child.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak / 2**20)
    result["rows_per_s"] = round(rows / result["seconds"])
    return result


def _table(results: list[dict[str, Any]], sizes: list[int]) -> str:
    lines = [f"{'rows':>10} {'engine':>7} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} {'startup s':>9}"]
    for r in results:
        startup = f"{r['startup_seconds']:.1f}" if "startup_seconds" in r else "-"
        lines.append(
            f"{r['rows']:>10,} {r['engine']:>7} {r['seconds']:>8.1f} {r['rows_per_s']:>10,} "
            f"{r['peak_rss_mb']:>12,} {startup:>9}"
        )
    if len(sizes) == 2:
        small, large = sizes
        for engine in sorted({r["engine"] for r in results}):
            a = next(r for r in results if r["engine"] == engine and r["rows"] == small)
            b = next(r for r in results if r["engine"] == engine and r["rows"] == large)
            lines.append(
                f"{engine}: {small:,} -> {large:,} rows: time x{b['seconds'] / a['seconds']:.2f}, "
                f"peak memory x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--engines", nargs="+", choices=["spark", "pandas"], default=["spark", "pandas"])
    parser.add_argument("--worker", choices=["spark", "pandas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.rows[0])))
        return
    results = []
    for rows in args.rows:
        for engine in args.engines:
            results.append(measure(engine, rows))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(_table(results, args.rows))


if __name__ == "__main__":
    main()
