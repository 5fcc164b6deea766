"""A stand-in serving container for the front door and deployment tests: ``python -m tests.support.toy_model
serve --host H --port P`` answers the SageMaker container contract (``GET /ping``, ``POST /invocations``) by
echoing the request with its version, so a test sees which process answered.

Its behaviour comes from its environment, as a real container's does: ``TOY_VERSION`` (the version it reports),
``TOY_FAIL_MARKER`` (a request whose body holds it is answered 500, as a model that breaks on some inputs),
``TOY_DELAY_MS`` (every answer takes this long, as a model slower than its latency target). Custom attributes
(``X-Amzn-SageMaker-Custom-Attributes``) are echoed back, as a container may do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSION = os.environ.get("TOY_VERSION", "1")
FAIL_MARKER = os.environ.get("TOY_FAIL_MARKER", "")
DELAY_S = float(os.environ.get("TOY_DELAY_MS", "0")) / 1000.0


async def ping(_: Request) -> Response:
    return JSONResponse({"status": "healthy", "version": VERSION})


async def invocations(request: Request) -> Response:
    body = await request.body()
    if DELAY_S:
        await asyncio.sleep(DELAY_S)
    if FAIL_MARKER and FAIL_MARKER.encode() in body:
        return JSONResponse({"message": f"version {VERSION} cannot score this input"}, status_code=500)
    headers = {}
    custom = request.headers.get("x-amzn-sagemaker-custom-attributes")
    if custom is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = f"echo={custom}"
    answer = {"version": VERSION, "echo": body.decode(errors="replace"), "accept": request.headers.get("accept")}
    return Response(json.dumps(answer), media_type="application/json", headers=headers)


app = Starlette(routes=[Route("/ping", ping), Route("/invocations", invocations, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
