"""A lean HTTP/1.1 keep-alive load generator, run in its own process so both servers face the same client.

Run by :mod:`benchmarks.serving` and :mod:`benchmarks.serving_soak` as
``python -m benchmarks.serving_load --port P --clients N (--seconds S | --requests R) --body-file F``; prints one
JSON object (requests, errors, seconds, p50_ms, p99_ms) on stdout.

Why not a threaded ``http.client``: the client shares the machine's 2 cores with the server, and 8-32 Python
threads building requests with ``http.client`` spend more CPU (and GIL hand-offs) than the server under test.
Here every connection is one coroutine on one event loop (uvloop when installed) writing a request prepared once
as bytes and reading the answer by its ``Content-Length``: a few microseconds of client CPU a request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured on the client side."""

    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (exclusive method, as ``statistics.quantiles``)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def request_bytes(port: int, body: bytes, content_type: str, accept: str) -> bytes:
    """One complete ``POST /invocations`` request, built once and written as is for every request."""
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Accept: {accept}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one response; its body is read and dropped (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") != "close"


async def _client(
    port: int, request: bytes, stop_at: float, quota: int | None, latencies: list[float]
) -> int:  # errors
    errors = 0
    reader, writer = await asyncio.open_connection(HOST, port)
    done = 0
    while (quota is None and time.perf_counter() < stop_at) or (quota is not None and done < quota):
        started = time.perf_counter()
        try:
            writer.write(request)
            status, keep_alive = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, keep_alive = 0, False
        latencies.append((time.perf_counter() - started) * 1000.0)
        done += 1
        errors += status != 200
        if not keep_alive:
            writer.close()
            reader, writer = await asyncio.open_connection(HOST, port)
    writer.close()
    return errors


async def run(port: int, request: bytes, clients: int, seconds: float | None, requests: int | None) -> LoadResult:
    """``clients`` keep-alive connections posting ``request`` for ``seconds`` or ``requests`` each."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + (seconds or 0.0)
    began = time.perf_counter()
    errors = await asyncio.gather(*(_client(port, request, stop_at, requests, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return LoadResult(
        clients, len(latencies), sum(errors), elapsed, percentile(latencies, 50), percentile(latencies, 99)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--requests", type=int, default=None, help="requests per client instead of --seconds")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--accept", default="application/json")
    args = parser.parse_args()
    if (args.seconds is None) == (args.requests is None):
        parser.error("give exactly one of --seconds and --requests")
    request = request_bytes(args.port, args.body_file.read_bytes(), args.content_type, args.accept)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):  # plain asyncio is lean too; uvloop trims the client's CPU further
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(run(args.port, request, args.clients, args.seconds, args.requests))
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
