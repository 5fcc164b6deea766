"""A warm interpreter for the entry points a local runner starts: one Python process that has imported the model
libraries once and forks a fresh process per entry point.

A pipeline execution runs three or four ``python -m <module>`` entry points (Prepare, the training job, Evaluate,
Register); each spent 3-4 s of its 4-6 s importing MLflow, scikit-learn and pandas before doing its work. Here the
runner starts this file as a server for an execution (and keeps it for the process's next one, :func:`_borrow`);
the server imports :data:`PRELOAD` (third-party libraries only: the kit's own modules are imported by each entry
point, so an edited step runs as edited), then, per request,
forks a child that becomes the entry point exactly as ``python -m`` would start it: its own process group, its
arguments, environment and working directory, standard input from ``/dev/null``, its output in files the runner
reads, its exit status (``SystemExit``, an uncaught exception's traceback and status 1, atexit handlers run).
The runner keeps what :func:`mlops.local.processes.run_watched` guarantees: a timeout or an interrupt kills the
child's whole process group; the server dies with the runner (``PR_SET_PDEATHSIG``) and takes its child along.

Not warm (the caller runs the command cold): anything but ``<this interpreter> -m <module>``, an environment that
differs from the server's in what a library reads when it is imported (:data:`IMPORT_TIME_VARIABLES`), a server
that failed to start or died, and any platform without ``fork`` and ``PR_SET_PDEATHSIG`` (Linux only).

Protocol (JSON lines): the server says ``{"ready": true}``; the runner sends ``{"module", "args", "env", "cwd",
"stdout", "stderr"}``; the server answers ``{"pid"}`` at once and ``{"code"}`` when the child ended.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# What the pipeline's entry points import (measured with cProfile on Prepare, the training job, Evaluate and
# Register); a library missing from an install set is skipped.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.metrics",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.pyfunc",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",  # the local tracking server's store (0.7 s: Register, commands)
    "mlflow.store.model_registry.sqlalchemy_store",
    "pyarrow.dataset",
    "fsspec",
    "git",  # MLflow records the code's git commit with a run
    "boto3",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "yaml",
)
# Read by a library when it is imported (OpenMP's thread count, BLAS pools, the interpreter itself): a child whose
# environment differs from the server's in one of these would not run as a cold process would, so it runs cold.
IMPORT_TIME_VARIABLES = ("OMP_", "KMP_", "MKL_", "OPENBLAS_", "BLIS_", "NUMEXPR_", "PYTHON", "LD_", "SKLEARN_")
# ...except Spark's settings of its Python daemon and workers (the secret, batch sizes): read while they run.
RUN_TIME_VARIABLES = (
    "PYTHON_WORKER_",
    "PYTHON_DAEMON_",
    "PYTHON_UDF_",
    "PYTHON_FAULTHANDLER_",
    "PYTHON_UNIX_DOMAIN_",
    "PYTHONUNBUFFERED",  # the child's standard streams are opened as it says (:func:`open_standard_streams`)
)
READY_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WarmRun:
    """How an entry point run by the warm server ended (the fields of ``processes.WatchedRun``)."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def import_time_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` a library may read when it is imported."""
    return {
        k: v for k, v in env.items() if k.startswith(IMPORT_TIME_VARIABLES) and not k.startswith(RUN_TIME_VARIABLES)
    }


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class WarmPython:
    """The runner's side: start the server, hand it entry points, stop it (a context manager)."""

    def __init__(self, env: Mapping[str, str], preload: tuple[str, ...] = PRELOAD) -> None:
        self._env = dict(env)
        self._preload = preload
        self._server: subprocess.Popen[bytes] | None = None
        self._ready: bool | None = None  # None: not known yet; False: unusable, commands run cold
        self._lock = threading.Lock()
        self._buffer = b""  # what was read from the server past the last whole line

    def __enter__(self) -> WarmPython:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the server; it imports in the background while the runner goes on."""
        if not supported():
            self._ready = False
            return
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(os.getpid()), *self._preload]
        self._server = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self._env, start_new_session=True
        )

    def accepts(self, command: list[str], env: Mapping[str, str]) -> bool:
        """``command`` is ``<this interpreter> -m <module> ...`` and ``env`` imports as the server did."""
        same = import_time_environment(env) == import_time_environment(self._env)
        return is_module_command(command) and same and self._ready is not False and self._server is not None

    def run(
        self, command: list[str], *, env: Mapping[str, str], timeout: float | None, cwd: str | None
    ) -> WarmRun | None:
        """Run ``command`` in a forked child; ``None`` when it must run cold (see :meth:`accepts`)."""
        if not self.accepts(command, env) or not self._wait_ready():
            return None
        with self._lock, tempfile.TemporaryDirectory(prefix="warm-python-") as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            request = {
                "module": command[2],
                "args": command[3:],
                "env": dict(env),
                "cwd": cwd or os.getcwd(),
                "stdout": str(out),
                "stderr": str(err),
            }
            try:
                pid = int(self._exchange(request, READY_TIMEOUT_S)["pid"])
            except (OSError, TimeoutError, ValueError, KeyError):  # the server died before it forked: run cold
                self.close()
                return None
            code, timed_out = self._wait_child(pid, timeout)
            return WarmRun(code, _read(out), _read(err), timed_out)

    def close(self) -> None:
        server, was_ready, self._server, self._ready = self._server, self._ready, None, False
        if server is None:
            return
        if not was_ready:  # still importing (no step asked for it yet): nothing of the runner's runs in it
            kill_group(server.pid)
        with contextlib.suppress(OSError):
            if server.stdin is not None:
                server.stdin.close()  # the server exits at the end of its input
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if server.stdout is not None:
            server.stdout.close()

    def alive(self) -> bool:
        """Started, not known to be unusable, and its process still runs."""
        return self._server is not None and self._server.poll() is None and self._ready is not False

    def _wait_ready(self) -> bool:
        if self._ready is None:
            try:
                self._ready = bool(self._read_line(READY_TIMEOUT_S).get("ready"))
            except (OSError, ValueError, TimeoutError):
                self._ready = False
            if not self._ready:
                self.close()
        return bool(self._ready)

    def _wait_child(self, pid: int, timeout: float | None) -> tuple[int, bool]:
        """The child's exit status; on ``timeout`` or an interrupt its process group is killed first."""
        try:
            return int(self._read_line(timeout)["code"]), False
        except TimeoutError:
            kill_group(pid)
            return int(self._read_line(None)["code"]), True
        except BaseException:
            kill_group(pid)
            self.close()
            raise

    def _exchange(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        server = self._server
        if server is None or server.stdin is None:
            raise OSError("the warm Python server is not running")
        server.stdin.write(json.dumps(request).encode() + b"\n")
        server.stdin.flush()
        return self._read_line(timeout)

    def _read_line(self, timeout: float | None) -> dict[str, Any]:
        """The server's next answer (unbuffered reads: a select on a buffered file misses lines it already read)."""
        server = self._server
        if server is None or server.stdout is None:
            raise OSError("the warm Python server is not running")
        fd = server.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError(f"the warm Python server exited (status {server.poll()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer


class ServerPython:
    """Entry points forked by the platform's warm command server (:mod:`mlops.local.warm_cli`), which has imported
    everything :data:`PRELOAD` holds: no interpreter of the runner's own to start unless the server will not fork
    one. The same guarantees: the server kills the entry point's group when it exits or when this runner's
    connection closes (its death)."""

    def __init__(self, state_dir: Path, fallback: Callable[[], WarmPython] | None = None) -> None:
        self._state_dir = state_dir
        # Started on the first entry point the server will not fork (another import-time environment, or the
        # server gone): the rest of the execution forks from it instead of each step importing cold.
        self._fallback = fallback
        self.own: WarmPython | None = None
        self._own_lock = threading.Lock()

    def __enter__(self) -> ServerPython:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def run(
        self, command: list[str], *, env: Mapping[str, str], timeout: float | None, cwd: str | None
    ) -> WarmRun | None:
        """Run ``command`` in the server; one it will not fork (no server, the server says cold) in this runner's
        own warm interpreter; ``None`` when it must run cold (not ``python -m``, or neither can run it)."""
        request = _module_request(command, env, cwd)
        if request is None:
            return None
        with tempfile.TemporaryDirectory(prefix="warm-python-") as tmp, contextlib.ExitStack() as files:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            streams: list[IO[bytes]] = [files.enter_context(Path(os.devnull).open("rb"))]
            streams += [files.enter_context(path.open("wb")) for path in (out, err)]
            handed = _hand_over(self._state_dir, request, streams)
            if handed is None:
                return self._run_own(command, env=env, timeout=timeout, cwd=cwd)
            connection, pid = handed
            with connection:
                code, timed_out = _wait_served(connection, pid, timeout)
            return WarmRun(code, _read(out), _read(err), timed_out)

    def _run_own(
        self, command: list[str], *, env: Mapping[str, str], timeout: float | None, cwd: str | None
    ) -> WarmRun | None:
        if self._fallback is None:
            return None
        with self._own_lock:
            if self.own is None:
                self.own = self._fallback()
            own = self.own
        return own.run(command, env=env, timeout=timeout, cwd=cwd)


class ForkedServer:
    """A long-running entry point (a model server) the warm command server forked, as ``subprocess.Popen`` is used
    for one: its ``pid``, ``poll()`` and ``returncode`` (known while this process keeps the connection)."""

    def __init__(self, pid: int, connection: Any) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._connection], [], [], 0)[0]:
            data = self._connection.recv(1 << 16)
            self.returncode = int(json.loads(data)["code"]) if data else -1
        return self.returncode


