"""A warm Spark for local Glue job runs: a Spark Connect server kept running while the local platform is up.

Why: a job run that starts its own JVM and Spark session pays 6-10 s of start-up (40 s on a busy machine)
before reading a row. The server pays it once, at ``mlops local up``; each job run then opens its own
Spark Connect session (``SparkSession.builder.remote``) in a fraction of a second.

How it runs:
- the JVM is started directly with ``spark-submit`` of :mod:`mlops.local.spark_connect_driver`, whose session starts
  the Connect service (``SparkConnectPlugin``, what ``sbin/start-connect-server.sh``'s main class starts): the PID
  the kit records IS the server (the JVM), started in its own process group (its Python driver and workers are in
  it too) and stopped by that PID;
- without artifact isolation between sessions, which that main class would force: with it each session (each job
  run) had a class loader of its own, and Spark keys its cache of compiled query code by class loader, so every run
  compiled each stage of its plan again (``benchmarks/spark_sessions.py``). The kit's jobs add no jars or files to their
  sessions; sessions still keep their own settings and temporary views;
- it listens on loopback only and requires a random token (``SPARK_CONNECT_AUTHENTICATE_TOKEN``, never on a
  command line): another local user cannot run code through it;
- memory is bounded: one JVM (driver and executors: ``local[N]``) of ``driver_memory``;
- the ``mapInArrow`` tasks of the jobs run in the server's Python workers: ``PYSPARK_PYTHON`` is this venv's
  interpreter and ``PYTHONPATH`` holds the kit, so they import the same ``mlops``/``pipelines`` code as the job.
  Workers are reused from one run to the next; before each task a worker drops the kit modules it imported once
  one of them changed on disk (:mod:`mlops.local.fresh_modules`), so an edited module is used by the next run
  without a restart.

State (pid, port, token, settings) lives in ``<state_dir>/spark/state.json`` (mode 0600: it holds the token),
the server's log in ``<state_dir>/spark/connect.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import psutil

from mlops.contracts import JOB_SPARK_REMOTE_ENV
from mlops.errors import EmulatorError
from mlops.local import jvm_archive, warm_cli
from mlops.local.processes import command_line, terminate
from mlops.local.spark_daemon import DEFAULT_IDLE_SECONDS, IDLE_ENV, WARM_DIR_ENV
from mlops.local.spark_daemon import PRELOAD as WARM_PRELOAD

if TYPE_CHECKING:
    from mlops.settings import LocalSparkSettings

HOST = "127.0.0.1"
# The main class a server started by an earlier version of the kit runs (still recognised, to be stopped).
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
DRIVER_PROGRAM = Path(__file__).with_name("spark_connect_driver.py")
# Per-session class loaders (spark.sql.artifact.isolation.*) off: compiled query code is shared by job runs.
NO_ARTIFACT_ISOLATION = {
    "spark.sql.artifact.isolation.enabled": "false",
    "spark.sql.artifact.isolation.alwaysApplyClassloader": "false",
}
DAEMON_MODULE = "mlops.local.spark_daemon"
# What Spark sets in its Python workers' environment that an interpreter reads when it starts.
WORKER_INTERPRETER_ENV = {"PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "YES", "OMP_NUM_THREADS": "1"}
STATEFILE = "state.json"
LOGFILE = "connect.log"
SCRATCH_DIR = "tmp"  # the JVM's java.io.tmpdir and spark.local.dir
SERIAL_GC_MAX_HEAP_MB = 2048
# The JVM compiles with its quick compiler (C1) only, not the optimising one (C2) as well.
QUICK_COMPILER_OPTION = "-XX:TieredStopAtLevel=1"
START_TIMEOUT_S = 120.0  # a JVM start on two busy cores can take a minute
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"
# The job's _runtime reads this: a Spark Connect URL means "use the warm server", else a local[N] master.
REMOTE_ENV = JOB_SPARK_REMOTE_ENV
# What pyspark sets in the environment of a process once it opens a Spark Connect session, and reads in every
# process that inherits it: a job or server started from such a process would make its classic session a client of
# a server it was never given ("define the remote URL by setting either the 'spark.remote' option...").
CLIENT_MODE_ENV = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")
_KIT_ROOT = Path(__file__).resolve().parents[2]

Health = Literal["running", "stopped", "stale"]


class SparkConnectError(EmulatorError):
    """The local Spark Connect server could not be started, found or stopped; the message says which and why."""


@dataclass(frozen=True)
class SparkConnectState:
    """What ``mlops local up`` recorded about the Spark Connect server it started."""

    pid: int
    host: str
    port: int
    token: str
    driver_memory: str
    cores: int
    started_at: float

    @property
    def remote_url(self) -> str:
        """The Spark Connect URL of the server. ``localhost``: pyspark only sends a token over a local channel
        to that name (any other host needs TLS)."""
        return f"sc://localhost:{self.port}"


@dataclass(frozen=True)
class SparkConnectStatus:
    health: Health
    state: SparkConnectState | None
    detail: str


def spark_home() -> Path:
    """The Spark distribution pyspark ships (bin/spark-submit, jars/ with the connect jar)."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SparkConnectError("pyspark is not installed: the local Spark Connect server needs it")
    return Path(spec.origin).parent


