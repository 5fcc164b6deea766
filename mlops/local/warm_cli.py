"""The warm command server: ``mlops local up`` starts one Python process that has imported the libraries the
commands use (MLflow, Great Expectations, pandas, scikit-learn, boto3...); each ``mlops`` command typed while it
runs is forked from it instead of importing them again (1-3 s per command of the main job).

The command the user runs stays the process they see: it connects to the server (an abstract Unix socket named
after the state dir, this user's only: the server checks the peer's uid), hands over its standard input, output
and error (``SCM_RIGHTS``: a terminal stays a terminal, a pipe a pipe), its arguments, environment and working
directory, forwards the signals it gets (Ctrl-C, ``kill``) to the forked command's process group, and exits with
its status. If the client dies, the server kills the forked command; if the server dies, its commands die with it
(``PR_SET_PDEATHSIG``).

The server imports the third-party libraries and the kit's core modules (the CLI, settings, outputs, wiring:
:mod:`mlops.local.warm_kit`); a command keeps that core while its files are unchanged and otherwise imports the
kit from disk, so an edited command runs as edited. Entry points and job drivers keep it on the same terms.
It serves a command cold (the client runs it in its own process) when the client's interpreter or what a library
reads at import time differs (:data:`warm_python.IMPORT_TIME_VARIABLES`). A state dir named only in the config file
is not looked up: the client finds a server by ``MLOPS_STATE_DIR`` or the default ``.mlops``.
``MLOPS_LOCAL_CLI__ENABLED=false``: no server, every command cold.

The local runners' ``python -m`` entry points (pipeline steps, the training job) fork from it too when a command
runs them (:class:`mlops.local.warm_python.ServerPython`): no interpreter of their own to warm up.

Protocol (``SOCK_SEQPACKET``, one JSON message each): the client sends ``{"argv", "env", "cwd", "executable"}``
(a command), ``{"module", "args", "env", "cwd", "executable"}`` (an entry point) or ``{"script", ...}`` (a local
job's driver, ``python <script>.py``) with three descriptors (its standard streams; for an entry point
``/dev/null`` and its output files, for a driver its runner's pipe); the server answers ``{"pid"}`` or
``{"cold": reason}``, then ``{"code"}``. An entry point's process group is killed when it exits, as
``run_watched`` does; a command's is not (what it started detached, an endpoint, goes on). A ``"detached"`` entry
point (a model server :func:`mlops.local.endpoint_runner.launch` starts) outlives its client's connection; it is
stopped by its pid, or with the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the client (every `mlops` command) imports this module: the server's helpers on first use
    from mlops.local.warm_kit import KitImports
    from mlops.local.warm_python import Preloaded

DISABLE_VARIABLE = "MLOPS_LOCAL_CLI__ENABLED"
# Not forked: `local` starts and stops this server; `mlflow ui` is a long-running server of its own.
COLD_GROUPS = frozenset({"local", "mlflow"})
MESSAGE_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 5.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# The pipeline steps' libraries, plus what the commands themselves import (validation, the CLI's own).
PRELOAD_EXTRA = ("great_expectations", "typer", "rich.console", "httpx", "deltalake", "psutil")


def socket_name(state_dir: Path) -> bytes:
    """The abstract socket of ``state_dir``'s server (per user: the uid is part of the name and checked)."""
    import hashlib

    digest = hashlib.sha256(f"{os.getuid()}:{state_dir.resolve()}".encode()).hexdigest()[:32]
    return b"\0mlops-warm-cli-" + digest.encode()


def record_file(state_dir: Path) -> Path:
    return state_dir / "warm-cli" / "server.json"


# --- The client (the `mlops` command) --------------------------------------------------------------------------


def delegate(argv: list[str], env: Mapping[str, str]) -> int | None:
    """Run the command ``argv`` in the warm server of this state dir; its exit status, or ``None`` when the
    command is to run in this process (no server, a cold group, help, a server that says cold)."""
    # A cold group anywhere among the words (a root option's value may come first: `--target moto local down`
    # run in the server would stop the server under itself); a word that only looks like one costs speed only.
    words = [arg for arg in argv if not arg.startswith("-")]
    if not words or COLD_GROUPS & set(words) or env.get(DISABLE_VARIABLE, "").lower() in ("false", "0", "no"):
        return None
    if terminal_in_the_way(argv):
        return None
    state_dir = Path(env.get("MLOPS_STATE_DIR") or ".mlops")
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        connection.connect(socket_name(state_dir))
    except OSError:
        return None  # no server: the common case outside a local platform
    with connection:
        request = {
            "argv": argv,
            "env": dict(env),
            "cwd": os.getcwd(),
            "executable": sys.executable,
            "prog": _program_name(),
            "ignored": [s for s in _FORWARDED if signal.getsignal(s) == signal.SIG_IGN],
        }
        try:
            socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
            answer = _receive(connection)
        except OSError:
            return None  # the server went away before it forked anything: run here
        if answer is None or "pid" not in answer:
            return None
        return _wait(connection, int(answer["pid"]))