def spawn_detached(command: list[str], *, env: Mapping[str, str], log: Path) -> ForkedServer | None:
    """Start ``<this interpreter> -m <module> ...`` forked by the warm command server of ``env``'s state dir,
    logging to ``log``, to outlive this process (stopped by its pid, or with the server); ``None`` when it must be
    started cold (no server, not ``python -m``, an environment the server did not import with)."""
    request = _module_request(command, env, None)
    if request is None:
        return None
    with Path(os.devnull).open("rb") as stdin, log.open("ab") as output:
        state_dir = Path(env.get("MLOPS_STATE_DIR") or ".mlops")
        handed = _hand_over(state_dir, {**request, "detached": True}, [stdin, output, output])
    return None if handed is None else ForkedServer(handed[1], handed[0])


def is_module_command(command: list[str]) -> bool:
    """``command`` is ``<this interpreter> -m <module> ...``: what a warm process can fork."""
    return len(command) >= 3 and command[0] == sys.executable and command[1] == "-m"


def _module_request(command: list[str], env: Mapping[str, str], cwd: str | None) -> dict[str, Any] | None:
    """The server's request for ``<this interpreter> -m <module> <args>``; ``None`` for any other command."""
    if not is_module_command(command):
        return None
    return {
        "module": command[2],
        "args": command[3:],
        "env": dict(env),
        "cwd": cwd or os.getcwd(),
        "executable": sys.executable,
    }


