"""Lifecycle of the embedded emulator: moto's server, run out of process on a free loopback port.

moto runs in its own process because clients that hold the GIL (delta-rs, Arrow's S3 client) stall for
minutes against an in-process server. ``up`` reuses a healthy server it started earlier; ``down`` stops
exactly the process recorded in the pidfile, after checking it really is that moto server.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import psutil

from mlops.errors import EmulatorError, StalePidfileError
from mlops.local.frontdoor import process as frontdoor
from mlops.local.processes import command_line, terminate
from mlops.local.state import LOGFILE, EmulatorState, clear_state, read_state, write_state

HOST = "127.0.0.1"
# moto's server with the kit's fixes for its costs that grow with the stored data (mlops/local/moto_fixes.py).
SERVER_MODULE = "mlops.local.moto_server"
START_TIMEOUT_S = 30.0
# A busy server (a big apply, Spark on the same two cores) can take seconds to answer: a live server of ours is
# only called unresponsive after this long, and is never stopped for it.
PROBE_TIMEOUT_S = 3.0
PATIENT_PROBE_TIMEOUT_S = 15.0
# Answered only by moto's server, and cheaply: tells moto apart from whatever else may hold a recorded port.
# (``/moto-api/data.json`` would serialise every resource the server holds: seconds on a provisioned stack.)
_PROBE_PATH = "/moto-api/config"

Health = Literal["running", "stopped", "stale"]


@dataclass(frozen=True)
class EmulatorStatus:
    health: Health
    state: EmulatorState | None
    detail: str

    @property
    def endpoint_url(self) -> str | None:
        return self.state.endpoint_url if self.state else None


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers_as_moto(endpoint_url: str, timeout: float | None = None) -> bool:
    """True when a moto server answers at ``endpoint_url`` within ``timeout`` (default ``PROBE_TIMEOUT_S``)."""
    import httpx  # on first use: `mlops predict` imports this module (its HOST) and needs no httpx

    from mlops.local import loopback

    try:
        response = loopback.get(endpoint_url + _PROBE_PATH, timeout=PROBE_TIMEOUT_S if timeout is None else timeout)
    except httpx.HTTPError:
        return False
    if response.status_code not in (200, 201):  # moto answers its config with 201
        return False
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def is_server_command(cmdline: list[str]) -> bool:
    """The command line runs the embedded emulator (``moto.server`` itself: one an earlier kit version started)."""
    joined = " ".join(cmdline)
    return SERVER_MODULE in joined or "moto.server" in joined


def _is_our_server(pid: int, port: int) -> bool:
    """True when ``pid`` is alive and is a moto server started on ``port`` (guards against PID reuse)."""
    try:
        cmdline = command_line(psutil.Process(pid))
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return is_server_command(cmdline) and str(port) in cmdline


def status(emulator_dir: Path) -> EmulatorStatus:
    """Inspect the recorded server without changing anything."""
    state = _read_or_recover(emulator_dir)
    if state is None:
        return EmulatorStatus("stopped", None, "no emulator recorded; run `mlops local up`")
    alive = _is_our_server(state.pid, state.port)
    answering = answers_as_moto(state.endpoint_url)
    if alive and not answering:
        answering = answers_as_moto(state.endpoint_url, timeout=PATIENT_PROBE_TIMEOUT_S)
    if alive and answering:
        detail = f"moto server pid {state.pid} at {state.endpoint_url}{_frontdoor_detail(state)}"
        return EmulatorStatus("running", state, detail)
    if not alive and answering:
        return EmulatorStatus(
            "stale",
            state,
            f"pidfile names pid {state.pid}, which is not a moto server any more, but another moto server "
            f"answers on port {state.port}; it was not started from {emulator_dir} and is left alone",
        )
    if alive:
        return EmulatorStatus(
            "stale", state, f"moto server pid {state.pid} is alive but does not answer on {state.endpoint_url}"
        )
    if psutil.pid_exists(state.pid):
        gone = f"pid {state.pid} now belongs to another program (the moto server exited and its pid was reused)"
    else:
        gone = f"pid {state.pid} recorded in the pidfile is gone (crashed or killed)"
    if _port_taken(state.host, state.port):
        return EmulatorStatus("stale", state, f"{gone}; port {state.port} is now taken by something that is not moto")
    return EmulatorStatus("stale", state, gone)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def up(emulator_dir: Path, port: int | None = None) -> tuple[EmulatorState, bool]:
    """Start the server, or reuse the healthy one already recorded. Returns the state and whether it started.

    A stale record (process gone, or its port taken by something else) is replaced. A server of ours that is
    alive but does not answer is reported, not stopped: it holds every resource of the local stack.
    """
    current = _marked(emulator_dir, status(emulator_dir))
    if current.health == "running" and current.state is not None:
        return _with_frontdoor(emulator_dir, current.state), False
    if current.health == "stale" and current.state is not None:
        if _is_our_server(current.state.pid, current.state.port):
            # Alive but unresponsive: it still holds every resource, so stopping it is the user's call.
            raise StalePidfileError(f"{current.detail}; stop it with `mlops local down`, then run `mlops local up`")
        clear_state(emulator_dir)
    chosen = port or free_port()
    if _port_taken(HOST, chosen):
        raise EmulatorError(f"port {chosen} on {HOST} is already taken; choose another with --port")
    emulator_dir.mkdir(parents=True, exist_ok=True)
    log = (emulator_dir / LOGFILE).open("ab")
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", SERVER_MODULE, "-H", HOST, "-p", str(chosen)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # not killed by the terminal's Ctrl-C; stopped by `mlops local down`
    )
    log.close()
    state = EmulatorState(pid=process.pid, host=HOST, port=chosen, started_at=time.time())
    # The front door starts beside moto (its imports took 0.7 s after moto's start and marker, in series).
    door_port = free_port()
    while door_port == chosen:  # moto may not have bound its port yet: the OS could offer it again
        door_port = free_port()
    door = frontdoor.launch(emulator_dir, HOST, door_port, state.endpoint_url, endpoints_dir_of(emulator_dir))
    try:
        state = _wait_for_moto(process, state, emulator_dir)
        door_pid = frontdoor.wait_until_healthy(door, emulator_dir, HOST, door_port)
    except BaseException:
        terminate(door.pid)
        terminate(process.pid)
        raise
    started = replace(state, frontdoor_pid=door_pid, frontdoor_port=door_port)
    write_state(emulator_dir, started)
    return started, True


def _wait_for_moto(process: subprocess.Popen[bytes], state: EmulatorState, emulator_dir: Path) -> EmulatorState:
    """``state`` marked as a new instance once the started server answers; an error naming its log if it does not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"moto server exited with code {process.returncode} during start-up; see {emulator_dir / LOGFILE}"
            )
        if answers_as_moto(state.endpoint_url, timeout=0.5):
            return _mark_new_instance(state)
        time.sleep(0.1)
    raise EmulatorError(f"moto server did not answer within {START_TIMEOUT_S:.0f}s; see {emulator_dir / LOGFILE}")