def terminal_in_the_way(argv: list[str], stdin: int = 0, outputs: tuple[int, int] = (1, 2)) -> bool:
    """A forked command is not in its terminal's foreground process group, so job control would stop it
    (SIGTTIN) when it reads the terminal (a ``-`` argument: ``mlops predict -`` typed in), or (SIGTTOU) when it
    writes to a terminal set to ``stty tostop``: such a command runs in the client's own process."""
    import termios

    if "-" in argv and os.isatty(stdin):
        return True
    for fd in outputs:
        if os.isatty(fd):
            with contextlib.suppress(termios.error):
                if termios.tcgetattr(fd)[3] & termios.TOSTOP:
                    return True
    return False


def _wait(connection: socket.socket, pid: int) -> int:
    """Forward the signals this process gets to the command's group until the server reports its status."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)

    def suspend(_signum: int, _frame: object) -> None:  # Ctrl-Z: the command stops with this process, and goes on
        forward(signal.SIGSTOP, None)  # with it (`fg`, `bg`)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # returns once this process is continued
        signal.signal(signal.SIGTSTP, suspend)
        forward(signal.SIGCONT, None)

    # A signal this process ignores (Ctrl-C in a script's background job) is ignored by the command too.
    previous = {s: signal.signal(s, forward) for s in _FORWARDED if signal.getsignal(s) != signal.SIG_IGN}
    if signal.getsignal(signal.SIGTSTP) != signal.SIG_IGN:
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    try:
        try:
            answer = _receive(connection)
        except OSError:
            answer = None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if answer is None:
        print("mlops: the warm command server stopped while the command ran", file=sys.stderr)
        return 1
    code = int(answer["code"])
    if code < 0:  # killed by a signal: so is this process, as a shell expects of the command it ran
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 128 - code


def _program_name() -> str:
    """The name the command's usage lines give this program, as click derives it (``mlops``, or ``python -m
    mlops.cli``), from this process's ``__main__`` (the forked command's is the server script)."""
    main = sys.modules.get("__main__")
    package = getattr(main, "__package__", None)
    name = Path(sys.argv[0]).name
    if not package:
        return name
    module = Path(name).stem
    return f"python -m {package if module == '__main__' else f'{package}.{module}'}"


def _receive(connection: socket.socket) -> dict[str, Any] | None:
    data = connection.recv(MESSAGE_BYTES)
    if not data:
        return None
    answer: dict[str, Any] = json.loads(data)
    return answer


# --- Lifecycle (`mlops local up | down`) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    state_dir: str


def read_record(state_dir: Path) -> ServerRecord | None:
    try:
        raw = json.loads(record_file(state_dir).read_text())
        return ServerRecord(int(raw["pid"]), str(raw["state_dir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_warm_server_command(cmdline: list[str]) -> bool:
    """``cmdline`` is a warm command server's (also what a process it forked shows)."""
    return "--serve" in cmdline and any(part.endswith("warm_cli.py") for part in cmdline)


def is_ours(record: ServerRecord) -> bool:
    """The recorded pid still runs this file's server for that state dir (not a process that reused the pid)."""
    import psutil

    from mlops.local.processes import command_line

    try:
        process = psutil.Process(record.pid)
        cmdline = command_line(process)
        parent = process.ppid()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    forked = parent != 1 and is_warm_server_command(_cmdline(parent))  # a child of a server is not the server
    return is_warm_server_command(cmdline) and record.state_dir in cmdline and not forked