def is_script_command(command: list[str]) -> bool:
    """``command`` is ``<this interpreter> <file>.py ...`` (a job's driver): what the warm command server can fork."""
    is_python = len(command) >= 2 and command[0] == sys.executable
    return is_python and command[1].endswith(".py") and Path(command[1]).is_file()


def _script_request(command: list[str], env: Mapping[str, str], cwd: str | None) -> dict[str, Any] | None:
    """The server's request for ``<this interpreter> <script>.py <args>``; ``None`` for any other command."""
    if not is_script_command(command):
        return None
    return {
        "script": str(Path(command[1]).resolve()),
        "args": command[2:],
        "env": dict(env),
        "cwd": cwd or os.getcwd(),
        "executable": sys.executable,
    }


def first_import_path(request: Mapping[str, Any]) -> str:
    """What a cold interpreter puts first on ``sys.path``: a script's folder, else (``-m``) the working directory."""
    return os.path.dirname(request["script"]) if "script" in request else str(request.get("cwd") or os.getcwd())


def run_script_served(
    state_dir: Path,
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    timeout: float | None,
    on_line: Callable[[str], None],
) -> tuple[int, bool] | None:
    """Run ``<this interpreter> <script>.py <args>`` forked by the warm command server of ``state_dir``, its
    standard output and error (merged) handed to ``on_line`` line by line; (its status, whether ``timeout`` stopped
    it), or ``None`` when it must run cold (no server, not a script, the server says cold). A timeout, an interrupt
    or an error in ``on_line`` kills its process group; so does the server when this process dies."""
    request = _script_request(command, env, cwd)
    if request is None:
        return None
    read_fd, write_fd = os.pipe()
    with Path(os.devnull).open("rb") as stdin, os.fdopen(write_fd, "wb") as output:
        handed = _hand_over(state_dir, request, [stdin, output, output])
    if handed is None:
        os.close(read_fd)
        return None
    connection, pid = handed
    from mlops.local.processes import stop_after

    with (
        stop_after(timeout, lambda: kill_group(pid)) as expired,
        connection,
        os.fdopen(read_fd, errors="replace") as out,
    ):
        for raw in out:
            on_line(raw.rstrip("\n"))
        code, _ = _wait_served(connection, pid, None)
    return code, expired.is_set()


