"""Start the inference server: ``python -m serving [serve] [--model-uri URI] [--host H] [--port P]``.

Configuration follows the SageMaker container contract and MLflow's variables:

- port: ``--port``, else ``SAGEMAKER_BIND_TO_PORT``, else ``PORT``, else 8080; host ``0.0.0.0`` by default;
- model: ``--model-uri``, else ``SERVING_MODEL_URI`` (``models:/<name>@champion``, ``models:/<name>/<v>`` or a
  model package ARN); tracking URI from ``MLFLOW_TRACKING_URI``;
- online features: ``SERVING_DATASET`` (definition in ``SERVING_DATASETS_DIR``, default ``pipelines/datasets``)
  gives the entity key, ``SERVING_ONLINE_TABLE`` the DynamoDB table holding the latest features (reached
  through the kit's settings: ``MLOPS_TARGET``, ``MLOPS_ENDPOINT_URL``, ``MLOPS_REGION``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlops.adapters.feature_store import OnlineStore
from serving import logs
from serving.core import InferenceCore
from serving.errors import ModelLoadError
from serving.model import load_model, model_uri_from_package

log = logging.getLogger("serving.server")
DEFAULT_PORT = 8080


def port_from(env: Mapping[str, str]) -> int:
    """``SAGEMAKER_BIND_TO_PORT``, then ``PORT``, then 8080."""
    raw = env.get("SAGEMAKER_BIND_TO_PORT") or env.get("PORT") or str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"port {raw!r} from SAGEMAKER_BIND_TO_PORT/PORT is not a TCP port number")
    return int(raw)


def _boto3_client(service: str) -> object:
    import boto3  # the container's own credentials and region (SageMaker execution role)

    return boto3.session.Session().client(service)


def _online_store(table: str) -> OnlineStore:
    """The shared DynamoDB adapter, reached the way the kit's settings say (``MLOPS_TARGET`` etc.)."""
    from mlops.adapters.feature_store import DynamoDBOnlineStore
    from mlops.adapters.aws.clients import ClientFactory
    from mlops.settings import load_settings

    return DynamoDBOnlineStore(ClientFactory(load_settings()), table)


def build_core(model_uri: str, env: Mapping[str, str]) -> InferenceCore:
    """Load the model and, when configured, the online feature store the server completes requests from."""
    if model_uri.startswith("arn:aws:sagemaker:"):
        model_uri = model_uri_from_package(model_uri, _boto3_client("sagemaker"))
    model = load_model(model_uri, env.get("MLFLOW_TRACKING_URI"))
    entity_key: str | None = None
    store: OnlineStore | None = None
    dataset = env.get("SERVING_DATASET")
    if dataset:
        from mlops.datasets import find_definition

        definition = find_definition(dataset, Path(env.get("SERVING_DATASETS_DIR", "pipelines/datasets")))
        entity_key = definition.entity_key
        table = env.get("SERVING_ONLINE_TABLE")
        if table:
            store = _online_store(table)
    return InferenceCore(model, dataset=dataset, entity_key=entity_key, online_store=store)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"], help="SageMaker runs `serve`")
    parser.add_argument("--model-uri", default=os.environ.get("SERVING_MODEL_URI"))
    parser.add_argument("--host", default=os.environ.get("SERVING_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logs.configure(os.environ.get("SERVING_LOG_LEVEL", "INFO"))
    if not args.model_uri:
        raise SystemExit(
            "no model: pass --model-uri or set SERVING_MODEL_URI (e.g. models:/card_transactions@champion)"
        )
    port = args.port or port_from(os.environ)
    env = dict(os.environ)

    def load() -> InferenceCore:
        try:
            return build_core(args.model_uri, env)
        except ModelLoadError as exc:
            log.error("model load failed", extra={"model_uri": args.model_uri, "error": str(exc)})
            raise

    import uvicorn

    from serving.app import build_app

    loop, http = _fast_io()
    log.info(
        "starting", extra={"host": args.host, "port": port, "model_uri": args.model_uri, "loop": loop, "http": http}
    )
    # access_log off: every invocation is already logged once, as JSON with its latency, by the app
    uvicorn.run(
        build_app(load),
        host=args.host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop=loop,
        http=http,
    )


def _fast_io() -> tuple[str, str]:
    """uvloop and httptools (uvicorn[standard]) when importable, named explicitly so the start-up log says which
    event loop and HTTP parser serve (the pure-Python fallbacks are slower)."""
    loop, http = "asyncio", "h11"
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        loop = "uvloop"
    with contextlib.suppress(ImportError):
        import httptools  # noqa: F401

        http = "httptools"
    return loop, http
