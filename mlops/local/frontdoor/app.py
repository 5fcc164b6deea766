"""The front door: the ONE local endpoint URL. SageMaker runtime calls go to the local model processes, every
other request goes to the emulator (moto) unchanged.

``POST /endpoints/<name>/invocations`` (and ``/invocations-response-stream``), signed for service ``sagemaker``,
is answered as SageMaker's runtime answers it: the endpoint's routing table (:mod:`.routing`) names its variants;
``X-Amzn-SageMaker-Target-Variant`` picks one, else one is drawn by weight; the body goes to the variant's
``POST /invocations`` with ``Content-Type``, ``Accept``, ``X-Amzn-SageMaker-Custom-Attributes`` and the inference
id; the model's answer comes back with ``x-Amzn-Invoked-Production-Variant``. A model's 4xx/5xx becomes
SageMaker's ``ModelError`` (HTTP 424 with ``OriginalStatusCode``/``OriginalMessage``), an unknown endpoint or
variant a ``ValidationError``: botocore raises the same exception classes as against AWS. A variant whose process
cannot be reached (stopped between the routing decision and the call) is retried once on another variant, so a
traffic shift or rollback never fails a request. Each invocation is counted for the endpoint metrics
(:mod:`.metrics`) and, when the variant's endpoint config says so, captured (:mod:`mlops.capture`); both are
buffered and written by background threads.

SageMaker Pipelines' ``ListPipelineExecutionSteps``, ``DescribePipelineExecution`` and ``ListPipelineExecutions``
are answered from the local pipeline executor's records (:mod:`.pipelines`): moto runs no execution.

Everything else is streamed to moto and back (request and response bodies are not buffered; connections to moto
are pooled), so one ``endpoint_url`` serves every client. The outbound side is aiohttp: on this machine it spends
0.2 ms of CPU per loopback request where httpx's async client spends 1.5 ms. ``/_mlops/*`` is the front door's own
small API (health, flush, percentiles for the local alarm evaluation).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from mlops.capture import CaptureConfig, CaptureRecord, CaptureWriter
from mlops.local.frontdoor import pipelines
from mlops.local.frontdoor.eventstream import encode_event
from mlops.local.frontdoor.metrics import EndpointMetrics
from mlops.local.frontdoor.routing import EndpointTable, Fleet, TableCache

LOG = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ACCOUNT = "123456789012"  # moto's default account: the one the emulator's ARNs carry
DEFAULT_REGION = "us-east-1"
MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's payload limit
MODEL_TIMEOUT_S = 60.0  # InvokeEndpoint's model timeout
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_FORWARDED = (
    ("content-type", "Content-Type"),
    ("accept", "Accept"),
    ("x-amzn-sagemaker-custom-attributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("x-amzn-sagemaker-inference-id", "X-Amzn-SageMaker-Inference-Id"),
)


def signed_for(authorization: str) -> tuple[str, str] | None:
    """``(region, service)`` of a SigV4 ``Authorization`` header, ``None`` when unsigned."""
    found = _SCOPE.search(authorization)
    return (found.group(1), found.group(2)) if found else None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, ``None`` when it exceeds ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _error_body(code: str, message: str, **fields: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A rest-json error as SageMaker's runtime sends it (botocore reads the code from ``x-amzn-ErrorType``)."""
    body = json.dumps({"message": message, "Message": message, **fields}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", code.encode()),
        (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
    ]
    return body, headers


class FrontDoor:
    """The ASGI application (see the module docs)."""

    def __init__(
        self,
        moto_url: str,
        tables: TableCache,
        metrics: EndpointMetrics,
        capture: CaptureWriter | None,
    ) -> None:
        self.moto_url = moto_url.rstrip("/")
        self.tables = tables
        self.metrics = metrics
        self.capture = capture
        self._capture_configs: dict[str, CaptureConfig | None] = {}
        self._moto_session: aiohttp.ClientSession | None = None
        self._models_session: aiohttp.ClientSession | None = None
        self.pipelines = pipelines.PipelineApi(self._moto_fetch)

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        """Pooled sessions (created in the server's loop): to moto, byte for byte (no header of aiohttp's own, no
        decompression), and to the model processes."""
        if self._moto_session is None or self._models_session is None:
            self._moto_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=300.0, connect=5.0),
                auto_decompress=False,
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            )
            self._models_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=MODEL_TIMEOUT_S, connect=2.0),
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent"),
            )
        return self._moto_session, self._models_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_mlops/"):
            await self._own_api(scope, receive, send)
            return
        invocation = self._invocation_of(scope)
        if invocation is not None:
            await self._invoke(scope, receive, send, *invocation)
            return
        operation = pipelines.operation_of(_headers(scope)) if scope["method"] == "POST" else None
        if operation is not None:
            await self._pipeline_api(scope, receive, send, operation)
            return
        await self._proxy(scope, receive, send)

    def _invocation_of(self, scope: Scope) -> tuple[str, bool] | None:
        """``(endpoint, streaming)`` when the request is a SageMaker runtime invocation."""
        if scope["method"] != "POST" or not scope["path"].startswith("/endpoints/"):
            return None
        parts = scope["path"].split("/")
        if len(parts) != 4 or parts[3] not in ("invocations", "invocations-response-stream"):
            return None
        signed = signed_for(_headers(scope).get("authorization", ""))
        if signed is not None and signed[1] != "sagemaker":
            return None  # another service's path that merely looks alike: the emulator's business
        return parts[2], parts[3] == "invocations-response-stream"

    # --- lifespan ---------------------------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.metrics.start()
                if self.capture is not None:
                    self.capture.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        """Flush metrics and capture and close the pools (on shutdown)."""
        import asyncio

        await asyncio.to_thread(self.metrics.close)
        if self.capture is not None:
            await asyncio.to_thread(self.capture.close)
        for session in (self._moto_session, self._models_session):
            if session is not None:
                await session.close()

    # --- the runtime API --------------------------------------------------------------------------------------

    async def _invoke(self, scope: Scope, receive: Receive, send: Send, endpoint: str, streaming: bool) -> None:
        started = time.perf_counter()
        headers = _headers(scope)
        region = (signed_for(headers.get("authorization", "")) or (DEFAULT_REGION, ""))[0]
        body = await _read_body(receive, MAX_PAYLOAD)
        if body is None:
            await _respond(send, 413, *_error_body("ValidationError", f"Request payload exceeds {MAX_PAYLOAD} bytes"))
            return
        table = self.tables.get(endpoint)
        if table is None:
            message = f"Endpoint {endpoint} of account {ACCOUNT} not found."
            await _respond(send, 400, *_error_body("ValidationError", message))
            return
        target = headers.get("x-amzn-sagemaker-target-variant")
        if target and not table.has_variant(target):
            message = f"Target variant {target} not found for endpoint {endpoint}."
            await _respond(send, 400, *_error_body("ValidationError", message))
            return
        fleet = table.choose(variant=target)
        if fleet is None:
            message = f"Endpoint {endpoint} has no variant taking traffic."
            await _respond(send, 503, *_error_body("ServiceUnavailable", message))
            return
        forwarded = {name: headers[key] for key, name in _FORWARDED if key in headers}
        answer, fleet, model_us = await self._call_model(endpoint, table, fleet, body, forwarded, target=target)
        if answer is None:
            self.metrics.record(
                region,
                endpoint,
                fleet.variant,
                status=503,
                model_us=None,
                overhead_us=(time.perf_counter() - started) * 1e6,
            )
            message = f"Model of variant {fleet.variant} of endpoint {endpoint} is not reachable."
            await _respond(send, 503, *_error_body("ServiceUnavailable", message))
            return
        status, content, model_headers = answer
        if status >= 400:
            await self._model_error(send, endpoint, fleet, status, content)
        elif streaming:
            await self._stream_answer(send, fleet, content, model_headers)
        else:
            await _respond(send, 200, content, self._answer_headers(fleet, model_headers))
        overhead_us = max((time.perf_counter() - started) * 1e6 - model_us, 0.0)
        self.metrics.record(region, endpoint, fleet.variant, status=status, model_us=model_us, overhead_us=overhead_us)
        if status < 400:
            self._capture(endpoint, fleet, forwarded, (body, model_headers, content))

    async def _call_model(
        self,
        endpoint: str,
        table: EndpointTable,
        fleet: Fleet,
        body: bytes,
        headers: dict[str, str],
        *,
        target: str | None,
    ) -> tuple[tuple[int, bytes, CIMultiDictProxy[str]] | None, Fleet, float]:
        """POST to the fleet's process; once more on another fleet (of the target variant, if any) when it cannot
        be reached: a process stopped by a traffic shift or a rollback just after it was chosen."""
        _, models = self._sessions()
        tried: set[str] = set()
        current: Fleet | None = fleet
        last = fleet
        while current is not None:
            last = current
            began = time.perf_counter()
            try:
                async with models.post(current.url + "/invocations", data=body, headers=headers) as response:
                    content = await response.read()
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                LOG.info("fleet %s of %s did not answer (%s); trying another", current.fleet, endpoint, exc)
                tried.add(current.fleet)
                if len(tried) > 1:
                    break
                fresh = self.tables.get(endpoint) or table
                current = fresh.choose(variant=target, excluding=frozenset(tried))
                continue
            model_us = (time.perf_counter() - began) * 1e6
            return (response.status, content, response.headers), current, model_us
        return None, last, 0.0

    @staticmethod
    def _answer_headers(fleet: Fleet, model_headers: CIMultiDictProxy[str]) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", model_headers.get("content-type", "application/octet-stream").encode()),
            (b"x-amzn-invoked-production-variant", fleet.variant.encode()),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        ]
        custom = model_headers.get("x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            headers.append((b"x-amzn-sagemaker-custom-attributes", custom.encode()))
        return headers

    @staticmethod
    async def _model_error(send: Send, endpoint: str, fleet: Fleet, status: int, content: bytes) -> None:
        original = content.decode("utf-8", errors="replace")
        kind = "client" if status < 500 else "server"
        message = (
            f'Received {kind} error ({status}) from primary with message "{original}". '
            f"See the log of variant {fleet.variant} of endpoint {endpoint}: {fleet.log_file}"
        )
        log_stream = f"arn:aws:logs:{DEFAULT_REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{endpoint}"
        body, headers = _error_body(
            "ModelError",
            message,
            OriginalStatusCode=status,
            OriginalMessage=original,
            LogStreamArn=log_stream,
            ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
        )
        await _respond(send, 424, body, headers)

    async def _stream_answer(
        self, send: Send, fleet: Fleet, content: bytes, model_headers: CIMultiDictProxy[str]
    ) -> None:
        """The answer as ``InvokeEndpointWithResponseStream`` sends it: ``PayloadPart`` events."""
        content_type = model_headers.get("content-type", "application/octet-stream")
        headers = [
            (b"content-type", b"application/vnd.amazon.eventstream"),
            (b"x-amzn-sagemaker-content-type", content_type.encode()),
            (b"x-amzn-invoked-production-variant", fleet.variant.encode()),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        step = 64 * 1024
        for start in range(0, max(len(content), 1), step):
            event = encode_event("PayloadPart", content[start : start + step])
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _capture(
        self,
        endpoint: str,
        fleet: Fleet,
        forwarded: dict[str, str],
        exchange: tuple[bytes, CIMultiDictProxy[str], bytes],
    ) -> None:
        body, answer, out = exchange
        if self.capture is None or not fleet.data_capture:
            return
        key = f"{endpoint}/{fleet.fleet}/{fleet.endpoint_config}"
        if key not in self._capture_configs:
            try:
                self._capture_configs[key] = CaptureConfig.from_request(fleet.data_capture)
            except ValueError as exc:
                LOG.warning("data capture of %s is off: %s", key, exc)
                self._capture_configs[key] = None
        config = self._capture_configs[key]
        if config is None or not config.sampled():
            return
        request_type = forwarded.get("Content-Type", "application/octet-stream")
        answer_type = answer.get("content-type", "application/octet-stream")
        inference_id = forwarded.get("X-Amzn-SageMaker-Inference-Id")
        when = datetime.now(UTC)

        def build() -> CaptureRecord:  # encoded on the writer's thread: a 6 MB body never blocks the loop
            return config.record(request_type, body, answer_type, out, when=when, inference_id=inference_id)

        self.capture.offer(config.destination_uri, endpoint, fleet.variant, build)

    # --- SageMaker Pipelines' executions, as the local executor ran them (:mod:`.pipelines`) ---------------------

    async def _pipeline_api(self, scope: Scope, receive: Receive, send: Send, operation: str) -> None:
        body = await _read_body(receive, MAX_PAYLOAD)
        if body is None:
            await _respond(send, 413, *_error_body("ValidationError", f"Request payload exceeds {MAX_PAYLOAD} bytes"))
            return
        # the answer is read and rewritten here: asked for as is, not compressed
        skipped = HOP_BY_HOP | {b"accept-encoding"}
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.lower() not in skipped]
        try:
            answer = await self.pipelines.answer(operation, headers, body)
        except aiohttp.ClientError as exc:
            await _respond(send, 502, f"the emulator at {self.moto_url} did not answer: {exc}".encode(), [])
            return
        json_type = [
            (b"content-type", b"application/x-amz-json-1.1"),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        ]
        await _respond(send, answer.status, answer.body, json_type)

    async def _moto_fetch(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, bytes]:
        moto, _ = self._sessions()
        async with moto.request(method, URL(self.moto_url + path, encoded=True), headers=headers, data=body) as answer:
            return answer.status, await answer.read()

    # --- everything else: the emulator ----------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = self.moto_url + raw_path.decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP
        ]
        # a request without a body (most GETs) must not reach moto as a chunked one
        has_body = any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])
        moto, _ = self._sessions()
        started = False
        try:
            # encoded=True: the path is passed as the client signed it (S3 keys keep their percent-encoding)
            async with moto.request(
                scope["method"], URL(target, encoded=True), headers=headers, data=_stream(receive) if has_body else None
            ) as response:
                out = [(k, v) for k, v in response.raw_headers if k.lower() not in HOP_BY_HOP]
                await send({"type": "http.response.start", "status": response.status, "headers": out})
                started = True
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except aiohttp.ClientError as exc:
            if started:  # cut mid-answer: the client sees a short body, as from moto itself
                LOG.warning("the emulator's answer to %s %s broke off: %s", scope["method"], scope["path"], exc)
                return
            await _respond(send, 502, f"the emulator at {self.moto_url} did not answer: {exc}".encode(), [])

    # --- /_mlops/*: the front door's own API ------------------------------------------------------------------

    async def _own_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        import asyncio

        path = scope["path"]
        json_type = [(b"content-type", b"application/json")]
        if path == "/_mlops/health":
            await _respond(send, 200, json.dumps({"status": "ok", "moto": self.moto_url}).encode(), json_type)
        elif path == "/_mlops/flush" and scope["method"] == "POST":
            metrics = await asyncio.to_thread(self.metrics.flush)
            captured = await asyncio.to_thread(self.capture.flush) if self.capture is not None else 0
            await _respond(send, 200, json.dumps({"metrics": metrics, "captured": captured}).encode(), json_type)
        elif path == "/_mlops/percentile":
            query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
            try:
                points = self.metrics.percentile(
                    query["endpoint"],
                    query["variant"],
                    query["metric"],
                    statistic=query["statistic"],
                    start=float(query["start"]),
                    end=float(query["end"]),
                    period=int(query["period"]),
                )
            except (KeyError, ValueError) as exc:
                await _respond(send, 400, json.dumps({"message": f"bad percentile query: {exc}"}).encode(), json_type)
                return
            await _respond(send, 200, json.dumps([[t, v] for t, v in points]).encode(), json_type)
        else:
            await _respond(send, 404, json.dumps({"message": f"no {path} here"}).encode(), json_type)


async def _stream(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives (never buffered whole)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