def _hand_over(state_dir: Path, request: dict[str, Any], streams: list[IO[bytes]]) -> tuple[Any, int] | None:
    """Send ``request`` with ``streams`` as the entry point's stdin, stdout and stderr to the warm command server
    of ``state_dir``; (the connection, the forked pid), or ``None`` when no server forked it (none runs, it says
    cold). The caller's copies of the streams may close at once: the entry point holds its own."""
    import socket

    from mlops.local import warm_cli

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(warm_cli.socket_name(state_dir))
        socket.send_fds(connection, [json.dumps(request).encode()], [f.fileno() for f in streams])
        answer = json.loads(connection.recv(warm_cli.MESSAGE_BYTES) or b"{}")
    except (OSError, ValueError):
        connection.close()
        return None
    if "pid" not in answer:
        connection.close()
        return None
    return connection, int(answer["pid"])


def _wait_served(connection: Any, pid: int, timeout: float | None) -> tuple[int, bool]:
    """The served entry point's status; on ``timeout`` or an interrupt its group is killed first."""
    from mlops.local import warm_cli

    def status() -> int:
        data = connection.recv(warm_cli.MESSAGE_BYTES)
        if not data:
            raise OSError("the warm command server stopped while the entry point ran")
        return int(json.loads(data)["code"])

    try:
        connection.settimeout(timeout)
        try:
            return status(), False
        except TimeoutError:
            kill_group(pid)
            connection.settimeout(None)
            return status(), True
    except BaseException:
        kill_group(pid)
        raise


_CURRENT: ContextVar[WarmPython | ServerPython | None] = ContextVar("warm_python", default=None)


@contextlib.contextmanager
def warm_entry_points(
    env: Mapping[str, str], preload: tuple[str, ...] = PRELOAD
) -> Iterator[WarmPython | ServerPython]:
    """For the block, ``processes.run_watched`` runs ``python -m`` entry points warm: in the platform's warm command
    server when one serves the state dir of ``env`` (``MLOPS_STATE_DIR``), else in a warm interpreter (with
    ``env``, the environment the runner gives its entry points; ``preload`` imported): the one this process kept
    from its last block when it imports alike, else one started now; kept idle at the end. An entry point the
    server will not fork (its environment imports differently from the server's) runs in such an interpreter."""
    from mlops.local import warm_cli

    state_dir = Path(env.get("MLOPS_STATE_DIR") or ".mlops")
    warm: WarmPython | ServerPython
    if warm_cli.answers(state_dir):
        warm = ServerPython(state_dir, fallback=lambda: _borrow(env, preload))
    else:
        warm = _borrow(env, preload)
    token = _CURRENT.set(warm)
    try:
        yield warm
    finally:
        _CURRENT.reset(token)
        kept = warm.own if isinstance(warm, ServerPython) else warm
        if kept is not None:
            _give_back(kept, env, preload)


# One idle warm interpreter per process, kept for its next execution: a process that runs several (a retraining
# loop, a test session) imports the model libraries once, not per execution. Its imports are third-party only, so
# a kept one runs edited steps as edited, like a fresh one. The newest kept wins; the rest are closed at once.
_IDLE: list[tuple[tuple[Any, ...], WarmPython]] = []
_IDLE_LOCK = threading.Lock()


