"""Start the inference server: ``python -m serving [serve] [--model-uri URI] [--host H] [--port P]``.

Configuration follows the SageMaker and Vertex AI container contracts and MLflow's variables:

- port: ``--port``, else ``AIP_HTTP_PORT`` (Vertex), else ``SAGEMAKER_BIND_TO_PORT``, else ``PORT``, else 8080;
  host ``0.0.0.0`` by default;
- routes: SageMaker's ``GET /ping`` and ``POST /invocations`` always; on Vertex AI also the routes Vertex sets in
  ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` (:func:`vertex_routes`; :mod:`serving.app`);
- model: ``--model-uri``, else ``SERVING_MODEL_URI`` (``models:/<name>@champion``, ``models:/<name>/<v>`` or a
  model package ARN); tracking URI from ``MLFLOW_TRACKING_URI``;
- online features: ``SERVING_DATASET`` (definition in ``SERVING_DATASETS_DIR``, default ``pipelines/datasets``)
  gives the entity key, ``SERVING_ONLINE_TABLE`` the online store's table holding the latest features;
- answers: ``SERVING_RESPONSE_FORMAT`` ``kit`` (default) or ``mlflow`` (exactly what ``mlflow models serve``
  answers; a request may ask with the ``X-Mlops-Response-Format`` header); ``SERVING_MODEL_ENGINE`` ``auto``
  (default: the version's compiled model when it has one) or ``plain``; ``SERVING_BODY_TIMEOUT_SECONDS`` (60) for a
  client that stops sending its body.

The container's services (the online store, the model package lookup) are the kit's ports, wired by
:func:`mlops.wiring.container_platform` from the kit's settings in the environment (``MLOPS_TARGET``,
``MLOPS_REGION``, ``MLOPS_ENDPOINT_URL``, ``MLOPS_SERVICES__*``): the server never chooses a cloud itself.
:func:`in_process` serves a container's environment in the calling process (the memory hosting's ``serve``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from mlops.platform import Platform
from mlops.ports.hosting import MODEL_URI_ENV, Container, HostingError, is_package
from mlops.ports.online_store import OnlineStore
from serving import logs
from serving.app import BODY_TIMEOUT_S, VertexRoutes
from serving.compiled import engine_from
from serving.core import InferenceCore
from serving.errors import InvocationError, ModelLoadError
from serving.model import load_model
from serving.payload import KIT_FORMAT, RESPONSE_FORMAT_ENV

log = logging.getLogger("serving.server")
DEFAULT_PORT = 8080
PORT_VARIABLES = ("AIP_HTTP_PORT", "SAGEMAKER_BIND_TO_PORT", "PORT")
"""Where the container finds its port, first set wins: Vertex AI's, SageMaker's, the generic one."""
VERTEX_HEALTH_ROUTE = "AIP_HEALTH_ROUTE"
VERTEX_PREDICT_ROUTE = "AIP_PREDICT_ROUTE"


def port_from(env: Mapping[str, str]) -> int:
    """``AIP_HTTP_PORT``, then ``SAGEMAKER_BIND_TO_PORT``, then ``PORT``, then 8080."""
    named = next((name for name in PORT_VARIABLES if env.get(name)), None)
    raw = env[named] if named else str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"port {raw!r} from {named or 'the default'} is not a TCP port number")
    return int(raw)


def vertex_routes(env: Mapping[str, str]) -> VertexRoutes:
    """The routes Vertex AI told the container (``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE``); unset ones are
    ``None``. A route that is not an absolute path is refused, naming the variable."""
    routes: dict[str, str | None] = {}
    for field, variable in (("health", VERTEX_HEALTH_ROUTE), ("predict", VERTEX_PREDICT_ROUTE)):
        route = env.get(variable) or None
        if route is not None and (not route.startswith("/") or "{" in route or "}" in route):
            raise ValueError(
                f"{variable} {route!r} is not an absolute URL path (like /v1/endpoints/1/deployedModels/2)"
            )
        routes[field] = route
    return VertexRoutes(**routes)


def container_platform(env: Mapping[str, str]) -> Platform:
    """The container's platform: the kit's settings (``MLOPS_*``; those in ``env`` win over the process
    environment's) and the one stack output the container is handed (``SERVING_ONLINE_TABLE``)."""
    from mlops.settings import load_settings
    from mlops.wiring import container_platform as wired

    settings = load_settings(
        target=env.get("MLOPS_TARGET"), region=env.get("MLOPS_REGION"), endpoint_url=env.get("MLOPS_ENDPOINT_URL")
    )
    table = env.get("SERVING_ONLINE_TABLE")
    return wired(settings, **({"online_feature_table": table} if table else {}))


def build_core(model_uri: str, env: Mapping[str, str], platform: Platform | None = None) -> InferenceCore:
    """Load the model and, when configured, the online feature store the server completes requests from.

    A model package (a SageMaker model package ARN, a Vertex AI Model Registry version) is resolved to the model it
    deploys through the hosting port.
    """
    platform = platform or container_platform(env)
    if is_package(model_uri):
        try:
            model_uri = platform.services.hosting.model_uri_of_package(model_uri)
        except HostingError as exc:
            raise ModelLoadError(f"model package {model_uri!r} cannot be served: {exc}") from exc
    model = load_model(model_uri, env.get("MLFLOW_TRACKING_URI"), engine_from(env))
    entity_key: str | None = None
    store: OnlineStore | None = None
    dataset = env.get("SERVING_DATASET")
    if dataset:
        from mlops.datasets import find_definition

        definition = find_definition(dataset, Path(env.get("SERVING_DATASETS_DIR", "pipelines/datasets")))
        entity_key = definition.entity_key
        if env.get("SERVING_ONLINE_TABLE"):
            store = platform.services.online_store
    response_format = env.get(RESPONSE_FORMAT_ENV, KIT_FORMAT)
    try:
        return InferenceCore(model, dataset, entity_key, store, response_format)
    except InvocationError as exc:
        raise ModelLoadError(f"{RESPONSE_FORMAT_ENV}: {exc}") from exc


Handler = Callable[[bytes, str, str], tuple[int, bytes, str]]


def in_process(container: Container) -> Handler:
    """``container`` served in this process: the core ``serve`` would build from the same environment, as a
    function of (body, content type, accept) -> (status, body, content type)."""
    env = {**container.environment, **container.extra_environment}
    core = build_core(env[MODEL_URI_ENV], env)

    def handle(body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        answer = core.invocations(body, content_type, accept)
        return answer.status, answer.body, answer.content_type

    return handle


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"], help="SageMaker runs `serve`")
    parser.add_argument("--model-uri", default=os.environ.get(MODEL_URI_ENV))
    parser.add_argument("--host", default=os.environ.get("SERVING_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logs.configure(os.environ.get("SERVING_LOG_LEVEL", "INFO"))
    if not args.model_uri:
        raise SystemExit(
            "no model: pass --model-uri or set SERVING_MODEL_URI (e.g. models:/card_transactions@champion)"
        )
    port = args.port or port_from(os.environ)
    vertex = vertex_routes(os.environ)
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
        "starting",
        extra={"host": args.host, "port": port, "model_uri": args.model_uri, "loop": loop, "http": http}
        | {f"vertex_{field}_route": route for field, route in asdict(vertex).items() if route},
    )
    # access_log off: every invocation is already logged once, as JSON with its latency, by the app
    body_timeout = float(os.environ.get("SERVING_BODY_TIMEOUT_SECONDS", BODY_TIMEOUT_S))
    uvicorn.run(
        build_app(load, body_timeout, vertex),
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
