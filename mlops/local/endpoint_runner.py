"""The local stand-in for SageMaker hosting: the serving container's server, run as processes on loopback, behind
the front door (:mod:`mlops.local.frontdoor`) that answers the SageMaker runtime API.

``deploy`` takes a :class:`~mlops.ports.hosting.HostingSpec` (what SageMaker would host: the container's serve
command and environment, and the CreateModel / CreateEndpointConfig requests; the serving package builds it),
starts the server on a new free port, waits for ``GET /ping`` and registers model, endpoint configuration and
endpoint in the emulator. The endpoint's routing table (``<state_dir>/endpoints/<endpoint>.json``, see
:mod:`mlops.local.frontdoor.routing`) then takes the new process: at once on a first deployment, else through the
spec's blue/green ``DeploymentConfig`` (:mod:`mlops.local.deployment`: traffic shifted by weight, rollback alarms
evaluated), after which the losing process is stopped. A new process that fails its health check is stopped and
the previous one keeps serving. ``stop`` stops exactly the recorded processes. :func:`start_server` is the same
container start for one-off use (the local batch transform). The runner knows the SageMaker container contract,
not the serving code: it imports no capability package. :func:`launch`, :func:`wait_healthy` and
:func:`is_our_server` also serve the local Vertex AI runner (:mod:`mlops.local.vertex_hosting`), whose containers
get their port in ``AIP_HTTP_PORT`` and are health-checked on the route Vertex names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

import mlops
from mlops.local.clients import clients_of
from mlops.local.emulator import HOST, free_port
from mlops.local.frontdoor import routing
from mlops.local.frontdoor.routing import DeploymentState, EndpointTable, Fleet
from mlops.local.processes import command_line, terminate
from mlops.local.warm_cli import is_warm_server_command
from mlops.local.warm_python import ForkedServer, spawn_detached
from mlops.platform import Platform
from mlops.ports.hosting import Container, HostingError, HostingSpec

if TYPE_CHECKING:  # httpx on first use: `mlops predict` imports this module and posts with http.client
    import httpx

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
    """A serving container started here: its process (started cold, or forked by the platform's warm command
    server), where it listens and where it logs."""

    process: subprocess.Popen[bytes] | ForkedServer
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def endpoints_dir(platform: Platform) -> Path:
    return platform.settings.state_dir / "endpoints"


def read_table(platform: Platform, endpoint: str | None = None) -> EndpointTable | None:
    """The routing table of ``endpoint`` (default: the stack's), ``None`` when nothing is deployed locally."""
    try:
        return routing.read_table(endpoints_dir(platform), endpoint or platform.outputs.endpoint_name)
    except routing.RoutingTableError as exc:
        raise HostingError(str(exc)) from exc


def write_table(platform: Platform, table: EndpointTable) -> None:
    """Replace the routing table (the front door routes the next request by it)."""
    routing.write_table(endpoints_dir(platform), table)


def route_of(fleet: Fleet, endpoint: str) -> EndpointRoute:
    return EndpointRoute(
        endpoint, fleet.pid, fleet.host, fleet.port, fleet.model_uri, fleet.version, fleet.started_at, fleet.log_file
    )


def read_route(platform: Platform, endpoint: str | None = None) -> EndpointRoute | None:
    """The process serving most of ``endpoint``'s traffic (default: the stack's), ``None`` when nothing is
    deployed locally."""
    table = read_table(platform, endpoint)
    return None if table is None or not table.fleets else route_of(table.primary, table.endpoint)


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
    # the platform's own, not the caller's environment's or `.mlops`: where its warm command server is found (which
    # forks the server, :func:`launch`), as for the pipeline steps and Vertex's containers
    env["MLOPS_STATE_DIR"] = str(platform.settings.state_dir.resolve())
    if clients.endpoint_url:
        env["MLOPS_ENDPOINT_URL"] = clients.endpoint_url
    return env


def start_server(platform: Platform, name: str, container: Container) -> ServerProcess:
    """Start ``container``'s server on a new free port (log ``<state_dir>/endpoints/<name>-<port>.log``)."""
    return launch(container.module, _server_env(platform, container), endpoints_dir(platform), name)


def launch(
    module: str, env: dict[str, str], log_dir: Path, name: str, port_variable: str | None = None
) -> ServerProcess:
    """Start ``python -m <module> serve`` on loopback at a new free port, in a session of its own (it outlives the
    CLI call; stopped by PID), logging to ``<log_dir>/<name>-<port>.log``. The port is passed as ``--port``, or in
    the environment variable ``port_variable`` where the platform played sets it (Vertex AI's ``AIP_HTTP_PORT``)."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}-{port}.log"
    command = [sys.executable, "-m", module, "serve", "--host", HOST]
    if port_variable:
        env = {**env, port_variable: str(port)}
    else:
        command += ["--port", str(port)]
    # Forked by the warm command server when one runs (its libraries imported: ~2.5 s less per start); there the
    # kit is imported from the server's own path, so the cold start's PYTHONPATH is not needed.
    forked = spawn_detached(command, env=env, log=log_file)
    if forked is not None:
        return ServerProcess(forked, port, log_file)
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [_project_root(), env.get("PYTHONPATH")]))}
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return ServerProcess(process, port, log_file)


def wait_healthy(server: ServerProcess, timeout: float = HEALTH_TIMEOUT_S, route: str = "/ping") -> None:
    """Return once ``GET <route>`` answers 200; :class:`HostingError` when the process exits or time runs out."""
    import httpx

    from mlops.local import loopback

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise HostingError(
                f"the new server exited with code {server.process.returncode} before its health check passed; "
                f"last log lines from {server.log_file}:\n{_tail(server.log_file)}"
            )
        try:
            if loopback.get(server.url + route, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: the model is still loading
        time.sleep(0.2)
    raise HostingError(f"the new server did not pass GET {route} within {timeout:.0f}s; see {server.log_file}")


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


def is_our_server(pid: int, port: int, module: str | None = None, port_variable: str | None = None) -> bool:
    """``pid`` still runs a server this runner started on ``port`` (not a process that reused the pid): given as
    ``--port``, or in its environment's ``port_variable`` (:func:`launch`)."""
    try:
        process = psutil.Process(pid)
        cmdline = command_line(process)
        if is_warm_server_command(cmdline):  # forked by the warm command server: its command line is the server's
            return process.status() != psutil.STATUS_ZOMBIE and listens_on(process, port)
        env_port = process.environ().get(port_variable) if port_variable else None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    on_port = ("--port" in cmdline and str(port) in cmdline) or env_port == str(port)
    return "serve" in cmdline and on_port and (module is None or module in cmdline)


def listens_on(process: psutil.Process, port: int) -> bool:
    """``process`` holds a listening TCP socket on ``port``: no other process can, so it is the server recorded
    there (a forked server's command line names the warm server, not the serving module)."""
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in process.net_connections("tcp"))


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


