"""Benchmark: a local Glue job run on a cold JVM (today's way) vs the warm Spark Connect server of ``mlops local up``.

    .venv/bin/python benchmarks/local_jobs.py [--rows 30000] [--repeat 2]

One platform in a temporary state dir (emulator + infra program + the Spark Connect server, all through the
``mlops`` CLI as a user runs them). Each curate run gets a NEW validated batch of ``--rows`` card transactions
(a run with nothing new does no Spark work), so every run de-duplicates ``--rows`` rows against the table;
build_features rebuilds the feature table from the first curated version (``--rows`` rows) each run, so every run,
cold or warm, reads the same rows (the latest version grows by ``--rows`` per curate).
Runs alternate cold (``MLOPS_LOCAL_SPARK__ENABLED=false``:
the job starts its own JVM) and warm (the job opens a session on the server). Printed per job: the wall time of
``mlops job run`` and the runner's own duration (its run record), cold vs warm side by side. The first warm run
after ``up`` (the server's first queries load classes) is shown apart from the steady ones.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
MLOPS = str(Path(sys.executable).parent / "mlops")
DATASET = "card_transactions"
FIRST_CURATED_VERSION = 0  # the table's version written by the first curate run (the first batch)


def mlops(env: dict[str, str], *args: str) -> str:
    """Run one ``mlops`` command; its stdout (JSON when asked); fails loudly with its output."""
    done = subprocess.run([MLOPS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"mlops {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout


def new_batch(env: dict[str, str], work: Path, rows: int, seed: int) -> None:
    """A new validated batch of ``rows`` rows (its own seed and quarter: no duplicates of earlier batches)."""
    path = work / f"batch-{seed}.parquet"
    start = f"{2020 + seed}-01-01"
    mlops(
        env, "data", "generate", DATASET, "--rows", str(rows), "--seed", str(seed), "--start", start, "--out", str(path)
    )
    mlops(env, "data", "ingest", DATASET, str(path))
    mlops(env, "data", "validate", DATASET, "--all-pending")


def server_cpu(env: dict[str, str]) -> float:
    """CPU seconds the warm server's process trees (the JVM; the warm interpreter its Python workers' daemons fork
    from, and those workers) have used so far; 0 without a server."""
    spark = Path(env["MLOPS_STATE_DIR"]) / "spark"
    tree: list[psutil.Process] = []
    for record in (spark / "state.json", spark / "warm-cli" / "server.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, psutil.NoSuchProcess):
            server = psutil.Process(json.loads(record.read_text())["pid"])
            tree += [server, *server.children(recursive=True)]
    total = 0.0
    for proc in tree:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue  # a worker that ended between listing and reading
    return total


def job_run(env: dict[str, str], job: str, warm: bool) -> dict[str, Any]:
    """One ``mlops job run``: its wall time, the runner's duration, and the CPU seconds it cost (the command's
    process tree - the job's own JVM when cold - plus the server's when warm: what load cannot inflate)."""
    run_env = {**env, "MLOPS_LOCAL_SPARK__ENABLED": "true" if warm else "false"}
    server_before = server_cpu(env)
    started = time.perf_counter()
    argv = [MLOPS, "job", "run", job, "--arg", f"dataset={DATASET}", *job_arguments(job), "--json"]
    command = subprocess.Popen(argv, env=run_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # CPU seconds last seen per process of the command's tree, sampled: the job's JVM is never reaped, so the
    # command's own rusage would not count it.
    seen: dict[int, float] = {}
    forker = warm_command_server(env)
    sampler = threading.Thread(target=_sample_tree, args=(command.pid, forker, seen), daemon=True)
    sampler.start()
    stdout, stderr = command.communicate(timeout=900)
    sampler.join()
    wall = time.perf_counter() - started
    if command.returncode != 0:
        raise RuntimeError(f"mlops job run {job} failed ({command.returncode}):\n{stderr[-3000:]}")
    cpu = sum(seen.values()) + (server_cpu(env) - server_before if warm else 0.0)
    record = json.loads(stdout)
    rows_in = record.get("counts", {}).get("rows_in")
    return {"job": job, "warm": warm, "wall": wall, "run": record["duration_seconds"], "cpu": cpu, "rows_in": rows_in}


def job_arguments(job: str) -> list[str]:
    """build_features reads the first curated version (the first batch's rows), not the latest: every run reads as
    many rows as every other, whichever came first."""
    return ["--arg", f"source_version={FIRST_CURATED_VERSION}"] if job == "build_features" else []


def warm_command_server(env: dict[str, str]) -> psutil.Process | None:
    """The warm command server of the state dir (`mlops local up` starts it): it forks the `mlops` commands, so a
    command's work runs in its children, not under the client process the benchmark starts."""
    record = Path(env["MLOPS_STATE_DIR"]) / "warm-cli" / "server.json"
    try:
        return psutil.Process(json.loads(record.read_text())["pid"])
    except (OSError, ValueError, KeyError, psutil.NoSuchProcess):
        return None


def command_processes(client: psutil.Process, forker: psutil.Process | None) -> list[psutil.Process]:
    """The processes doing one command's work: the client's tree and, when a warm command server forked the
    command, that server's descendants (one command runs at a time here)."""
    tree = [client, *client.children(recursive=True)]
    if forker is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            tree += forker.children(recursive=True)
    return tree


def _sample_tree(pid: int, forker: psutil.Process | None, seen: dict[int, float]) -> None:
    """Until ``pid`` ends: every 0.1 s, the CPU seconds of each process of the command (see
    :func:`command_processes`; the last 0.1 s is lost)."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while True:
        try:
            if root.status() == psutil.STATUS_ZOMBIE:
                return
            tree = command_processes(root, forker)
        except psutil.NoSuchProcess:
            return  # reaped: the command has ended
        for proc in tree:
            try:
                times = proc.cpu_times()
                seen[proc.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f}" if values else "     -"


def table(results: list[dict[str, Any]], rows: int) -> str:
    lines = [
        f"local Glue job runs, {rows:,} rows, {os.cpu_count()} cores (median seconds; load 1-min avg "
        f"{os.getloadavg()[0]:.1f} at the end)",
        f"{'job':<15} {'cold wall':>9} {'cold run':>9} {'cold cpu':>9} {'1st warm':>9} {'warm wall':>9} "
        f"{'warm run':>9} {'warm cpu':>9} {'speed-up':>8}",
    ]
    for job in ("curate", "build_features"):
        cold = [r for r in results if r["job"] == job and not r["warm"]]
        warm = [r for r in results if r["job"] == job and r["warm"]]
        first, steady = warm[:1], warm[1:] or warm[:1]
        speed = statistics.median(r["wall"] for r in cold) / statistics.median(r["wall"] for r in steady)
        lines.append(
            f"{job:<15} {_median([r['wall'] for r in cold]):>9} {_median([r['run'] for r in cold]):>9} "
            f"{_median([r['cpu'] for r in cold]):>9} {_median([r['wall'] for r in first]):>9} "
            f"{_median([r['wall'] for r in steady]):>9} {_median([r['run'] for r in steady]):>9} "
            f"{_median([r['cpu'] for r in steady]):>9} {speed:>7.1f}x"
        )
    lines.append("wall: the `mlops job run` command; run: the runner's duration (download, child process, record);")
    lines.append("cpu: CPU seconds of the command's processes (cold: with the job's JVM) plus, warm, the server's")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=2, help="Cold and steady warm runs per job.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AWS_"))}
        env.update({"MLOPS_STATE_DIR": str(work / "state"), "MLOPS_CONFIG_FILE": str(work / "absent.yaml")})
        began = time.perf_counter()
        mlops(env, "local", "up")
        print(f"mlops local up (emulator, program, Spark Connect): {time.perf_counter() - began:.1f}s", file=sys.stderr)
        try:
            results = run_all(env, work, args.rows, args.repeat)
        finally:
            mlops(env, "local", "down")
    print(table(results, args.rows))


def run_all(env: dict[str, str], work: Path, rows: int, repeat: int) -> list[dict[str, Any]]:
    """First warm run, then cold and warm alternately (the machine's load hits both alike)."""
    plan = [True] + [warm for _ in range(repeat) for warm in (False, True)]
    results: list[dict[str, Any]] = []
    for seed, warm in enumerate(plan, start=1):
        new_batch(env, work, rows, seed)
        for job in ("curate", "build_features"):
            results.append(job_run(env, job, warm))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


if __name__ == "__main__":
    main()