def _pool_key(env: Mapping[str, str], preload: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(sorted(import_time_environment(env).items())), tuple(preload)


def _borrow(env: Mapping[str, str], preload: tuple[str, ...]) -> WarmPython:
    """The idle interpreter importing as ``env`` would, if one is kept and still runs; else one started now."""
    key = _pool_key(env, preload)
    with _IDLE_LOCK:
        kept = _IDLE.pop()[1] if _IDLE and _IDLE[-1][0] == key else None
    if kept is not None and kept.alive():
        return kept
    if kept is not None:
        kept.close()
    warm = WarmPython(env, preload)
    warm.start()
    return warm


def _give_back(warm: WarmPython, env: Mapping[str, str], preload: tuple[str, ...]) -> None:
    """Keep ``warm`` idle for the next execution (closing any other kept one); a dead one is closed."""
    if not warm.alive():
        warm.close()
        return
    with _IDLE_LOCK:
        others = [kept for _, kept in _IDLE]
        _IDLE[:] = [(_pool_key(env, preload), warm)]
    for other in others:
        other.close()


def close_idle() -> None:
    """Stop the kept interpreter (at exit; the server would die with this process anyway: ``PR_SET_PDEATHSIG``)."""
    with _IDLE_LOCK:
        kept = [warm for _, warm in _IDLE]
        _IDLE.clear()
    for warm in kept:
        warm.close()


def _forget_idle_in_child() -> None:
    """A forked child does not own its parent's kept interpreter: it must neither use nor close it (nor wait for a
    lock another of the parent's threads held at the fork)."""
    global _IDLE_LOCK  # noqa: PLW0603 (the child's own lock)
    _IDLE.clear()
    _IDLE_LOCK = threading.Lock()


atexit.register(close_idle)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_idle_in_child)


def current() -> WarmPython | ServerPython | None:
    """The warm server of the enclosing :func:`warm_entry_points` block, if any."""
    return _CURRENT.get()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads; a gone group is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# --- The server (this file run as a script) -------------------------------------------------------------------


def die_with_parent(signum: int) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