def _variant_of(spec: HostingSpec) -> tuple[str, dict[str, object] | None]:
    """The production variant's name and the data capture of the spec's endpoint config."""
    variants = spec.endpoint_config_request.get("ProductionVariants") or [{}]
    return str(variants[0].get("VariantName") or "AllTraffic"), spec.endpoint_config_request.get("DataCaptureConfig")


def _fleet_name(previous: EndpointTable | None) -> str:
    """``blue`` for the first fleet, then alternately ``green`` and ``blue`` (the name the old one does not hold)."""
    taken = {f.fleet for f in previous.fleets} if previous else set()
    return "green" if "blue" in taken else "blue"


def live_fleets(table: EndpointTable | None) -> list[Fleet]:
    """The fleets whose process is still one of ours."""
    return [f for f in (table.fleets if table else ()) if is_our_server(f.pid, f.port)]


def start_fleet(platform: Platform, spec: HostingSpec, name: str, health_timeout: float) -> Fleet:
    """A healthy new process for ``spec``, registered in the emulator; taking no traffic yet (weight 0)."""
    server = start_server(platform, spec.endpoint, spec.container)
    try:
        wait_healthy(server, health_timeout)
        _register(platform, spec)
    except BaseException:
        terminate(server.process.pid)  # the new process never takes traffic; the recorded table is untouched
        raise
    variant, capture = _variant_of(spec)
    return Fleet(
        fleet=name,
        variant=variant,
        pid=server.process.pid,
        host=HOST,
        port=server.port,
        model_uri=spec.model_uri,
        version=spec.version,
        weight=0.0,
        started_at=time.time(),
        log_file=str(server.log_file),
        model_name=spec.model_name,
        endpoint_config=spec.endpoint_config_name,
        data_capture=dict(capture) if capture else None,
        module=spec.container.module,
    )