def spark_dir(state_dir: Path) -> Path:
    """Where the server of the local platform under ``state_dir`` keeps its state and log."""
    return state_dir / "spark"


def read_state(spark_dir: Path) -> SparkConnectState | None:
    path = spark_dir / STATEFILE
    if not path.is_file():
        return None
    try:
        return SparkConnectState(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise SparkConnectError(f"Spark Connect state file {path} is corrupt ({exc}); run `mlops local down`") from exc


def _write_state(spark_dir: Path, state: SparkConnectState) -> None:
    spark_dir.mkdir(parents=True, exist_ok=True)
    tmp = spark_dir / f"{STATEFILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(asdict(state)))
    tmp.replace(spark_dir / STATEFILE)


def _is_our_server(state: SparkConnectState) -> bool:
    """True when the recorded pid is alive and is a Spark Connect server on the recorded port (PID reuse)."""
    try:
        cmdline = " ".join(command_line(psutil.Process(state.pid)))
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    program = str(DRIVER_PROGRAM) in cmdline or SERVER_CLASS in cmdline
    return program and f"spark.connect.grpc.binding.port={state.port}" in cmdline


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def status(spark_dir: Path) -> SparkConnectStatus:
    """Inspect the recorded server without changing anything."""
    state = read_state(spark_dir)
    if state is None:
        return SparkConnectStatus("stopped", None, "no Spark Connect server recorded")
    if not _is_our_server(state):
        return SparkConnectStatus("stale", state, f"Spark Connect server pid {state.pid} is gone")
    if not _listening(state.host, state.port):
        return SparkConnectStatus(
            "stale", state, f"Spark Connect server pid {state.pid} does not listen on {state.port}"
        )
    return SparkConnectStatus("running", state, f"Spark Connect server pid {state.pid} at {state.remote_url}")


def running_state(spark_dir: Path) -> SparkConnectState | None:
    """The recorded server when it runs and answers, else ``None`` (the caller then starts its own JVM)."""
    current = status(spark_dir)
    return current.state if current.health == "running" else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command(
    home: Path,
    port: int,
    driver_memory: str,
    cores: int,
    scratch: Path | None = None,
    *,
    java_options: Sequence[str] = (),
    quick_compiler: bool = True,
) -> list[str]:
    """``spark-submit`` of the Spark Connect server (:data:`DRIVER_PROGRAM` with the Connect plugin, no artifact
    isolation): loopback, one port, bounded memory, no UI, its temporary
    files in ``scratch``, its JVM given ``java_options`` (those of :func:`mlops.local.jvm_archive.java_options`)
    after :func:`server_jvm_options`."""
    confs = {
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        # Tasks reuse Python workers, within a run and from one run to the next (no artifact isolation: one
        # daemon); a worker re-imports the kit's modules changed on disk (mlops.local.spark_worker_daemon).
        "spark.python.worker.reuse": "true",
        # Idle sessions of crashed or killed job runs are released (default: 60 min).
        "spark.connect.session.manager.defaultSessionTimeout": "10min",
        # The worker daemon is forked by a warm interpreter (mlops.local.spark_daemon; cold without one).
        "spark.python.daemon.module": DAEMON_MODULE,
        "spark.plugins": CONNECT_PLUGIN,  # the driver program's session starts the Connect service
        **NO_ARTIFACT_ISOLATION,
    }
    command = [str(home / "bin" / "spark-submit"), "--name", "mlops-spark-connect"]
    command += ["--master", f"local[{cores}]", "--driver-memory", driver_memory]
    options = [*server_jvm_options(driver_memory, quick_compiler), *java_options]
    if scratch is not None:  # its temporary files in the state dir (a killed JVM leaves them behind)
        options = [f"-Djava.io.tmpdir={scratch}", *options]
        command += ["--conf", f"spark.local.dir={scratch}"]
    if options:
        command += ["--driver-java-options", " ".join(options)]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    return [*command, str(DRIVER_PROGRAM)]


def server_jvm_options(driver_memory: str, quick_compiler: bool) -> list[str]:
    """The collector for the heap, and with ``quick_compiler`` the quick compiler only: over a local session of
    small jobs the optimising compiler adds half again to the server's CPU, and its faster code pays back only on
    long runs over large data (``benchmarks/server_compiler.py``: a start and six jobs of 30,000 rows 74.7 -> 49.2
    CPU-s, wall alike; the main job's server 54-59 -> 29 CPU-s)."""
    return [*collector_options(driver_memory), *([QUICK_COMPILER_OPTION] if quick_compiler else [])]


def collector_options(driver_memory: str) -> list[str]:
    """The serial collector for a heap of up to :data:`SERIAL_GC_MAX_HEAP_MB` (the default 1 GB): on two cores the
    default G1's concurrent threads cost 6-20% more CPU to start the server and ~10% more per later job for no gain
    on so small a heap (``benchmarks/server_collector.py``); a larger heap keeps G1 (a full collection of several
    GB would pause the server for seconds)."""
    amount, unit = int(driver_memory[:-1]), driver_memory[-1].lower()
    megabytes = amount * 1024 if unit == "g" else amount
    return ["-XX:+UseSerialGC"] if megabytes <= SERIAL_GC_MAX_HEAP_MB else []


def server_env(
    home: Path, token: str, spark_dir: Path | None = None, *, idle_daemon_seconds: float = DEFAULT_IDLE_SECONDS
) -> dict[str, str]:
    """The server's environment: its Python workers run this venv's interpreter with the kit importable (and
    their daemons are forked by the warm interpreter of ``spark_dir``, when given, and stopped after
    ``idle_daemon_seconds`` without a worker)."""
    env = inherited_env()
    env.update(
        {
            "SPARK_HOME": str(home),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": HOST,
            "PYTHONPATH": os.pathsep.join(p for p in (str(_KIT_ROOT), env.get("PYTHONPATH", "")) if p),
            TOKEN_ENV: token,
            IDLE_ENV: f"{idle_daemon_seconds:g}",
        }
    )
    if spark_dir is not None:
        env[WARM_DIR_ENV] = str(spark_dir.resolve())
    return env


def inherited_env() -> dict[str, str]:
    """What a job or server process started here inherits: this process's environment without its ``AWS_*`` and
    ``MLOPS_*`` variables (they must not send it elsewhere than the platform's services) and without pyspark's
    client-mode variables (:data:`CLIENT_MODE_ENV`: a caller's own Spark Connect session is not the child's)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLOPS_")) and k not in CLIENT_MODE_ENV}


def up(
    spark_dir: Path,
    *,
    driver_memory: str = "1g",
    cores: int | None = None,
    port: int | None = None,
    class_archive: bool = True,
    quick_compiler: bool = True,
    idle_daemon_seconds: float = DEFAULT_IDLE_SECONDS,
) -> tuple[SparkConnectState, bool]:
    """Start the server, or reuse the running one recorded in ``spark_dir``. Returns it and whether it started.
    With ``class_archive`` its JVM maps the Spark class archive, made first if there is none
    (:mod:`mlops.local.jvm_archive`); with ``quick_compiler`` it compiles with the quick compiler only. A new
    server's Python worker daemons stop after ``idle_daemon_seconds`` without a worker."""
    current = status(spark_dir)
    if current.health == "running" and current.state is not None:
        running = current.state  # its workers' warm interpreter again, if it was stopped
        env = server_env(spark_home(), running.token, spark_dir, idle_daemon_seconds=idle_daemon_seconds)
        _warm_workers_up(spark_dir, env, running.pid)
        return running, False
    if current.state is not None:
        down(spark_dir)
    home = spark_home()
    archive = jvm_archive.ensure(home, inherited_env()) if class_archive else None  # made once per Spark and JDK
    chosen = port or _free_port()
    if _listening(HOST, chosen):
        raise SparkConnectError(f"port {chosen} on {HOST} is already taken: cannot start Spark Connect there")
    used_cores = max(1, min(cores or 2, os.cpu_count() or 1))
    token = secrets.token_urlsafe(24)
    spark_dir.mkdir(parents=True, exist_ok=True)
    scratch = spark_dir / SCRATCH_DIR
    shutil.rmtree(scratch, ignore_errors=True)  # what an earlier server that was killed left
    scratch.mkdir()
    env = server_env(home, token, spark_dir, idle_daemon_seconds=idle_daemon_seconds)
    with (spark_dir / LOGFILE).open("ab") as log:
        log.write(_archive_line(archive).encode())
        java_options = jvm_archive.options_for(archive.path) if archive is not None else []
        process = subprocess.Popen(
            server_command(
                home,
                chosen,
                driver_memory,
                used_cores,
                scratch,
                java_options=java_options,
                quick_compiler=quick_compiler,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=spark_dir,
            start_new_session=True,  # its own process group: stopped with its Python workers, not by Ctrl-C
        )
    # The workers' warm interpreter imports while the JVM starts; it stops when the JVM exits.
    _warm_workers_up(spark_dir, env, process.pid)
    state = SparkConnectState(process.pid, HOST, chosen, token, driver_memory, used_cores, time.time())
    _wait_listening(process, state, spark_dir / LOGFILE)
    _write_state(spark_dir, state)
    return state, True


def _archive_line(archive: jvm_archive.ArchiveOutcome | None) -> str:
    if archive is None:
        return "mlops: the Spark class archive is off (local_spark.class_archive)\n"
    if archive.made:
        return f"mlops: Spark class archive made in {archive.seconds:.0f} s: {archive.path}\n"
    if archive.path is not None:
        return f"mlops: Spark class archive {archive.path}\n"
    return f"mlops: no Spark class archive (the JVM loads every class from the jars): {archive.detail}\n"


def _warm_workers_up(spark_dir: Path, env: dict[str, str], jvm: int) -> None:
    """Start the warm interpreter the server's Python worker daemons fork from (:mod:`mlops.local.spark_daemon`),
    with what Spark gives its workers' interpreters: a fixed hash seed, unbuffered output, one OpenMP thread per
    task and its own ``pyspark.zip`` first on the import path (a daemon forked from an interpreter whose pyspark
    came from elsewhere is refused by the server, and runs cold)."""
    home = spark_home()
    libs = [home / "python" / "lib" / "pyspark.zip", *sorted((home / "python" / "lib").glob("py4j-*-src.zip"))]
    pythonpath = os.pathsep.join([*(str(p) for p in libs if p.is_file()), env.get("PYTHONPATH", "")])
    worker_env = {**env, **WORKER_INTERPRETER_ENV, "PYTHONPATH": pythonpath}
    warm_cli.up(spark_dir, worker_env, preload=WARM_PRELOAD, watch=jvm)


def _wait_listening(process: subprocess.Popen[bytes], state: SparkConnectState, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SparkConnectError(f"Spark Connect server exited with code {process.returncode}; see {log}")
        if _listening(state.host, state.port):
            return
        time.sleep(0.2)
    _stop_group(process.pid)
    raise SparkConnectError(f"Spark Connect server did not listen on {state.port} within {START_TIMEOUT_S:.0f}s")


def _stop_group(pid: int) -> None:
    """SIGTERM the server (it stops its Python workers), then anything left in its process group."""
    terminate(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pid, signal.SIGKILL)


def down(spark_dir: Path) -> SparkConnectStatus:
    """Stop exactly the recorded server (after checking the PID is still it) and clear its record."""
    current = status(spark_dir)
    if current.state is not None:
        if _is_our_server(current.state):
            _stop_group(current.state.pid)
        (spark_dir / STATEFILE).unlink(missing_ok=True)
    warm_cli.down(spark_dir)  # the workers' warm interpreter (it also stops by itself once the JVM is gone)
    return current


def client_env(state: SparkConnectState) -> dict[str, str]:
    """What a job's process needs to open its own session on the server (the token travels in the env)."""
    return {REMOTE_ENV: state.remote_url, TOKEN_ENV: state.token}


def up_for(state_dir: Path, settings: LocalSparkSettings) -> tuple[SparkConnectState, bool] | None:
    """``up`` with the local platform's settings; ``None`` (and any recorded server stopped) when turned off."""
    directory = spark_dir(state_dir)
    if not settings.enabled:
        down(directory)
        return None
    return up(
        directory,
        driver_memory=settings.driver_memory,
        cores=settings.cores,
        class_archive=settings.class_archive,
        quick_compiler=settings.quick_compiler,
        idle_daemon_seconds=settings.idle_daemon_seconds,
    )