def _cmdline(pid: int) -> list[str]:
    import psutil

    from mlops.local.processes import command_line

    try:
        return command_line(psutil.Process(pid))
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def answers(state_dir: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        try:
            probe.connect(socket_name(state_dir))
        except OSError:
            return False
    return True


def status(state_dir: Path) -> dict[str, Any] | None:
    """The recorded server of ``state_dir``: its pid and whether it answers (it imports for a few seconds after
    `mlops local up`: commands run cold meanwhile); ``None`` when none runs."""
    record = read_record(state_dir)
    if record is None or not is_ours(record):
        return None
    return {"pid": record.pid, "answers": answers(state_dir)}


def up(
    state_dir: Path, env: Mapping[str, str], *, preload: tuple[str, ...] = (), watch: int | None = None
) -> tuple[int, bool]:
    """Start the server of ``state_dir`` (it imports in the background; commands run cold until it listens) or
    reuse the running one; (pid, started). ``preload``: what it imports instead of the commands' libraries (the
    Spark Connect server's Python workers, :mod:`mlops.local.spark_daemon`); ``watch``: it stops when that
    process exits."""
    import subprocess

    from mlops.private_files import private_dir

    current = read_record(state_dir)
    if current is not None and is_ours(current):
        return current.pid, False
    directory = private_dir(record_file(state_dir).parent)
    resolved = str(state_dir.resolve())
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", resolved]
    if watch is not None:
        command += ["--watch", str(watch)]
    if preload:
        command += ["--preload", ",".join(preload)]
    with (directory / "server.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            cwd=resolved,
        )
    record_file(state_dir).write_text(json.dumps({"pid": process.pid, "state_dir": resolved}))
    return process.pid, True


def down(state_dir: Path) -> int | None:
    """Stop the recorded server (its running commands with it); the pid it had, if one ran."""
    from mlops.local.processes import terminate

    record = read_record(state_dir)
    if record is None:
        return None
    if is_ours(record):
        terminate(record.pid)
    with contextlib.suppress(FileNotFoundError):
        record_file(state_dir).unlink()
    return record.pid


# --- The server (this file run as a script) ---------------------------------------------------------------------


@dataclass
class _Command:
    connection: socket.socket
    pid: int
    pidfd: int
    entry_point: bool  # a `python -m` entry point (run_watched's contract): what it leaves running goes with it
    detached: bool = False  # a server that outlives the command that started it (endpoint_runner.launch)


def _serve(state_dir: Path, modules: tuple[str, ...], watch: int | None, *, kit: bool = False) -> int:
    import gc
    import select
    import threading

    from mlops.local.warm_kit import KitImports, import_core
    from mlops.local.warm_python import kill_group, preload

    try:
        watched = [] if watch is None else [os.pidfd_open(watch)]
    except ProcessLookupError:  # the process this server would work for is gone already
        print(f"warm command server: pid {watch} is gone; not serving", flush=True)
        return 0
    preloaded = preload(modules)
    loader = _filled_botocore_loader() if "boto3" in preloaded.modules else None
    warm = _Warm(preloaded, loader, import_core() if kit else KitImports())
    gc.collect()
    gc.freeze()  # as preload() did for the libraries: a forked command's collections never scan, so copy, these
    if threading.active_count() != 1:  # a fork copies one thread: a library's running thread could hold a lock
        print(f"warm command server: {threading.active_count()} threads after imports; not serving", flush=True)
        return 1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(socket_name(state_dir))
    listener.listen(16)
    print(f"warm command server pid {os.getpid()} serving {state_dir}", flush=True)
    running: dict[int, _Command] = {}  # by pidfd
    by_connection: dict[int, _Command] = {}

    def stop(signum: int, _frame: object) -> None:
        for command in running.values():
            kill_group(command.pid)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    while True:
        readable, _, _ = select.select([listener.fileno(), *by_connection, *running, *watched], [], [])
        for fd in readable:
            if fd in watched:  # the process this server works for has exited
                stop(signal.SIGTERM, None)
            elif fd == listener.fileno():
                _accept(listener, warm, running, by_connection)
            elif fd in running:
                _finished(running.pop(fd), by_connection)
            elif fd in by_connection:  # the client hung up before its command ended: the command goes too
                gone = by_connection.pop(fd)
                if not gone.detached:  # a server started to outlive its command (an endpoint) goes on
                    kill_group(gone.pid)


def _filled_botocore_loader() -> Any:
    """botocore's data loader with the kit's services parsed, for the commands forked from here to share."""
    from mlops.adapters.aws.clients import filled_loader

    try:
        return filled_loader()
    except Exception as exc:  # each command then parses the models itself, as a cold one does
        print(f"warm command server: AWS service models not parsed ahead ({exc!r})", file=sys.stderr, flush=True)
        return None


@dataclass(frozen=True)
class _Warm:
    """What the server holds for the processes it forks."""

    preloaded: Preloaded  # the third-party libraries
    loader: Any  # botocore's loader with the kit's AWS service models parsed (None: not preloaded)
    kit: KitImports  # the kit's own core modules (empty: each command imports the kit from disk)


def _accept(
    listener: socket.socket, warm: _Warm, running: dict[int, _Command], by_connection: dict[int, _Command]
) -> None:
    from mlops.local.warm_python import first_import_path

    connection, _ = listener.accept()
    uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
    connection.settimeout(REQUEST_TIMEOUT_S)  # one server loop: a client that connects and says nothing must not
    try:  # hold the others up
        data, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, 3)
        request = json.loads(data) if data else {}
    except (OSError, ValueError):
        connection.close()
        return
    connection.settimeout(None)
    reason = ""
    if uid != os.getuid():
        reason = "another user's command"
    elif request.get("executable") != sys.executable:
        reason = "another interpreter"
    elif not warm.preloaded.imports_as(request.get("env", {}), first_import_path(request)):
        reason = "an environment the libraries were not imported with"
    elif len(fds) != 3:
        reason = "no standard streams"
    if reason:
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            connection.send(json.dumps({"cold": reason}).encode())
        connection.close()
        return
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in by_connection.values():
            other.connection.close()
        for pidfd in running:
            os.close(pidfd)
        _become(connection, request, fds, warm)  # never returns
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    detached = bool(request.get("detached"))
    entry_point = ("module" in request or "script" in request) and not detached
    command = _Command(connection, pid, os.pidfd_open(pid), entry_point, detached)
    running[command.pidfd] = command
    by_connection[connection.fileno()] = command
    with contextlib.suppress(OSError):
        connection.send(json.dumps({"pid": pid}).encode())


