"""The local stand-in for SageMaker hosting: the serving container's server, run as a process on loopback.

``deploy`` starts the server for a model version on a new free port, waits for ``GET /ping``, registers the
model, endpoint configuration and endpoint in the emulator (names from the stack outputs), then switches the
recorded route (``<state_dir>/endpoints/<endpoint>.json`` + pidfile) to the new process and stops the old one.
A new process that fails its health check is stopped and the previous one keeps serving: the local version of
SageMaker's blue/green update. ``stop`` stops exactly the recorded process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from mlops.local.emulator import HOST, free_port
from mlops.local.platform import Platform
from serving.deploy import container_environment, names_for
from serving.errors import DeploymentError
from serving.model import registry_uri, resolve_version

HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
LOCAL_IMAGE = "mlops-kit/serving:local"


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
    spec = importlib.util.find_spec("serving")
    if spec is None or spec.origin is None:
        raise DeploymentError("the serving package is not importable; install mlops-kit in this environment")
    return str(Path(spec.origin).parent.parent)


def _server_env(platform: Platform, dataset: str, model_uri: str, tracking_uri: str) -> dict[str, str]:
    env = {**os.environ, **platform.clients.subprocess_env()}
    env.update(container_environment(dataset, model_uri, tracking_uri, platform.outputs))
    env.pop("SAGEMAKER_BIND_TO_PORT")  # the port is chosen here, per process
    env["SERVING_DATASETS_DIR"] = str(platform.settings.datasets_dir.resolve())
    # the online feature store adapter is built from the kit's settings: point them at the same AWS
    env["MLOPS_TARGET"] = platform.settings.target
    env["MLOPS_REGION"] = platform.settings.region
    if platform.clients.endpoint_url:
        env["MLOPS_ENDPOINT_URL"] = platform.clients.endpoint_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_project_root(), env.get("PYTHONPATH")]))
    return env


def _start(platform: Platform, env: dict[str, str], endpoint: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    directory = endpoints_dir(platform)
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / f"{endpoint}-{port}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", "serve", "--host", HOST, "--port", str(port)],
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


def _is_our_server(pid: int, port: int) -> bool:
    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "serving" in cmdline and str(port) in cmdline


def _terminate(pid: int) -> None:
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _register(platform: Platform, version: str, env: dict[str, str]) -> None:
    """Record model, config and endpoint in the emulator (moto's update_endpoint answers 500: delete + create)."""
    from serving.deploy import endpoint_config_request, model_request

    sagemaker = platform.clients.client("sagemaker")
    names = names_for(platform.outputs, version)
    existing_models = {m["ModelName"] for m in sagemaker.list_models(NameContains=names.model)["Models"]}
    if names.model not in existing_models:
        sagemaker.create_model(**model_request(names, platform.outputs, LOCAL_IMAGE, env))
    configs = sagemaker.list_endpoint_configs(NameContains=names.endpoint_config)["EndpointConfigs"]
    if names.endpoint_config not in {c["EndpointConfigName"] for c in configs}:
        sagemaker.create_endpoint_config(**endpoint_config_request(names, platform.outputs, "ml.m5.large", 1))
    endpoints = sagemaker.list_endpoints(NameContains=names.endpoint)["Endpoints"]
    if names.endpoint in {e["EndpointName"] for e in endpoints}:
        sagemaker.delete_endpoint(EndpointName=names.endpoint)
    sagemaker.create_endpoint(EndpointName=names.endpoint, EndpointConfigName=names.endpoint_config)


def deploy(
    platform: Platform, dataset: str, version: str | None = None, health_timeout: float = HEALTH_TIMEOUT_S
) -> EndpointRoute:
    """Serve ``dataset``'s model (``version``, or the ``champion`` alias) at the stack's endpoint, locally."""
    tracking_uri = platform.outputs.mlflow_tracking_uri
    name, resolved = resolve_version(tracking_uri, registry_uri(dataset, version))
    model_uri = registry_uri(name, resolved)
    endpoint = platform.outputs.endpoint_name
    env = _server_env(platform, dataset, model_uri, tracking_uri)
    process, port, log_file = _start(platform, env, endpoint)
    try:
        _wait_healthy(process, f"http://{HOST}:{port}", log_file, health_timeout)
        container_env = {key: env[key] for key in ("SERVING_MODEL_URI", "MLFLOW_TRACKING_URI", "SERVING_DATASET")}
        _register(platform, resolved, container_env)
    except BaseException:
        _terminate(process.pid)  # the new process never takes traffic; the recorded route is untouched
        raise
    previous = read_route(platform)
    route = EndpointRoute(endpoint, process.pid, HOST, port, model_uri, resolved, time.time(), str(log_file))
    _write_route(platform, route)
    if previous is not None and _is_our_server(previous.pid, previous.port):
        _terminate(previous.pid)
    return route


def stop(platform: Platform) -> EndpointRoute | None:
    """Stop the recorded serving process (only if it is ours) and forget the route; returns what was stopped."""
    route = read_route(platform)
    if route is None:
        return None
    if _is_our_server(route.pid, route.port):
        _terminate(route.pid)
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
