"""Benchmark: this kit's inference server vs ``mlflow models serve`` on the same registered model.

Run: ``.venv/bin/python -m benchmarks.serving [--seconds 5]``. Trains and registers a small HistGradientBoosting
model in a throwaway MLflow (sqlite), starts both servers on loopback, and drives them with the same threaded
keep-alive HTTP client: sequential single-row p50/p99, then throughput and p99 at 1, 8 and 32 concurrent clients
for a bounded time each. The in-process ``predict`` of one row is printed as the floor. Both servers are stopped
by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import psutil

from mlops.local.emulator import free_port

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LoadResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def drive(port: int, body: bytes, clients: int, seconds: float) -> LoadResult:
    """``clients`` threads, each with one keep-alive connection, posting ``body`` for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                connection.request("POST", "/invocations", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
            latencies[index].append((time.perf_counter() - started) * 1000)
            errors[index] += 0 if ok else 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    merged = [value for values in latencies for value in values]
    return LoadResult(clients, len(merged), sum(errors), elapsed, _percentile(merged, 50), _percentile(merged, 99))


def sequential(port: int, body: bytes, count: int) -> tuple[float, float]:
    result = drive_count(port, body, count)
    return _percentile(result, 50), _percentile(result, 99)


def drive_count(port: int, body: bytes, count: int) -> list[float]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    out = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"server on port {port} answered {response.status}")
        out.append((time.perf_counter() - started) * 1000)
    connection.close()
    return out


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
        model.predict_frame(row)
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
        "SERVING_LOG_LEVEL": "WARNING",
    }


def measure(port: int, body: bytes, seconds: float) -> dict[str, object]:
    drive(port, body, 8, 1.0)  # warm-up
    p50, p99 = sequential(port, body, 300)
    loads = {clients: drive(port, body, clients, seconds) for clients in (1, 8, 32)}
    return {"sequential": (p50, p99), "loads": loads}


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
        with server(ours_cmd, ours_port, env, work / "ours.log"):
            ours = measure(ours_port, body, args.seconds)
        with server(mlflow_cmd, mlflow_port, env, work / "mlflow.log"):
            theirs = measure(mlflow_port, body, args.seconds)
    report(ours, theirs, floor_ms)


def report(ours: dict[str, object], theirs: dict[str, object], floor_ms: float) -> None:
    print(f"in-process predict, 1 row (floor): {floor_ms:.2f} ms")
    print(f"{'':34}{'mlops-kit server':>22}{'mlflow models serve':>22}")
    o50, o99 = cast(tuple[float, float], ours["sequential"])
    t50, t99 = cast(tuple[float, float], theirs["sequential"])
    print(f"{'sequential 1 row p50 / p99 (ms)':34}{o50:>11.2f} /{o99:>8.2f}{t50:>13.2f} /{t99:>8.2f}")
    for clients in (1, 8, 32):
        a: LoadResult = ours["loads"][clients]  # type: ignore[index]
        b: LoadResult = theirs["loads"][clients]  # type: ignore[index]
        print(
            f"{f'c={clients} req/s | p99 ms | errors':34}"
            f"{a.throughput:>8.0f} |{a.p99_ms:>7.1f} |{a.errors:>3}"
            f"{b.throughput:>11.0f} |{b.p99_ms:>7.1f} |{b.errors:>3}"
        )
    c8o: LoadResult = ours["loads"][8]  # type: ignore[index]
    c8t: LoadResult = theirs["loads"][8]  # type: ignore[index]
    print(
        f"c=8: throughput x{c8o.throughput / c8t.throughput:.1f} (target >= 5), "
        f"p99 ratio {c8o.p99_ms / c8t.p99_ms:.2f} (target <= 0.25)"
    )


if __name__ == "__main__":
    main()