def _finished(command: _Command, by_connection: dict[int, _Command]) -> None:
    from mlops.local.warm_python import kill_group

    _, status = os.waitpid(command.pid, 0)
    os.close(command.pidfd)
    if command.entry_point:
        kill_group(command.pid)
    by_connection.pop(command.connection.fileno(), None)
    with contextlib.suppress(OSError):
        command.connection.send(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())
    command.connection.close()


def _become(connection: socket.socket, request: dict[str, Any], fds: list[int], warm: _Warm) -> None:
    """In the forked child: become ``mlops <argv>`` run in the client's place, or the entry point ``python -m
    <module> <args>`` a local runner asked for; exit with its status."""
    from mlops.local.warm_kit import current, forget
    from mlops.local.warm_python import (
        die_with_parent,
        enter,
        exit_as_interpreter,
        first_import_path,
        open_standard_streams,
    )

    code = 1
    try:
        connection.close()
        os.setpgid(0, 0)
        die_with_parent(signal.SIGKILL)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        open_standard_streams(request["env"])
        enter(warm.preloaded, request["env"], request["cwd"])
        for signum in request.get("ignored", []):
            signal.signal(signum, signal.SIG_IGN)
        if "script" in request:  # a driver's folder comes first on its path, as for `python <script>.py`
            sys.path[0] = first_import_path(request)
        # The kit modules the server imported are kept while they are what this process would import from disk.
        if not current(warm.kit, sys.path, main=request.get("module")):
            forget()
        if warm.loader is not None:  # the service models the server parsed, for the command's AWS clients
            from mlops.adapters.aws.clients import share_loader

            share_loader(warm.loader)
        if "module" in request:  # an entry point of a local runner (mlops.local.warm_python.ServerPython)
            from mlops.local.warm_python import run_module

            sys.argv = [request["module"], *request["args"]]
            code = run_module(request["module"])
        elif "script" in request:  # a job's driver (mlops.local.warm_python.run_script_served)
            from mlops.local.warm_python import run_script

            sys.argv = [request["script"], *request["args"]]
            code = run_script(request["script"])
        else:
            from mlops.cli.main import run

            sys.argv = ["mlops", *request["argv"]]
            code = run(prog_name=request.get("prog") or "mlops")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        exit_as_interpreter(code)


def _main(argv: list[str]) -> int:
    import argparse

    from mlops.local.warm_python import PRELOAD

    parser = argparse.ArgumentParser(prog="warm_cli.py", description="The warm command server of a state dir.")
    parser.add_argument("--serve", type=Path, required=True, metavar="STATE_DIR")
    parser.add_argument("--watch", type=int, metavar="PID", help="stop when this process exits")
    parser.add_argument("--preload", help="comma-separated modules to import (default: the commands' libraries)")
    args = parser.parse_args(argv)
    if args.preload:  # a server for other processes than the commands (Spark's Python workers): no kit core
        return _serve(args.serve, tuple(args.preload.split(",")), args.watch)
    return _serve(args.serve, (*PRELOAD, *PRELOAD_EXTRA), args.watch, kit=True)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
