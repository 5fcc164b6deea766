"""Benchmark: this kit's inference server vs ``mlflow models serve`` on the same registered model.

Run: ``.venv/bin/python -m benchmarks.serving [--seconds 5]``. Trains and registers a small HistGradientBoosting
model in a throwaway MLflow (sqlite), starts both servers on loopback (MLflow's as its docs say: ``mlflow models
serve -m models:/... --env-manager local``) one after the other, and drives them with the same lean keep-alive
client running in its own process (:mod:`benchmarks.serving_load`): sequential single-row p50/p99, then
throughput and p99 at 1, 8 and 32 concurrent clients for a bounded time each, with the server's CPU time per
request (all its processes). The in-process ``predict`` of one row is printed as the floor. Both servers are
stopped by PID at the end, whatever happens.
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
LEVELS = (1, 8, 32)
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


def single_row_body(work: Path) -> tuple[bytes, str, float]:
    """Register the model; return a one-row MLflow JSON body, the tracking URI and in-process predict ms."""
    from serving.batcher import limit_native_threads
    from serving.model import load_model
    from tests.unit.serving.model_support import train_and_register

    registered = train_and_register(work / "mlflow")
    row = registered.sample.head(1)
    body = json.dumps({"dataframe_split": json.loads(row.to_json(orient="split", index=False))}).encode()
    model = load_model(f"models:/{registered.name}/{registered.version}", registered.tracking_uri)
    limit_native_threads(1)  # as the server's predict thread does
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        model.scorer.predict_frame(row)
        timings.append((time.perf_counter() - started) * 1000)
    return body, registered.tracking_uri, statistics.median(timings)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each concurrency level")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        work = Path(tmp)
        body, tracking_uri, floor_ms = single_row_body(work)
        env = _env(tracking_uri)
        model = "models:/card_transactions/1"
        ours_port, mlflow_port = free_port(), free_port()
        ours_cmd = [sys.executable, "-m", "serving", "--model-uri", model, "--host", HOST, "--port", str(ours_port)]
        mlflow_cmd = [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            model,
            "--env-manager",
            "local",
            "-h",
            HOST,
            "-p",
            str(mlflow_port),
        ]
        with server(ours_cmd, ours_port, env, work / "ours.log") as pid:
            ours = measure(pid, ours_port, body, args.seconds)
        with server(mlflow_cmd, mlflow_port, env, work / "mlflow.log") as pid:
            theirs = measure(pid, mlflow_port, body, args.seconds)
    report(ours, theirs, floor_ms)


def report(ours: Measurement, theirs: Measurement, floor_ms: float) -> None:
    print(f"in-process predict, 1 row (floor): {floor_ms:.2f} ms")
    print(f"{'':34}{'mlops-kit server':>26}{'mlflow models serve':>26}")
    (o50, o99), (t50, t99) = ours.sequential, theirs.sequential
    print(f"{'sequential 1 row p50 / p99 (ms)':34}{o50:>15.2f} /{o99:>8.2f}{t50:>17.2f} /{t99:>8.2f}")
    for clients in LEVELS:
        a, b = ours.loads[clients], theirs.loads[clients]
        print(
            f"{f'c={clients} req/s | p99 ms | CPU ms/req | err':34}"
            f"{a.throughput:>7.0f} |{a.p99_ms:>6.1f} |{ours.cpu_ms[clients]:>5.2f} |{a.errors:>2}"
            f"{b.throughput:>11.0f} |{b.p99_ms:>6.1f} |{theirs.cpu_ms[clients]:>5.2f} |{b.errors:>2}"
        )
    c8o, c8t = ours.loads[8], theirs.loads[8]
    print(
        f"c=8: throughput x{c8o.throughput / c8t.throughput:.1f} (target >= 5), "
        f"p99 ratio {c8o.p99_ms / c8t.p99_ms:.2f} (target <= 0.25)"
    )


if __name__ == "__main__":
    main()
