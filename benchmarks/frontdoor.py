"""Benchmark: what the front door (the one local endpoint URL) costs, against going to each server directly.

    .venv/bin/python benchmarks/frontdoor.py [--requests 400] [--clients 8]

One emulator in a temporary state dir (``mlops local up`` without the program: moto + the front door) and one
stand-in model process (``tests.support.toy_model``, an echo: the model's own time is ~0), then side by side:

1. moto: S3 ``HeadObject`` with boto3 on moto's own URL vs on the front door's (the proxied path every other
   service takes), sequential p50/p99;
2. invocations: ``POST /invocations`` straight to the model process (httpx, one pooled client) vs the same POST
   to the front door's ``/endpoints/<name>/invocations`` (its own cost: routing table, metrics, one more hop), and
   vs boto3 ``invoke_endpoint`` through the front door (the runtime path applications take), sequential p50/p99,
   and throughput with ``--clients`` threads (direct httpx vs boto3 through the front door).

boto3's own per-call cost (signing, parsing: ~1 ms) is in both columns of (1) and in the front door column of (2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil

from mlops.local import emulator
from mlops.local.emulator import HOST, free_port
from mlops.local.frontdoor.routing import EndpointTable, Fleet, write_table
from mlops.local.processes import terminate


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def _timed(call: Callable[[], object], count: int) -> list[float]:
    for _ in range(20):  # warm connections and caches
        call()
    out = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        out.append((time.perf_counter() - began) * 1000)
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _throughput(make: Callable[[], Callable[[], object]], clients: int, seconds: float = 5.0) -> float:
    done = [0] * clients
    stop = threading.Event()

    def work(slot: int) -> None:
        call = make()
        while not stop.is_set():
            call()
            done[slot] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(done) / seconds


def _row(name: str, direct: list[float], front: list[float]) -> str:
    return (
        f"{name:<34} {statistics.median(direct):>8.2f} {_pct(direct, 99):>8.2f}   "
        f"{statistics.median(front):>8.2f} {_pct(front, 99):>8.2f}   "
        f"{statistics.median(front) - statistics.median(direct):>+8.2f}"
    )


def _wait_ready(url: str) -> None:
    while True:
        try:
            httpx.get(url + "/ping", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def _measure(front_url: str, moto_url: str, model_url: str, door: psutil.Process, args: argparse.Namespace) -> None:
    direct_s3, front_s3 = _client("s3", moto_url), _client("s3", front_url)
    direct_s3.create_bucket(Bucket="bench-bucket")
    direct_s3.put_object(Bucket="bench-bucket", Key="k", Body=b"x" * 1024)
    s3_direct = _timed(lambda: direct_s3.head_object(Bucket="bench-bucket", Key="k"), args.requests)
    cpu_before = sum(door.cpu_times()[:2])
    s3_front = _timed(lambda: front_s3.head_object(Bucket="bench-bucket", Key="k"), args.requests)
    cpu_s3 = (sum(door.cpu_times()[:2]) - cpu_before) * 1000 / (args.requests + 20)

    http = httpx.Client()
    body, headers = b"1,2,3", {"Content-Type": "text/csv"}

    def direct_call() -> Callable[[], object]:
        client = httpx.Client()
        return lambda: client.post(model_url + "/invocations", content=body, headers=headers)

    def front_call() -> Callable[[], object]:
        runtime = _client("sagemaker-runtime", front_url)
        return lambda: runtime.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")

    inv_direct = _timed(direct_call(), args.requests)
    cpu_before = sum(door.cpu_times()[:2])
    runtime_path = front_url + "/endpoints/bench/invocations"
    inv_front_http = _timed(lambda: http.post(runtime_path, content=body, headers=headers), args.requests)
    cpu_invoke = (sum(door.cpu_times()[:2]) - cpu_before) * 1000 / (args.requests + 20)
    inv_front = _timed(front_call(), args.requests)
    tput_direct = _throughput(direct_call, args.clients)
    tput_front = _throughput(front_call, args.clients)

    print(f"{'ms per call':<34} {'direct p50':>8} {'p99':>8}   {'front p50':>8} {'p99':>8}   {'p50 diff':>8}")
    print(_row("S3 HeadObject (boto3)", s3_direct, s3_front))
    print(_row("invocation, httpx (direct | front)", inv_direct, inv_front_http))
    print(_row("invocation (direct httpx | boto3)", inv_direct, inv_front))
    print(f"front door CPU per call (ms): S3 proxy {cpu_s3:.2f}, invocation {cpu_invoke:.2f}")
    label = f"throughput, {args.clients} clients (req/s)"
    print(f"{label:<34} {tput_direct:>8.0f} {'':>8}   {tput_front:>8.0f}")
    print(f"load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emulator_dir = Path(tmp) / "emulator"
        state, _ = emulator.up(emulator_dir)
        port = free_port()
        model = subprocess.Popen(
            [sys.executable, "-m", "tests.support.toy_model", "serve", "--host", HOST, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert state.frontdoor_url is not None and state.frontdoor_pid is not None
            fleet = Fleet("blue", "AllTraffic", model.pid, HOST, port, "models:/toy/1", "1", 1.0, time.time(), "")
            write_table(emulator.endpoints_dir_of(emulator_dir), EndpointTable("bench", (fleet,)))
            model_url = f"http://{HOST}:{port}"
            _wait_ready(model_url)
            _measure(state.frontdoor_url, state.endpoint_url, model_url, psutil.Process(state.frontdoor_pid), args)
        finally:
            terminate(model.pid)
            emulator.down(emulator_dir)


if __name__ == "__main__":
    main()
