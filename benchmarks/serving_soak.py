"""Soak: 60 s at 32 concurrent clients against this kit's server; zero errors and flat memory or exit 1.

Run: ``.venv/bin/python -m benchmarks.serving_soak [--seconds 60]``. The server's RSS is sampled every 2 s; memory
is "flat" when the last sample is within 15% (and 40 MB) of the sample taken after the first 10 s of load.
The server is stopped by PID at the end; the run is bounded by ``--seconds`` plus start-up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.serving import _env, drive, server, single_row_body
from benchmarks.serving_load import HOST
from mlops.local.emulator import free_port

GROWTH_LIMIT = 0.15
GROWTH_LIMIT_BYTES = 40 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serving-soak-") as tmp:
        work = Path(tmp)
        body, tracking_uri, _ = single_row_body(work)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "serving",
            "--model-uri",
            "models:/card_transactions/1",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        with server(command, port, _env(tracking_uri), work / "server.log") as pid:
            samples: list[tuple[float, int]] = []
            done = threading.Event()

            def sample() -> None:
                process = psutil.Process(pid)
                started = time.monotonic()
                while not done.wait(2.0):
                    samples.append((time.monotonic() - started, process.memory_info().rss))

            sampler = threading.Thread(target=sample)
            sampler.start()
            result = drive(port, body, args.clients, args.seconds)
            done.set()
            sampler.join()
    baseline = next((rss for at, rss in samples if at >= 10.0), samples[0][1])
    final = samples[-1][1]
    growth = (final - baseline) / baseline
    mb = 1024 * 1024
    print(
        f"soak {args.seconds:.0f}s c={args.clients}: {result.requests} requests, {result.throughput:.0f} req/s, "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}"
    )
    print(
        f"RSS after 10 s {baseline / mb:.1f} MB, at end {final / mb:.1f} MB ({growth:+.1%}), "
        f"max {max(r for _, r in samples) / mb:.1f} MB over {len(samples)} samples"
    )
    flat = growth <= GROWTH_LIMIT or final - baseline <= GROWTH_LIMIT_BYTES
    if result.errors or not flat:
        print("FAIL: errors or memory growth", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
