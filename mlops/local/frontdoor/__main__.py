"""``python -m mlops.local.frontdoor --port P --moto-url URL --endpoints-dir DIR``: run the front door (started
and stopped by ``mlops local up``/``down``, see :mod:`mlops.local.frontdoor.process`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.s3 import S3ObjectStore
from mlops.capture import CaptureWriter
from mlops.local.frontdoor.app import FrontDoor
from mlops.local.frontdoor.metrics import NAMESPACE, EndpointMetrics
from mlops.local.frontdoor.routing import TableCache
from mlops.settings import load_settings


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mlops.local.frontdoor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto-url", required=True, help="the emulator every other request is passed to")
    parser.add_argument("--endpoints-dir", type=Path, required=True, help="the endpoints' routing tables")
    parser.add_argument("--metrics-flush-seconds", type=float, default=60.0)
    parser.add_argument("--capture-flush-seconds", type=float, default=60.0)
    return parser.parse_args(argv)


def build_app(args: argparse.Namespace) -> FrontDoor:
    """The front door wired to the emulator: metrics to its CloudWatch, capture to its S3 (directly, not through
    the front door itself)."""
    factories: dict[str, ClientFactory] = {}

    def factory(region: str) -> ClientFactory:
        if region not in factories:
            factories[region] = ClientFactory(load_settings(target="moto", region=region, endpoint_url=args.moto_url))
        return factories[region]

    def publish(region: str, data: list[dict[str, Any]]) -> None:
        factory(region).client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=data)

    metrics = EndpointMetrics(publish, flush_seconds=args.metrics_flush_seconds)
    store = S3ObjectStore(ClientFactory(load_settings(target="moto", endpoint_url=args.moto_url)))
    capture = CaptureWriter(store, flush_seconds=args.capture_flush_seconds)
    return FrontDoor(args.moto_url, TableCache(args.endpoints_dir), metrics, capture)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    uvicorn.run(
        build_app(args),
        host=args.host,
        port=args.port,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
