"""Benchmark: this kit's inference server (compiled and plain model) vs ``mlflow models serve`` on the same model.

Run: ``.venv/bin/python -m benchmarks.serving [--seconds 5]``. Trains and registers the shipped model shape (the
training entry point's HistGradientBoosting pipeline with native categorical splits, ``predict_proba`` as its pyfunc
function) in a throwaway MLflow (sqlite), compiled as registration compiles it. Four servers start on loopback one
after the other: the kit's with the compiled model (the default when a version has one), the kit's with
``SERVING_MODEL_ENGINE=plain``, MLflow's as its docs start it (``mlflow models serve -m models:/... --env-manager
local``) and MLflow's at its best here (``-w 2``: one worker per core). The same lean keep-alive client running in
its own process (:mod:`benchmarks.serving_load`) drives each: sequential single-row p50/p99, then throughput and
p99 at 8 and 32 concurrent clients for a bounded time each, with the server's CPU time per request (all its
processes). The in-process one-row score (the kit's scoring function) of both engines is printed as the floor.
Every server is stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.serving_load import HOST, LoadResult
from mlops.local.emulator import free_port

START_TIMEOUT_S = 120.0
LEVELS = (8, 32)
LOAD_GRACE_S = 60.0  # client start-up and connection set-up on a busy host


def drive(
    port: int, body: bytes, clients: int, seconds: float | None = None, requests: int | None = None
) -> LoadResult:
    """``clients`` keep-alive connections posting ``body`` for ``seconds`` (or ``requests`` each), driven by
    :mod:`benchmarks.serving_load` in its own process: the same lean client for every server."""
    with tempfile.NamedTemporaryFile(prefix="serving-body-", suffix=".json") as body_file:
        body_file.write(body)
        body_file.flush()
        command = [sys.executable, "-m", "benchmarks.serving_load", "--port", str(port), "--clients", str(clients)]
        command += ["--seconds", str(seconds)] if requests is None else ["--requests", str(requests)]
        command += ["--body-file", body_file.name]
        limit = (seconds or 0.0) + (requests or 0) * 0.5 + LOAD_GRACE_S
        done = subprocess.run(command, capture_output=True, check=False, timeout=limit, env=_client_env())
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return LoadResult(**json.loads(done.stdout))


def _client_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root}


def sequential(port: int, body: bytes, count: int) -> tuple[float, float]:
    """p50 / p99 of ``count`` requests sent one after the other on one connection."""
    result = drive(port, body, 1, requests=count)
    if result.errors:
        raise RuntimeError(f"server on port {port} answered {result.errors} of {count} requests with an error")
    return result.p50_ms, result.p99_ms


@contextmanager
def server(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    """Start a server process, wait for GET /ping, yield its PID; always stopped by PID."""
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _pings(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0:4]} did not start; see {log}")
            time.sleep(0.3)
        yield process.pid
    finally:
        _stop(process.pid)


def _pings(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=1)
        connection.request("GET", "/ping")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def _stop(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = [*parent.children(recursive=True), parent]  # mlflow serve runs uvicorn as a child
    for process in family:
        process.terminate()
    _, alive = psutil.wait_procs(family, timeout=10)
    for process in alive:
        process.kill()


def single_row_body(work: Path) -> tuple[bytes, str, dict[str, float]]:
    """Register the model; return a one-row MLflow JSON body, the tracking URI and in-process score ms by engine."""
    from serving.batcher import limit_native_threads
    from serving.model import load_model
    from tests.unit.serving.model_support import train_and_register

    registered = train_and_register(work / "mlflow", shipped=True, compiled=True)
    row = registered.sample.head(1)
    body = json.dumps({"dataframe_split": json.loads(row.to_json(orient="split", index=False))}).encode()
    limit_native_threads(1)  # as the server's predict thread does
    floors: dict[str, float] = {}
    for engine in ("auto", "plain"):
        model = load_model(f"models:/{registered.name}/{registered.version}", registered.tracking_uri, engine)
        timings = []
        for _ in range(300):
            started = time.perf_counter()
            model.score(row)
            timings.append((time.perf_counter() - started) * 1000)
        floors[model.engine] = statistics.median(timings)
    return body, registered.tracking_uri, floors


def _env(tracking_uri: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    root = str(Path(__file__).resolve().parent.parent)
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": root,
    }


@dataclass(frozen=True)
class Measurement:
    """One server's figures: sequential p50/p99, a load result and CPU ms per request per concurrency."""

    sequential: tuple[float, float]
    loads: dict[int, LoadResult]
    cpu_ms: dict[int, float]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of the server and its children (mlflow serve runs uvicorn workers as children)."""
    parent = psutil.Process(pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def measure(pid: int, port: int, body: bytes, seconds: float) -> Measurement:
    drive(port, body, 8, 1.0)  # warm-up
    sequential_ms = sequential(port, body, 300)
    loads: dict[int, LoadResult] = {}
    cpu_ms: dict[int, float] = {}
    for clients in LEVELS:
        before = _cpu_seconds(pid)
        loads[clients] = drive(port, body, clients, seconds)
        cpu_ms[clients] = (_cpu_seconds(pid) - before) * 1000 / max(loads[clients].requests, 1)
    return Measurement(sequential_ms, loads, cpu_ms)


SERVERS = ("kit compiled", "kit plain", "mlflow default", "mlflow -w 2")


def commands(model: str, port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each server's command line and extra environment, on ``port``."""
    kit = [sys.executable, "-m", "serving", "--model-uri", model, "--host", HOST, "--port", str(port)]
    mlflow = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model, "--env-manager", "local"]
    mlflow += ["-h", HOST, "-p", str(port)]
    return {
        "kit compiled": (kit, {}),
        "kit plain": (kit, {"SERVING_MODEL_ENGINE": "plain"}),
        "mlflow default": (mlflow, {}),
        "mlflow -w 2": ([*mlflow, "-w", "2"], {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each concurrency level")
    args = parser.parse_args()
    results: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        work = Path(tmp)
        body, tracking_uri, floors = single_row_body(work)
        for name in SERVERS:
            port = free_port()
            command, extra = commands("models:/card_transactions/1", port)[name]
            log = work / f"{name.replace(' ', '-')}.log"
            with server(command, port, {**_env(tracking_uri), **extra}, log) as pid:
                results[name] = measure(pid, port, body, args.seconds)
    report(results, floors)


def report(results: dict[str, Measurement], floors: dict[str, float]) -> None:
    print("in-process score, 1 row: " + ", ".join(f"{engine} {ms:.3f} ms" for engine, ms in floors.items()))
    print(f"{'':30}" + "".join(f"{name:>26}" for name in results))
    print(
        f"{'sequential 1 row p50 / p99 ms':30}"
        + "".join(f"{m.sequential[0]:>17.2f} /{m.sequential[1]:>7.2f}" for m in results.values())
    )
    for clients in LEVELS:
        line = "".join(
            f"{m.loads[clients].throughput:>7.0f} |{m.loads[clients].p99_ms:>6.1f} |{m.cpu_ms[clients]:>5.2f} |"
            f"{m.loads[clients].errors:>2}"
            for m in results.values()
        )
        print(f"{f'c={clients} req/s | p99 ms | CPU ms | err':30}{line}")
    print(goals(results))


def goals(results: dict[str, Measurement]) -> str:
    """The issue's goals for the compiled kit server, each with the measured figure."""
    ours, default, best = results["kit compiled"], results["mlflow default"], results["mlflow -w 2"]
    lines = [f"goal sequential p50 <= 1 ms: {ours.sequential[0]:.2f} ms"]
    for clients, vs_default, vs_best in ((8, 25, 10), (32, 50, 25)):
        mine = ours.loads[clients]
        lines.append(
            f"goal c={clients}: x{mine.throughput / default.loads[clients].throughput:.1f} MLflow default "
            f"(>= {vs_default}), p99 ratio {mine.p99_ms / default.loads[clients].p99_ms:.3f} (<= 0.05), "
            f"x{mine.throughput / best.loads[clients].throughput:.1f} MLflow -w 2 (>= {vs_best})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
