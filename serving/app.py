"""The web layer of the SageMaker hosting contract: ``GET /ping``, ``POST /invocations`` (and ``GET /stats``).

Thin on purpose: it reads the body (refusing more than 6 MB before reading it all), hands it to
:class:`~serving.core.InferenceCore`, and lets :class:`~serving.batcher.MicroBatcher` put concurrent requests
into one ``predict`` in a worker thread. Every request is logged as one JSON line with its latency; the model's
load time is logged at start-up and reported by ``/ping`` and ``/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import statistics
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving.batcher import MicroBatcher, limit_native_threads
from serving.core import InferenceCore, error_response
from serving.errors import InvocationError, PayloadTooLargeError
from serving.logs import now_ms
from serving.payload import MAX_PAYLOAD_BYTES, raise_too_large

log = logging.getLogger("serving.app")
# Bodies larger than this are parsed in a worker thread so the event loop keeps answering.
_PARSE_INLINE_BYTES = 64 * 1024


class ServerState:
    """The loaded core, its batcher and the latencies of recent requests."""

    def __init__(self, core: InferenceCore) -> None:
        self.core = core
        self.batcher = MicroBatcher(core.predict_rows)
        self.latencies_ms: deque[float] = deque(maxlen=10_000)
        self.requests = 0
        self.errors = 0


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise_too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise_too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(load_core: Callable[[], InferenceCore]) -> Starlette:
    """The ASGI app; ``load_core`` runs once at start-up (``/ping`` answers only after the model loaded)."""
    holder: dict[str, ServerState] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        core = await asyncio.to_thread(load_core)
        model = core.model
        log.info(
            "model loaded",
            extra={
                "model_uri": model.uri,
                "model_version": model.version,
                "load_seconds": round(model.load_seconds, 3),
            },
        )
        limit_native_threads(1)  # small batches are predicted on this, the event loop's thread (see batcher)
        holder["state"] = ServerState(core)
        # The loaded model, mlflow, pandas and sklearn are ~360k long-lived objects: a full collection scans them
        # all (190 ms measured on this host), a p99 spike whenever request garbage triggers one. Frozen, they are
        # never scanned again; requests' own garbage is still collected.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            holder["state"].batcher.close()

    async def ping(_: Request) -> Response:
        model = holder["state"].core.model
        body = {"status": "healthy", "model": model.name, "version": model.version}
        return Response(json.dumps(body), media_type="application/json")

    async def invocations(request: Request) -> Response:
        state = holder["state"]
        started = now_ms()
        rows = 0
        try:
            body = await _read_body(request)
            content_type, accept = request.headers.get("content-type"), request.headers.get("accept")
            if len(body) > _PARSE_INLINE_BYTES:
                prepared = await asyncio.to_thread(state.core.prepare, body, content_type, accept)
            else:
                prepared = state.core.prepare(body, content_type, accept)
            rows = len(prepared.rows)
            answer = state.core.respond(await state.batcher.predict(prepared.rows), prepared.accept)
        except InvocationError as exc:
            answer = error_response(exc)
        elapsed = now_ms() - started
        _record(state, answer.status, rows, elapsed, request)
        headers = {"Connection": "close"} if answer.status == PayloadTooLargeError.status else None
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type, headers=headers)

    async def stats(_: Request) -> Response:
        state = holder["state"]
        return Response(json.dumps(_stats(state)), media_type="application/json")

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _record(state: ServerState, status: int, rows: int, elapsed_ms: float, request: Request) -> None:
    state.requests += 1
    state.latencies_ms.append(elapsed_ms)
    extra: dict[str, Any] = {"status": status, "rows": rows, "latency_ms": round(elapsed_ms, 3)}
    if status >= 400:
        state.errors += 1
        log.warning("invocation refused", extra={**extra, "content_type": request.headers.get("content-type")})
    else:
        log.info("invocation", extra=extra)


def _stats(state: ServerState) -> dict[str, Any]:
    latencies = sorted(state.latencies_ms)
    model = state.core.model
    summary: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "model_load_seconds": round(model.load_seconds, 3),
        "requests": state.requests,
        "errors": state.errors,
        "predict_batches": state.batcher.batches,
        "predicted_rows": state.batcher.rows,
    }
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100)
        summary.update(latency_p50_ms=round(cuts[49], 3), latency_p99_ms=round(cuts[98], 3))
    return summary