def _frontdoor_detail(state: EmulatorState) -> str:
    """What the status says of the front door (clients are handed its URL: a dead one fails every call)."""
    url = state.frontdoor_url
    if url is None:
        return ""
    if frontdoor.is_ours(state.frontdoor_pid, state.frontdoor_port) and frontdoor.healthy(url):
        return f"; front door pid {state.frontdoor_pid} at {url}"
    return f"; the front door (pid {state.frontdoor_pid}) does not answer at {url}: run `mlops local up` to restart it"


def endpoints_dir_of(emulator_dir: Path) -> Path:
    """The local endpoints' routing tables, next to the emulator's record (``<state_dir>/endpoints``)."""
    return emulator_dir.parent / "endpoints"


def _with_frontdoor(emulator_dir: Path, state: EmulatorState) -> EmulatorState:
    """``state`` with a running front door (started on a free port unless the recorded one answers), recorded."""
    url = state.frontdoor_url
    if url and frontdoor.is_ours(state.frontdoor_pid, state.frontdoor_port) and frontdoor.healthy(url):
        return state
    port = free_port()
    pid = frontdoor.start(emulator_dir, HOST, port, state.endpoint_url, endpoints_dir_of(emulator_dir))
    started = replace(state, frontdoor_pid=pid, frontdoor_port=port)
    write_state(emulator_dir, started)
    return started


def down(emulator_dir: Path) -> EmulatorStatus:
    """Stop exactly the recorded server (and its front door, first: it flushes metrics and capture to the
    emulator) and clear the record. Returns the status it had before.

    The platform's Spark Connect server (``<state_dir>/spark``, next to ``emulator_dir``) and warm command server
    (``<state_dir>/warm-cli``) are stopped too: they serve that platform only, and a caller that stops just the
    emulator must not leave them behind.
    """
    from mlops.local import spark_connect, warm_cli

    spark_connect.down(spark_connect.spark_dir(emulator_dir.parent))
    warm_cli.down(emulator_dir.parent)
    current = status(emulator_dir)
    if current.state is not None:
        frontdoor.stop(current.state.frontdoor_pid, current.state.frontdoor_port)
        if _is_our_server(current.state.pid, current.state.port):
            terminate(current.state.pid)
        clear_state(emulator_dir)
    return current


def reset(emulator_dir: Path) -> EmulatorState:
    """Drop every resource the running server holds (moto's reset API); the process keeps running."""
    from mlops.local import loopback

    current = status(emulator_dir)
    if current.health != "running" or current.state is None:
        raise StalePidfileError(current.detail) if current.health == "stale" else EmulatorError(current.detail)
    response = loopback.post(current.state.endpoint_url + "/moto-api/reset", timeout=10)
    if response.status_code != 200:
        raise EmulatorError(f"moto reset failed with HTTP {response.status_code}: {response.text[:200]}")
    if current.state.instance_id:  # the same instance, deliberately emptied: not a lost emulator
        _put_marker(current.state.endpoint_url, current.state.instance_id)
    return current.state


