"""The local stand-in for SageMaker hosting: the serving container's server, run as a process on loopback.

``deploy`` takes a :class:`~mlops.ports.hosting.HostingSpec` (what SageMaker would host: the container's serve
command and environment, and the CreateModel / CreateEndpointConfig requests; the serving package builds it),
starts the server on a new free port, waits for ``GET /ping``, registers model, endpoint configuration and
endpoint in the emulator, then switches the recorded route (``<state_dir>/endpoints/<endpoint>.json`` + pidfile)
to the new process and stops the old one. A new process that fails its health check is stopped and the previous
one keeps serving: the local version of SageMaker's blue/green update. ``stop`` stops exactly the recorded
process. :func:`start_server` is the same container start for one-off use (the local batch transform).
The runner knows the SageMaker container contract, not the serving code: it imports no capability package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

import mlops
from mlops.local.clients import clients_of
from mlops.local.emulator import HOST, free_port
from mlops.local.processes import terminate
from mlops.platform import Platform
from mlops.ports.hosting import Container, HostingError, HostingSpec

HEALTH_TIMEOUT_S = 90.0
LOCAL_IMAGE = "mlops-kit/serving:local"
"""The image name the emulator's model records carry: locally the container is this checkout's Python."""


@dataclass(frozen=True)
class EndpointRoute:
    """Where a local endpoint's invocations go: the serving process and the model version it serves."""

    endpoint: str
    pid: int
    host: str
    port: int
    model_uri: str
    version: str
    started_at: float
    log_file: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ServerProcess:
    """A serving container started here: its process, where it listens and where it logs."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def endpoints_dir(platform: Platform) -> Path:
    return platform.settings.state_dir / "endpoints"


def read_route(platform: Platform, endpoint: str | None = None) -> EndpointRoute | None:
    """The recorded route of ``endpoint`` (default: the stack's), ``None`` when nothing is deployed locally."""
    name = endpoint or platform.outputs.endpoint_name
    path = endpoints_dir(platform) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return EndpointRoute(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise HostingError(f"endpoint route {path} is corrupt ({exc}); run `mlops endpoint stop`") from exc


def _write_route(platform: Platform, route: EndpointRoute) -> None:
    directory = endpoints_dir(platform)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{route.endpoint}.pid").write_text(f"{route.pid}\n")
    tmp = directory / f"{route.endpoint}.json.tmp"
    tmp.write_text(json.dumps(asdict(route), indent=2))
    tmp.replace(directory / f"{route.endpoint}.json")  # the switch: atomic, so a reader sees old or new


def _clear_route(platform: Platform, endpoint: str) -> None:
    for suffix in (".json", ".pid"):
        (endpoints_dir(platform) / f"{endpoint}{suffix}").unlink(missing_ok=True)


def _project_root() -> str:
    """The checkout the kit runs from: the serving module is imported from the same place in the child."""
    return str(Path(mlops.__file__).resolve().parent.parent)


def _server_env(platform: Platform, container: Container) -> dict[str, str]:
    clients = clients_of(platform)
    env = {**os.environ, **clients.subprocess_env(), **container.environment, **container.extra_environment}
    env.pop("SAGEMAKER_BIND_TO_PORT", None)  # the port is chosen here, per process
    # the container's own services (online feature store, model packages) are wired from the kit's settings
    env["MLOPS_TARGET"] = platform.settings.target
    env["MLOPS_REGION"] = platform.settings.region
    if clients.endpoint_url:
        env["MLOPS_ENDPOINT_URL"] = clients.endpoint_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_project_root(), env.get("PYTHONPATH")]))
    return env


def start_server(platform: Platform, name: str, container: Container) -> ServerProcess:
    """Start ``container``'s server on a new free port (log ``<state_dir>/endpoints/<name>-<port>.log``)."""
    env = _server_env(platform, container)
    port = free_port()
    directory = endpoints_dir(platform)
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / f"{name}-{port}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", container.module, "serve", "--host", HOST, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # outlives the CLI call; stopped by `mlops endpoint stop`
        )
    return ServerProcess(process, port, log_file)