def _refuse_concurrent(table: EndpointTable | None) -> None:
    """As SageMaker refuses an UpdateEndpoint while the endpoint is Updating: unless the process that ran that
    deployment is gone (interrupted for good), then its table is taken over."""
    if table is None or table.deployment.status not in ("Updating", "RollingBack"):
        return
    deployer = table.deployment.deployer_pid
    if deployer and deployer != os.getpid() and psutil.pid_exists(deployer):
        raise HostingError(
            f"endpoint {table.endpoint!r} is being updated by process {deployer} ({table.deployment.stage}, version "
            f"{table.deployment.target_version}); wait until `mlops endpoint status` says InService"
        )


def deploy(platform: Platform, spec: HostingSpec, health_timeout: float = HEALTH_TIMEOUT_S) -> EndpointTable:
    """Serve ``spec`` at its endpoint, locally; the previous process keeps serving unless the new one is healthy,
    and, with a blue/green ``DeploymentConfig``, unless the new one passes the shift and the bake without one of
    the rollback alarms going to ALARM. Returns the endpoint's table when the deployment is over."""
    from mlops.local import deployment

    previous = read_table(platform, spec.endpoint)
    _refuse_concurrent(previous)
    serving = live_fleets(previous)
    new = start_fleet(platform, spec, _fleet_name(previous), health_timeout)
    if not serving or previous is None:
        table = EndpointTable(
            spec.endpoint,
            (replace(new, weight=1.0),),
            DeploymentState(status="InService", stage="complete", target_version=spec.version, updated_at=time.time()),
        )
        write_table(platform, table)
        return table
    old = max(serving, key=lambda f: (f.weight, f.started_at))
    retired = [f for f in previous.fleets if f.fleet != old.fleet]
    for stale in retired:  # a fleet left from an interrupted deployment: it takes no traffic any more
        if is_our_server(stale.pid, stale.port):
            terminate(stale.pid)
    return deployment.blue_green(platform, spec, old=replace(old, weight=1.0), new=new)


def stop_fleet(fleet: Fleet) -> None:
    """Stop a fleet's process if it is still ours (after the table no longer routes to it)."""
    if is_our_server(fleet.pid, fleet.port, fleet.module or None):
        terminate(fleet.pid)


def stop(platform: Platform, endpoint: str | None = None) -> EndpointRoute | None:
    """Stop the recorded serving processes of ``endpoint`` (default: the stack's; only if they are ours) and forget
    the table; returns what served most of the traffic."""
    table = read_table(platform, endpoint)
    if table is None:
        return None
    routing.clear_table(endpoints_dir(platform), table.endpoint)
    (endpoints_dir(platform) / f"{table.endpoint}.pid").unlink(missing_ok=True)
    for fleet in table.fleets:
        if is_our_server(fleet.pid, fleet.port):
            terminate(fleet.pid)
    return route_of(table.primary, table.endpoint) if table.fleets else None


def invoke(route: EndpointRoute, body: bytes, content_type: str, accept: str, timeout: float = 60.0) -> httpx.Response:
    """POST /invocations to the local process (SageMaker's 60 s invocation timeout)."""
    return post_invocations(route.url, body, content_type, accept, timeout)


def post_invocations(url: str, body: bytes, content_type: str, accept: str, timeout: float = 60.0) -> httpx.Response:
    """POST /invocations to the server at ``url``."""
    from mlops.local import loopback

    return loopback.post(
        url + "/invocations",
        content=body,
        headers={"Content-Type": content_type, "Accept": accept},
        timeout=timeout,
    )
