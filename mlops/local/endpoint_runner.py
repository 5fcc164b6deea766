"""The local stand-in for SageMaker hosting: the serving container's server, run as a process on loopback.

``deploy`` takes a :class:`HostingSpec` (what SageMaker would host: the container's serve command and
environment, and the CreateModel / CreateEndpointConfig requests; the serving package builds it), starts the
server on a new free port, waits for ``GET /ping``, registers model, endpoint configuration and endpoint in the
emulator, then switches the recorded route (``<state_dir>/endpoints/<endpoint>.json`` + pidfile) to the new
process and stops the old one. A new process that fails its health check is stopped and the previous one keeps
serving: the local version of SageMaker's blue/green update. ``stop`` stops exactly the recorded process.
The runner knows the SageMaker contract, not the serving code: it imports no capability package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

import mlops
from mlops.errors import DeploymentError
from mlops.local.clients import clients_of
from mlops.local.emulator import HOST, free_port
from mlops.local.processes import terminate
from mlops.platform import Platform

HEALTH_TIMEOUT_S = 90.0
LOCAL_IMAGE = "mlops-kit/serving:local"
"""The image name the emulator's model records carry: locally the container is this checkout's Python."""


@dataclass(frozen=True)
class HostingSpec:
    """What SageMaker would host for one model version, as the serving package describes it.

    ``module`` is the container's serve entry (run as ``python -m <module> serve --host H --port P``),
    ``environment`` the container environment (the same one the SageMaker model declares), and the two requests
    are CreateModel / CreateEndpointConfig as they would be sent to SageMaker.
    """

    endpoint: str
    model_uri: str
    version: str
    module: str
    environment: dict[str, str]
    model_request: dict[str, Any]
    endpoint_config_request: dict[str, Any]
    extra_environment: dict[str, str] = field(default_factory=dict)
    """Local-only settings for the process (not part of the SageMaker model's container environment)."""


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


def endpoints_dir(platform: Platform) -> Path:
    return platform.settings.state_dir / "endpoints"


def read_route(platform: Platform) -> EndpointRoute | None:
    """The recorded route of the stack's endpoint, ``None`` when nothing is deployed locally."""
    path = endpoints_dir(platform) / f"{platform.outputs.endpoint_name}.json"
    if not path.is_file():
        return None
    try:
        return EndpointRoute(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise DeploymentError(f"endpoint route {path} is corrupt ({exc}); run `mlops endpoint stop`") from exc


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


def _server_env(platform: Platform, spec: HostingSpec) -> dict[str, str]:
    env = {**os.environ, **clients_of(platform).subprocess_env(), **spec.environment, **spec.extra_environment}
    env.pop("SAGEMAKER_BIND_TO_PORT", None)  # the port is chosen here, per process
    # the container's own AWS clients (online feature store) are built from the kit's settings: same AWS
    env["MLOPS_TARGET"] = platform.settings.target
    env["MLOPS_REGION"] = platform.settings.region
    endpoint = clients_of(platform).endpoint_url
    if endpoint:
        env["MLOPS_ENDPOINT_URL"] = endpoint
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_project_root(), env.get("PYTHONPATH")]))
    return env


def _start(platform: Platform, spec: HostingSpec, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    directory = endpoints_dir(platform)
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / f"{spec.endpoint}-{port}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", spec.module, "serve", "--host", HOST, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # outlives the CLI call; stopped by `mlops endpoint stop`
        )
    return process, port, log_file


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeploymentError(
                f"the new server exited with code {process.returncode} before its health check passed; "
                f"last log lines from {log_file}:\n{_tail(log_file)}"
            )
        try:
            if httpx.get(url + "/ping", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: the model is still loading
        time.sleep(0.2)
    raise DeploymentError(f"the new server did not pass GET /ping within {timeout:.0f}s; see {log_file}")


def _tail(path: Path, lines: int = 5) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _is_our_server(pid: int, port: int, module: str | None = None) -> bool:
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
    model = spec.model_request["ModelName"]
    config = spec.endpoint_config_request["EndpointConfigName"]
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
    env = _server_env(platform, spec)
    process, port, log_file = _start(platform, spec, env)
    try:
        _wait_healthy(process, f"http://{HOST}:{port}", log_file, health_timeout)
        _register(platform, spec)
    except BaseException:
        terminate(process.pid)  # the new process never takes traffic; the recorded route is untouched
        raise
    previous = read_route(platform)
    route = EndpointRoute(
        spec.endpoint, process.pid, HOST, port, spec.model_uri, spec.version, time.time(), str(log_file)
    )
    _write_route(platform, route)
    if previous is not None and _is_our_server(previous.pid, previous.port, spec.module):
        terminate(previous.pid)
    return route


def stop(platform: Platform) -> EndpointRoute | None:
    """Stop the recorded serving process (only if it is ours) and forget the route; returns what was stopped."""
    route = read_route(platform)
    if route is None:
        return None
    if _is_our_server(route.pid, route.port):
        terminate(route.pid)
    _clear_route(platform, route.endpoint)
    return route


def invoke(route: EndpointRoute, body: bytes, content_type: str, accept: str, timeout: float = 60.0) -> httpx.Response:
    """POST /invocations to the local process (SageMaker's 60 s invocation timeout)."""
    return httpx.post(
        route.url + "/invocations",
        content=body,
        headers={"Content-Type": content_type, "Accept": accept},
        timeout=timeout,
    )