def wait_healthy(server: ServerProcess, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """Return once ``GET /ping`` answers 200; :class:`HostingError` when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise HostingError(
                f"the new server exited with code {server.process.returncode} before its health check passed; "
                f"last log lines from {server.log_file}:\n{_tail(server.log_file)}"
            )
        try:
            if httpx.get(server.url + "/ping", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: the model is still loading
        time.sleep(0.2)
    raise HostingError(f"the new server did not pass GET /ping within {timeout:.0f}s; see {server.log_file}")


@contextmanager
def running_server(platform: Platform, name: str, container: Container) -> Iterator[ServerProcess]:
    """A healthy server for the block, stopped after it whatever happens (one-off jobs)."""
    server = start_server(platform, name, container)
    try:
        wait_healthy(server)
        yield server
    finally:
        terminate(server.process.pid)


def _tail(path: Path, lines: int = 5) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def is_our_server(pid: int, port: int, module: str | None = None) -> bool:
    """``pid`` still runs a server this runner started on ``port`` (not a process that reused the pid)."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    started_here = "serve" in cmdline and "--port" in cmdline and str(port) in cmdline
    return started_here and (module is None or module in cmdline)


def _register(platform: Platform, spec: HostingSpec) -> None:
    """Record model, config and endpoint in the emulator (moto's update_endpoint answers 500: delete + create)."""
    sagemaker = clients_of(platform).client("sagemaker")
    model, config = spec.model_name, spec.endpoint_config_name
    if model not in {m["ModelName"] for m in sagemaker.list_models(NameContains=model)["Models"]}:
        sagemaker.create_model(**spec.model_request)
    configs = sagemaker.list_endpoint_configs(NameContains=config)["EndpointConfigs"]
    if config not in {c["EndpointConfigName"] for c in configs}:
        sagemaker.create_endpoint_config(**spec.endpoint_config_request)
    endpoints = sagemaker.list_endpoints(NameContains=spec.endpoint)["Endpoints"]
    if spec.endpoint in {e["EndpointName"] for e in endpoints}:
        sagemaker.delete_endpoint(EndpointName=spec.endpoint)
    sagemaker.create_endpoint(EndpointName=spec.endpoint, EndpointConfigName=config)


def deploy(platform: Platform, spec: HostingSpec, health_timeout: float = HEALTH_TIMEOUT_S) -> EndpointRoute:
    """Serve ``spec`` at its endpoint, locally; the previous process keeps serving unless the new one is healthy."""
    server = start_server(platform, spec.endpoint, spec.container)
    try:
        wait_healthy(server, health_timeout)
        _register(platform, spec)
    except BaseException:
        terminate(server.process.pid)  # the new process never takes traffic; the recorded route is untouched
        raise
    previous = read_route(platform, spec.endpoint)
    route = EndpointRoute(
        spec.endpoint,
        server.process.pid,
        HOST,
        server.port,
        spec.model_uri,
        spec.version,
        time.time(),
        str(server.log_file),
    )
    _write_route(platform, route)
    if previous is not None and is_our_server(previous.pid, previous.port, spec.container.module):
        terminate(previous.pid)
    return route


def stop(platform: Platform, endpoint: str | None = None) -> EndpointRoute | None:
    """Stop the recorded serving process of ``endpoint`` (default: the stack's; only if it is ours) and forget
    the route; returns what was stopped."""
    route = read_route(platform, endpoint)
    if route is None:
        return None
    if is_our_server(route.pid, route.port):
        terminate(route.pid)
    _clear_route(platform, route.endpoint)
    return route


def invoke(route: EndpointRoute, body: bytes, content_type: str, accept: str, timeout: float = 60.0) -> httpx.Response:
    """POST /invocations to the local process (SageMaker's 60 s invocation timeout)."""
    return post_invocations(route.url, body, content_type, accept, timeout)


def post_invocations(url: str, body: bytes, content_type: str, accept: str, timeout: float = 60.0) -> httpx.Response:
    """POST /invocations to the server at ``url``."""
    return httpx.post(
        url + "/invocations",
        content=body,
        headers={"Content-Type": content_type, "Accept": accept},
        timeout=timeout,
    )
