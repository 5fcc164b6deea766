"""The web layer of the SageMaker hosting contract: ``GET /ping``, ``POST /invocations`` (and ``GET /stats``), plus
MLflow's scoring server's ``GET /health`` (the same as ``/ping``) and ``GET /version`` (the MLflow version), and,
when given :class:`VertexRoutes`, Vertex AI's custom-container contract on the routes Vertex names
(``AIP_HEALTH_ROUTE`` answers as ``/ping``; ``AIP_PREDICT_ROUTE`` as ``/invocations``, with Vertex's
``{"instances": [...]}`` answered ``{"predictions": [...]}``): one app, one core, one micro-batcher for both.

Thin on purpose: it reads the body (refusing more than 6 MB before reading it all), hands it to
:class:`~serving.core.InferenceCore`, and lets :class:`~serving.batcher.MicroBatcher` put concurrent requests
into one ``predict`` in a worker thread. Every request is logged as one JSON line with its latency; the model's
load time is logged at start-up and reported by ``/ping`` and ``/stats``.

Bad input never reaches the client as a plain-text error or a hung connection: every error, 4xx or 5xx, is a JSON
body in MLflow's shape (``error_code``, ``message``); a failure of the server itself is logged once and answered
500; a client that stops sending its body is answered 408 after ``body_timeout_s`` and its connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import statistics
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving.batcher import MicroBatcher, limit_native_threads
from serving.core import RESPONSE_FORMAT_HEADER, InferenceCore, error_response
from serving.errors import BodyTimeoutError, InternalServerError, InvocationError, PayloadTooLargeError
from serving.logs import now_ms
from serving.payload import MAX_PAYLOAD_BYTES, raise_too_large

log = logging.getLogger("serving.app")
# Bodies larger than this are parsed in a worker thread so the event loop keeps answering.
_PARSE_INLINE_BYTES = 64 * 1024
BODY_TIMEOUT_S = 60.0  # SageMaker's InvokeEndpoint timeout: a body not complete by then never will be
_CLOSE_STATUSES = (PayloadTooLargeError.status, BodyTimeoutError.status)  # the rest of the body is not read


@dataclass(frozen=True)
class VertexRoutes:
    """The routes Vertex AI health-checks and sends predictions to (``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE``);
    ``None`` where the container is not told one (not on Vertex)."""

    health: str | None = None
    predict: str | None = None


class ServerState:
    """The loaded core, its batcher and the latencies of recent requests."""

    def __init__(self, core: InferenceCore) -> None:
        self.core = core
        self.batcher = MicroBatcher(core.predict_rows)
        self.latencies_ms: deque[float] = deque(maxlen=10_000)
        self.requests = 0
        self.errors = 0


async def _read_body(request: Request, timeout_s: float) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_all(request)
    except TimeoutError:
        raise BodyTimeoutError(f"the request body was not complete within {timeout_s:g} s") from None


async def _read_all(request: Request) -> bytes:
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


def build_app(
    load_core: Callable[[], InferenceCore],
    body_timeout_s: float = BODY_TIMEOUT_S,
    vertex: VertexRoutes | None = None,
) -> Starlette:
    """The ASGI app; ``load_core`` runs once at start-up (``/ping`` answers only after the model loaded); ``vertex``
    adds Vertex AI's routes (before the others: a Vertex route named like one of them is Vertex's)."""
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
                "engine": model.engine,
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

    async def version(_: Request) -> Response:
        from mlflow.version import VERSION

        return Response(VERSION, media_type="application/json")  # what MLflow's scoring server answers

    def scoring(vertex: bool) -> Callable[[Request], Awaitable[Response]]:
        """``POST /invocations`` (``vertex``: Vertex's predict route): the same core, batcher and logging."""

        async def invocations(request: Request) -> Response:
            return await _invoke(holder["state"], request, body_timeout_s, vertex)

        return invocations

    async def stats(_: Request) -> Response:
        state = holder["state"]
        return Response(json.dumps(_stats(state)), media_type="application/json")

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/invocations", scoring(vertex=False), methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
    ]
    vertex = vertex or VertexRoutes()
    if vertex.predict:
        routes.insert(0, Route(vertex.predict, scoring(vertex=True), methods=["POST"]))
    if vertex.health:
        routes.insert(0, Route(vertex.health, ping, methods=["GET"]))
    handlers = {HTTPException: _http_error, Exception: _server_error}
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)


async def _invoke(state: ServerState, request: Request, body_timeout_s: float, vertex: bool) -> Response:
    """One scoring request: read, prepare (large bodies in a thread), predict in the batcher, answer; every error as
    JSON, a failure of the server's own logged once (the server serves on)."""
    started = now_ms()
    rows = 0
    try:
        body = await _read_body(request, body_timeout_s)
        received = request.headers
        asked = (received.get("content-type"), received.get("accept"), received.get(RESPONSE_FORMAT_HEADER))
        if len(body) > _PARSE_INLINE_BYTES:
            prepared = await asyncio.to_thread(state.core.prepare, body, *asked, vertex=vertex)
        else:
            prepared = state.core.prepare(body, *asked, vertex=vertex)
        rows = len(prepared.rows)
        answer = state.core.respond(await state.batcher.predict(prepared.rows), prepared)
    except InvocationError as exc:
        answer = error_response(exc)
    except Exception as exc:  # a bug of the server's own: logged once, answered as JSON, the server serves on
        log.exception("invocation failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        answer = error_response(InternalServerError(f"the server failed on this request: {type(exc).__name__}"))
    elapsed = now_ms() - started
    _record(state, answer.status, rows, elapsed, request)
    headers = {"Connection": "close"} if answer.status in _CLOSE_STATUSES else None
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type, headers=headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    """Routing errors (404 unknown path, 405 wrong method) as JSON in MLflow's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = "ENDPOINT_NOT_FOUND" if status in (404, 405) else "BAD_REQUEST"
    body = json.dumps({"error_code": code, "message": str(getattr(exc, "detail", exc))})
    return Response(body, status_code=status, media_type="application/json")


async def _server_error(_: Request, exc: Exception) -> Response:
    """Anything that escaped a handler: JSON, never starlette's plain-text 500."""
    log.error("request failed", extra={"error": f"{type(exc).__name__}: {exc}"})
    body = json.dumps({"error_code": "INTERNAL_ERROR", "message": f"the server failed: {type(exc).__name__}"})
    return Response(body, status_code=500, media_type="application/json")


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
        "engine": model.engine,
        "requests": state.requests,
        "errors": state.errors,
        "predict_batches": state.batcher.batches,
        "predicted_rows": state.batcher.rows,
    }
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100)
        summary.update(latency_p50_ms=round(cuts[49], 3), latency_p99_ms=round(cuts[98], 3))
    return summary