def _serve(parent: int, preload_modules: list[str]) -> int:
    die_with_parent(signal.SIGTERM)
    children: set[int] = set()

    def stop(signum: int, _frame: object) -> None:
        for pid in children:
            kill_group(pid)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    if os.getppid() != parent:
        stop(signal.SIGTERM, None)
    replies = os.fdopen(os.dup(1), "w")
    preloaded = preload(preload_modules)
    # A fork copies one thread: with a library's thread already running, a child could inherit a held lock.
    _reply(replies, {"ready": threading.active_count() == 1})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            replies.close()  # the runner must see the server's end, not a child holding its pipe
            _become(request, preloaded)  # never returns
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also here: the runner may kill the group before the child set it
        children.add(pid)
        _reply(replies, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        kill_group(pid)  # what the entry point left running goes with it
        children.discard(pid)
        _reply(replies, {"code": os.waitstatus_to_exitcode(status)})
    return 0


@dataclass(frozen=True)
class Preloaded:
    """What a server's imports left: the interpreter's own import path (without the server script's folder and
    PYTHONPATH), the import-time variables the libraries were imported with, and the variables the imports set
    (scikit-learn sets ``KMP_*``: a cold process would have them too)."""

    base_path: list[str]
    imported_with: dict[str, str]
    set_by_imports: dict[str, str]
    modules: tuple[str, ...] = ()  # the top-level packages imported

    def imports_as(self, env: Mapping[str, str], cwd: str | None = None) -> bool:
        """A cold interpreter started in ``cwd`` with ``env`` would import the libraries as this one did: the same
        import-time variables, apart from those the imports themselves set (a command forked from a warm process
        has them); a different ``PYTHONPATH`` is fine when every imported package resolves to the same file on the
        cold interpreter's import path (Spark puts its own entries first on its workers')."""
        given = {k: v for k, v in import_time_environment(env).items() if self.set_by_imports.get(k) != v}
        ours = dict(self.imported_with)
        path_given, path_ours = given.pop("PYTHONPATH", ""), ours.pop("PYTHONPATH", "")
        return given == ours and (path_given == path_ours or self._resolve_alike(path_given, cwd or os.getcwd()))

    def _resolve_alike(self, pythonpath: str, cwd: str) -> bool:
        from importlib.machinery import PathFinder

        path = [cwd, *filter(None, pythonpath.split(os.pathsep)), *self.base_path]
        for name in self.modules:
            loaded = getattr(sys.modules.get(name), "__spec__", None)
            found = PathFinder.find_spec(name, path)
            if loaded is None or found is None or found.origin != loaded.origin:
                return False
        return True


def preload(modules: Sequence[str]) -> Preloaded:
    """Import ``modules`` (a library missing from the install set is skipped)."""
    before = dict(os.environ)
    given = set(filter(None, before.get("PYTHONPATH", "").split(os.pathsep)))
    base_path = [p for p in sys.path[1:] if p not in given]
    imported: list[str] = []
    for module in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
            imported.append(module.partition(".")[0])
    _fill_caches()
    # What was imported here is never collected by a forked process (``gc.freeze`` before ``fork``, as the gc module
    # advises): a full collection in a child scanned all ~520k preloaded objects (245 ms of CPU; every model server
    # runs one at start) and, touching each, copied the memory pages it shared with the server.
    gc.collect()
    gc.freeze()
    added = {k: v for k, v in os.environ.items() if before.get(k) != v}
    return Preloaded(base_path, import_time_environment(before), added, tuple(dict.fromkeys(imported)))


def _fill_caches() -> None:
    """Fill what an imported library computes on first use and keeps for the process, so forked processes start
    with it: MLflow's map of installed distributions to their modules, which it reads every installed package's
    file list to build (0.8 s) each time a process saves a model. Like the imports, it is the install set as of
    the server's start."""
    requirements = sys.modules.get("mlflow.utils.requirements_utils")
    fill = getattr(requirements, "_init_packages_to_modules_map", None)
    if fill is None:  # a private helper of MLflow's: gone in a release, nothing to fill
        return
    try:
        fill()
    except Exception as exc:  # forked processes then build it themselves, as a cold one does
        print(f"warm interpreter: MLflow's installed-packages map not filled ({exc!r})", file=sys.stderr, flush=True)


def enter(preloaded: Preloaded, env: Mapping[str, str], cwd: str) -> None:
    """In a forked child: the signal handlers, working directory, environment and import path of a cold
    interpreter started in ``cwd`` with ``env``."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C is a KeyboardInterrupt, as in a shell
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({**preloaded.set_by_imports, **env})
    extra = list(filter(None, env.get("PYTHONPATH", "").split(os.pathsep)))
    sys.path[:] = [cwd, *extra, *preloaded.base_path]


def _reply(stream: IO[str], answer: dict[str, Any]) -> None:
    stream.write(json.dumps(answer) + "\n")
    stream.flush()


def _become(request: dict[str, Any], preloaded: Preloaded) -> None:
    """In the forked child: start ``python -m <module> <args>`` as a cold interpreter would; exit with its status."""
    code = 1
    try:
        os.setpgid(0, 0)
        die_with_parent(signal.SIGKILL)
        _redirect(request["stdout"], request["stderr"])
        enter(preloaded, request["env"], request["cwd"])
        sys.argv = [request["module"], *request["args"]]
        code = run_module(request["module"])
    finally:
        exit_as_interpreter(code)


def exit_as_interpreter(code: int) -> None:
    """End a forked child as an interpreter ends: atexit handlers, flushed output, the status; never returns (and
    never runs the server's own shutdown)."""
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _redirect(stdout: str, stderr: str) -> None:
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, stdout, os.O_WRONLY), (2, stderr, os.O_WRONLY)):
        opened = os.open(path, flags | (os.O_CREAT | os.O_TRUNC if fd else 0), 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors, open until it exits
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115


def run_module(module: str) -> int:
    """``python -m``'s exit status: 0, ``SystemExit``'s code, or 1 with the traceback on standard error."""
    return _exit_status(lambda: runpy.run_module(module, run_name="__main__", alter_sys=True))


def run_script(path: str) -> int:
    """``python <path>``'s exit status (as :func:`run_module`): the file run as ``__main__``."""
    return _exit_status(lambda: runpy.run_path(path, run_name="__main__"))


def open_standard_streams(env: Mapping[str, str]) -> None:
    """In a forked child whose descriptors 0-2 are set: ``sys.stdin``/``stdout``/``stderr`` on them, written
    through at once when ``PYTHONUNBUFFERED`` asks it (as ``python -u``; a job's runner streams its lines)."""
    import io

    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors, open until it exits
    if env.get("PYTHONUNBUFFERED"):
        sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False), write_through=True)  # noqa: SIM115
        sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False), write_through=True)  # noqa: SIM115
    else:  # as Python opens them: stdout buffered, stderr line-buffered
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def _exit_status(run: Callable[[], object]) -> int:
    try:
        run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--serve":
        sys.exit("usage: warm_python.py --serve PARENT_PID [MODULE...]")
    sys.exit(_serve(int(sys.argv[2]), sys.argv[3:]))