# --- Which emulator is this? ------------------------------------------------------------------------------------
#
# moto keeps everything in memory: a server that died and was started again, or was reset behind the kit's back,
# answers like the old one but holds nothing. ``up`` records an instance id in the state file AND in the server
# (its IAM account alias, which no stack sets); a server whose marker is missing or different is not the one that
# held the stack's data, and :func:`lost_emulator` says so and how to get the data back. The marker was an SSM
# parameter until moto's SSM, which imports its EC2 service (1.5-2 s of the server's CPU), held up every start;
# a server marked that way is still read.

ALIAS_PREFIX = "mlops-kit-instance-"
LEGACY_PARAMETER = "/mlops-kit/emulator/instance-id"


def _client(endpoint_url: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # moto's documented dummy credentials
    )


def _put_marker(endpoint_url: str, instance_id: str) -> None:
    _client(endpoint_url, "iam").create_account_alias(AccountAlias=ALIAS_PREFIX + instance_id)


def instance_of(endpoint_url: str) -> str | None:
    """The instance id the server at ``endpoint_url`` was marked with, ``None`` when it holds none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aliases = _client(endpoint_url, "iam").list_account_aliases()["AccountAliases"]
        marked = [alias.removeprefix(ALIAS_PREFIX) for alias in aliases if alias.startswith(ALIAS_PREFIX)]
        if marked:
            return str(marked[0])
        legacy = _client(endpoint_url, "ssm").get_parameter(Name=LEGACY_PARAMETER)
        return str(legacy["Parameter"]["Value"])
    except (ClientError, BotoCoreError):
        return None


def _mark_new_instance(state: EmulatorState) -> EmulatorState:
    instance_id = uuid.uuid4().hex[:12]
    _put_marker(state.endpoint_url, instance_id)
    return dataclasses.replace(state, instance_id=instance_id)


def _marked(emulator_dir: Path, current: EmulatorStatus) -> EmulatorStatus:
    """``current`` when it is not running or its server still carries its marker; else (the server was wiped)
    the same server as a new instance, recorded."""
    state = current.state
    if current.health != "running" or state is None:
        return current
    if state.instance_id is not None and instance_of(state.endpoint_url) == state.instance_id:
        return current
    marked = _mark_new_instance(state)
    write_state(emulator_dir, marked)
    return dataclasses.replace(current, state=marked)


def lost_emulator(before: EmulatorStatus, now: EmulatorState, applied: list[str]) -> str | None:
    """What was lost when the emulator recorded ``before`` is not the one running ``now`` (``None``: same one)."""
    old = before.state
    if old is None or old.instance_id is None or old.instance_id == now.instance_id:
        return None
    held = ", ".join(f"stack {name}" for name in applied) or "no applied stack"
    return (
        f"the emulator that held {held} (instance {old.instance_id}, pid {old.pid}) is gone, and its data with "
        f"it: every bucket (raw, curated and feature tables, model packages), DynamoDB table (online store, "
        f"stream checkpoints), the Kinesis stream and the SageMaker registry; this one (instance "
        f"{now.instance_id}) started empty and the apply re-created empty resources. Get the data back with "
        f"`mlops local restore DIR` (from a `mlops local snapshot DIR`), or rebuild it from the raw files "
        f"(docs/local.md: data ingest, validate, job run curate/build_features, stream produce)."
    )


def _read_or_recover(emulator_dir: Path) -> EmulatorState | None:
    """The recorded state; when the state file is unreadable, the running server started from ``emulator_dir``
    (found by its log file), recorded again, so a corrupt file never leads to a second emulator."""
    try:
        return read_state(emulator_dir)
    except EmulatorError:
        found = _find_server(emulator_dir)
        if found is None:
            raise
        write_state(emulator_dir, found)
        return found


def _find_server(emulator_dir: Path) -> EmulatorState | None:
    """The moto server whose output goes to ``emulator_dir``'s log (so ``up`` started it from there)."""
    log = str((emulator_dir / LOGFILE).resolve())
    for process in psutil.process_iter(["pid", "cmdline", "create_time"]):
        cmdline = process.info["cmdline"] or []
        if not is_server_command(cmdline) or "-p" not in cmdline:
            continue
        try:
            if os.readlink(f"/proc/{process.info['pid']}/fd/1") != log:
                continue
        except OSError:
            continue
        port = int(cmdline[cmdline.index("-p") + 1])
        host = cmdline[cmdline.index("-H") + 1] if "-H" in cmdline else HOST
        url = f"http://{host}:{port}"
        return EmulatorState(process.info["pid"], host, port, process.info["create_time"], instance_of(url))
    return None
