"""Benchmark: the build_features job's memory as the data grows, executors' Delta I/O vs the driver-side path.

    .venv/bin/python benchmarks/jobs_memory.py [--rows 1000000 5000000 10000000] [--paths driver executors]
        [--driver-memory 1g] [--master local[2]] [--work-dir /tmp/mlops-jobs-bench] [--timeout 1800]

A curated Delta table of N synthetic card transactions (``pipelines/datasets/card_transactions.yaml``, ~100
events per customer over 90 days, written in 1M-row commits) is built once per size under ``--work-dir``, then
each (path, size) runs in a fresh child process with Spark's driver memory capped (``spark.driver.memory``):

- ``executors``: ``jobs.build_features.build``, the job's own code: the driver lists the data files, the
  executors read them, compute the features and write the Parquet files, the driver commits one Delta version;
- ``driver``: the job before issue #17: ``to_pyarrow_table`` on the driver, ``createDataFrame``, the same
  features, ``toArrow()`` back to the driver, ``write_deltalake`` from the driver.

The child builds its session with ``jobs._runtime.spark_session`` as under the local Glue runner
(``MLOPS_SPARK_MASTER``, ``MLOPS_SPARK_DRIVER_MEMORY``). The parent samples every 200 ms the RSS of the child's
process tree, split into the Python driver, the driver JVM (in local mode it also hosts the executors' threads:
the cap bounds both) and the Python workers (``pyspark.daemon`` and its forks: the executors' Python side). A
run that fails (e.g. ``OutOfMemoryError`` under the cap) is reported as failed with its reason. Tables are on
the local filesystem: the I/O path is the same pyarrow/delta-rs code as on S3, without an emulator in the loop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the kit's packages (jobs, mlops, pipelines) from the checkout
    sys.path.insert(0, str(REPO))

EVENTS_PER_ENTITY = 100
CHUNK_ROWS = 1_000_000
DATASET = "card_transactions"


def synthetic_chunk(first: int, rows: int, total: int, seed: int) -> Any:
    """Rows ``first .. first + rows`` of a ``total``-row curated table (customers spread over the whole table)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    entities = max(1, total // EVENTS_PER_ENTITY)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype("int64")
    categories = np.array(["grocery", "restaurants", "travel", "electronics", "fuel"])
    channels = np.array(["card_present", "online", "contactless"])
    return pa.table(
        {
            "transaction_id": pa.array(np.char.add("t", np.arange(first, first + rows).astype(str))),
            "customer_id": pa.array(np.char.add("c", rng.integers(0, entities, rows).astype(str))),
            "merchant_id": pa.array(np.char.add("m", rng.integers(0, 5000, rows).astype(str))),
            "event_time": pa.array(
                start + rng.integers(0, 90 * 86_400 * 1_000_000, rows), pa.timestamp("us", tz="UTC")
            ),
            "amount": pa.array(np.round(rng.lognormal(3.5, 1.0, rows), 2)),
            "category": pa.array(categories[rng.integers(0, len(categories), rows)]),
            "channel": pa.array(channels[rng.integers(0, len(channels), rows)]),
            "country": pa.array(np.full(rows, "FR")),
            "is_fraud": pa.array(rng.integers(0, 2, rows)),
        }
    )


def curated_table(work: Path, rows: int) -> str:
    """The curated Delta table of ``rows`` rows under ``work`` (built once, reused by later runs)."""
    from deltalake import write_deltalake

    from mlops.datasets import find_definition
    from pipelines.lake.curation import conform

    path = work / f"curated-{rows}"
    done = path / "_complete"
    if done.exists():
        return str(path)
    shutil.rmtree(path, ignore_errors=True)
    definition = find_definition(DATASET, REPO / "pipelines" / "datasets")
    for number, first in enumerate(range(0, rows, CHUNK_ROWS)):
        chunk = synthetic_chunk(first, min(CHUNK_ROWS, rows - first), rows, seed=11 + number)
        write_deltalake(str(path), conform(chunk, definition, "synthetic rows"), mode="append")
    done.write_text("ok\n")
    return str(path)


# ------------------------------------------------------------------------------------------------ the child


def _worker(path: str, source: str, target: str) -> dict[str, Any]:
    from jobs._runtime import spark_session
    from mlops.datasets import find_definition
    from mlops.lake.delta import DeltaTableStore

    definition = find_definition(DATASET, REPO / "pipelines" / "datasets")
    began = time.perf_counter()
    spark = spark_session("jobs-memory-benchmark")
    result: dict[str, Any] = {"startup_seconds": time.perf_counter() - began}
    store = DeltaTableStore(dict)
    started = time.perf_counter()
    if path == "executors":
        from jobs.build_features import build

        built = build(spark, definition, source, target, store.storage_options(), job_run_id="benchmark")
        result.update(rows_in=built.rows_in, rows_out=built.written.rows, files=built.written.files)
    else:
        from mlops.features.spark import spark_features

        data = store.read(source)
        features = spark_features(definition, spark.createDataFrame(data.data))
        table = features.orderBy(definition.entity_key, definition.event_time).toArrow()
        store.write(target, table, mode="overwrite", metadata={"source_version": str(data.version)})
        result.update(rows_in=data.data.num_rows, rows_out=table.num_rows, files=1)
    result["seconds"] = time.perf_counter() - started
    spark.stop()
    return result


# ------------------------------------------------------------------------------------------------ the parent


@dataclass
class Peaks:
    """Peak RSS (bytes) of each part of a process tree, and of the whole tree, over the samples taken."""

    driver: int = 0
    jvm: int = 0
    workers: int = 0
    tree: int = 0
    samples: int = 0

    def sample(self, root: psutil.Process) -> None:
        parts = {"driver": 0, "jvm": 0, "workers": 0}
        for proc in [root, *root.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss
                name = proc.name()
            except psutil.Error:
                continue  # a process that ended between listing and reading holds no memory
            if proc.pid == root.pid:
                parts["driver"] += rss
            elif name == "java":
                parts["jvm"] += rss
            else:
                parts["workers"] += rss  # pyspark.daemon and the workers it forks
        self.driver = max(self.driver, parts["driver"])
        self.jvm = max(self.jvm, parts["jvm"])
        self.workers = max(self.workers, parts["workers"])
        self.tree = max(self.tree, sum(parts.values()))
        self.samples += 1


def measure(path: str, rows: int, work: Path, *, driver_memory: str, master: str, timeout: float) -> dict[str, Any]:
    """Run one (path, size) in a child process; its result plus the peak RSS of each part of its tree."""
    source = curated_table(work, rows)
    target = work / f"features-{path}-{rows}"
    shutil.rmtree(target, ignore_errors=True)
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "MLOPS_SPARK_MASTER": master,
        "MLOPS_SPARK_DRIVER_MEMORY": driver_memory,
        "MLOPS_SPARK_SHUFFLE_PARTITIONS": "8",
    }
    command = [sys.executable, __file__, "--worker", path, "--source", source, "--target", str(target)]
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    peaks = Peaks()
    done = threading.Event()

    def sample() -> None:
        handle = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peaks.sample(handle)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = child.communicate(timeout=timeout)
        status = "ok" if child.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        _end_tree(child)
        stdout, stderr = child.communicate()
        status = "timeout"
    done.set()
    sampler.join()
    wall = time.perf_counter() - began
    shutil.rmtree(target, ignore_errors=True)
    result: dict[str, Any] = {"path": path, "rows": rows, "status": status, "wall_seconds": wall}
    if status == "ok":
        result.update(json.loads(stdout.strip().splitlines()[-1]))
        result["rows_per_s"] = round(rows / result["seconds"])
    else:
        result["reason"] = _reason(stderr, status, child.returncode)
    mb = 2**20
    result.update(
        driver_mb=round(peaks.driver / mb),
        jvm_mb=round(peaks.jvm / mb),
        workers_mb=round(peaks.workers / mb),
        tree_mb=round(peaks.tree / mb),
    )
    return result


def _end_tree(child: subprocess.Popen[str]) -> None:
    """End the child and every process it started (its JVM, the Python workers), children first."""
    try:
        procs = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for proc in reversed(procs):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    child.kill()


def _reason(stderr: str, status: str, code: int | None) -> str:
    if status == "timeout":
        return "timed out"
    for marker in ("OutOfMemoryError", "Java heap space", "GC overhead", "MemoryError", "Killed"):
        if marker in stderr:
            return f"{marker} (exit {code})"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f"exit {code}: {lines[-1][:120] if lines else 'no output'}"


def table(results: list[dict[str, Any]], driver_memory: str, master: str) -> str:
    """The side-by-side table, then the growth of each path between its smallest and largest successful size."""
    header = (
        f"{'rows':>11} {'path':>9} {'status':>7} {'job s':>7} {'rows/s':>9} {'driver py MB':>12} "
        f"{'driver JVM MB':>13} {'workers MB':>10} {'tree MB':>8}"
    )
    lines = [f"build_features, {master}, spark.driver.memory={driver_memory}", header]
    for r in results:
        seconds = f"{r['seconds']:.1f}" if r["status"] == "ok" else "-"
        speed = f"{r['rows_per_s']:,}" if r["status"] == "ok" else "-"
        lines.append(
            f"{r['rows']:>11,} {r['path']:>9} {r['status']:>7} {seconds:>7} {speed:>9} {r['driver_mb']:>12,} "
            f"{r['jvm_mb']:>13,} {r['workers_mb']:>10,} {r['tree_mb']:>8,}"
            + ("" if r["status"] == "ok" else f"  ({r['reason']})")
        )
    for path in sorted({r["path"] for r in results}):
        ok = sorted((r for r in results if r["path"] == path and r["status"] == "ok"), key=lambda r: r["rows"])
        if len(ok) < 2:
            continue
        small, large = ok[0], ok[-1]
        scale = large["rows"] / small["rows"]
        ratios = {key: large[key] / small[key] for key in ("seconds", "driver_mb", "jvm_mb", "workers_mb", "tree_mb")}
        lines.append(
            f"{path}: {small['rows']:,} -> {large['rows']:,} rows (x{scale:g}): job time x{ratios['seconds']:.2f}, "
            f"driver py RSS x{ratios['driver_mb']:.2f}, driver JVM RSS x{ratios['jvm_mb']:.2f}, "
            f"workers RSS x{ratios['workers_mb']:.2f}, tree RSS x{ratios['tree_mb']:.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--paths", nargs="+", choices=["driver", "executors"], default=["driver", "executors"])
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/mlops-jobs-bench"))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run before it counts as failed")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--worker", choices=["driver", "executors"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.source, args.target)))
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in args.rows:
        for path in args.paths:
            results.append(
                measure(
                    path,
                    rows,
                    args.work_dir,
                    driver_memory=args.driver_memory,
                    master=args.master,
                    timeout=args.timeout,
                )
            )
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results, args.driver_memory, args.master))


if __name__ == "__main__":
    main()
