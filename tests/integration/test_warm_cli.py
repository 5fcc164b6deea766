"""The warm command server (mlops.local.warm_cli): an `mlops` command typed while it runs is forked from it and
ends as the same command run cold (output, errors, exit status); signals reach it, a killed client takes it along,
and without a server (or with an environment the libraries were not imported with) commands run cold.
No emulator: the commands used need none."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from mlops.contracts import with_local_threads
from mlops.local import warm_cli
from tests.support.signals import with_default_signals

pytestmark = [pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
MLOPS = [sys.executable, "-m", "mlops.cli"]
READY_WITHIN_S = 120.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A warm command server for a state dir of this module's own; stopped at the end."""
    state_dir = tmp_path_factory.mktemp("warm-cli-state")
    warm_cli.up(state_dir, with_local_threads(dict(os.environ)))
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not warm_cli.answers(state_dir):
            assert time.monotonic() < deadline, (state_dir / "warm-cli" / "server.log").read_text()
            time.sleep(0.2)
        yield state_dir
    finally:
        warm_cli.down(state_dir)


def _env(state_dir: Path, warm: bool, **extra: str) -> dict[str, str]:
    return {**os.environ, "MLOPS_STATE_DIR": str(state_dir), "MLOPS_LOCAL_CLI__ENABLED": str(warm).lower(), **extra}


def _server_children(state_dir: Path) -> list[psutil.Process]:
    record = warm_cli.read_record(state_dir)
    assert record is not None
    return psutil.Process(record.pid).children()


@pytest.mark.parametrize(
    "args",
    [
        ["data", "generate", "diabetes", "--rows", "40", "--out", "{out}"],  # succeeds, writes a file
        ["data", "generate", "no_such_dataset", "--out", "{out}"],  # the kit's error: status 2, one line
        ["data", "generate", "diabetes", "--rows", "not-a-number"],  # a usage error from the parser
        ["model", "--help"],
    ],
)
def test_a_forked_command_ends_as_the_cold_one(server: Path, tmp_path: Path, args: list[str]) -> None:
    runs = {}
    for warm in (True, False):
        out = tmp_path / f"{'warm' if warm else 'cold'}.csv"
        argv = [arg.replace("{out}", str(out)) for arg in args]
        done = subprocess.run(
            [*MLOPS, *argv], cwd=ROOT, env=_env(server, warm), capture_output=True, text=True, timeout=300
        )
        # the same words (rich wraps lines anywhere in the path: compared without whitespace); figures such as
        # "produced in 0.84s, 48 rows/s" differ from run to run
        words = "".join((done.stdout + done.stderr).split()).replace(str(out), "OUT")
        normalised = re.sub(r"[0-9][0-9,.]*", "N", words)
        runs[warm] = (done.returncode, normalised, out.read_bytes() if out.is_file() else None)
    assert runs[True] == runs[False]


def test_the_command_runs_in_a_forked_child_of_the_server(server: Path, tmp_path: Path) -> None:
    env = with_local_threads(_env(server, True))  # as the entry point sets it before it delegates
    argv = ["data", "generate", "diabetes", "--rows", "40", "--out", str(tmp_path / "d.csv")]
    code = warm_cli.delegate(argv, env)
    assert code == 0 and (tmp_path / "d.csv").is_file()  # run by the server: delegate returned its status


def test_a_command_run_from_another_checkout_runs_that_checkout_s_code(
    server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server holds the kit's core modules (mlops.local.warm_kit); a command whose working directory holds
    another copy of the kit imports that copy, as a cold ``python -m mlops.cli`` there would."""
    other = tmp_path / "other-checkout"
    for package in ("mlops", "mlops/cli", "mlops/adapters", "mlops/adapters/aws"):
        (other / package).mkdir(parents=True)
        (other / package / "__init__.py").write_text("")
    (other / "mlops/cli/main.py").write_text(
        "def run(prog_name=None):\n    print('run by the other checkout')\n    return 7\n"
    )
    (other / "mlops/adapters/aws/clients.py").write_text("def share_loader(loader):\n    pass\n")
    monkeypatch.chdir(other)
    env = with_local_threads(_env(server, True))
    assert warm_cli.delegate(["data", "generate", "diabetes", "--rows", "40"], env) == 7
    assert "run by the other checkout" in capfd.readouterr().out


def test_an_environment_the_libraries_were_not_imported_with_runs_cold(server: Path) -> None:
    env = {**with_local_threads(dict(os.environ)), **_env(server, True), "OMP_NUM_THREADS": "3"}
    assert warm_cli.delegate(["model", "--help"], env) is None


def test_without_a_server_or_for_local_commands_nothing_is_forked(server: Path, tmp_path: Path) -> None:
    env = {**with_local_threads(dict(os.environ)), **_env(server, True)}
    assert warm_cli.delegate(["local", "status"], env) is None  # `local` starts and stops the server itself
    assert warm_cli.delegate(["--target", "moto", "local", "down"], env) is None  # after a root option's value
    assert warm_cli.delegate(["model", "--help"], {**env, "MLOPS_STATE_DIR": str(tmp_path)}) is None
    assert warm_cli.delegate(["model", "--help"], {**env, "MLOPS_LOCAL_CLI__ENABLED": "false"}) is None


# Generates rows until interrupted: long enough for a signal to arrive while the command works.
LONG = ["data", "generate", "card_transactions", "--rows", "5000000", "--out", "{out}"]


def _forked_command(state_dir: Path, client: subprocess.Popen[Any]) -> psutil.Process:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = _server_children(state_dir)
        if children:
            return children[0]
        assert client.poll() is None, client.communicate()
        time.sleep(0.05)
    raise AssertionError("the server forked no command")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_client_stops_the_command_as_it_stops_a_cold_one(
    server: Path, tmp_path: Path, signum: int
) -> None:
    argv = [arg.replace("{out}", str(tmp_path / "big.csv")) for arg in LONG]
    codes = {}
    for warm in (True, False):
        command_line = with_default_signals([*MLOPS, *argv])
        client = subprocess.Popen(command_line, cwd=ROOT, env=_env(server, warm), stdout=subprocess.DEVNULL)
        command = _forked_command(server, client) if warm else psutil.Process(client.pid)
        time.sleep(1.5)  # inside the command's work
        client.send_signal(signum)
        client.wait(timeout=60)
        _, alive = psutil.wait_procs([command], timeout=10)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
        codes[warm] = client.returncode
    assert codes[True] == codes[False] != 0


def test_a_killed_client_takes_its_command_along(server: Path, tmp_path: Path) -> None:
    argv = [arg.replace("{out}", str(tmp_path / "big.csv")) for arg in LONG]
    client = subprocess.Popen([*MLOPS, *argv], cwd=ROOT, env=_env(server, True), stdout=subprocess.DEVNULL)
    command = _forked_command(server, client)
    client.kill()
    client.wait(timeout=30)
    _, alive = psutil.wait_procs([command], timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_down_stops_the_server_and_a_second_up_reuses_a_running_one(tmp_path: Path) -> None:
    env = with_local_threads(dict(os.environ))
    pid, started = warm_cli.up(tmp_path, env)
    try:
        assert started and warm_cli.up(tmp_path, env) == (pid, False)
    finally:
        assert warm_cli.down(tmp_path) == pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert warm_cli.read_record(tmp_path) is None


def test_a_server_that_watches_a_process_stops_when_it_exits(tmp_path: Path) -> None:
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        pid, _ = warm_cli.up(tmp_path, with_local_threads(dict(os.environ)), preload=("json",), watch=watched.pid)
        deadline = time.monotonic() + READY_WITHIN_S
        while not warm_cli.answers(tmp_path):  # serving: it has opened the watched process's pidfd
            assert time.monotonic() < deadline, (tmp_path / "warm-cli" / "server.log").read_text()
            time.sleep(0.1)
        assert psutil.Process(pid).is_running()
    finally:
        watched.kill()
        watched.wait()
    _, alive = psutil.wait_procs([psutil.Process(pid)], timeout=30)
    assert alive == []
    warm_cli.down(tmp_path)


# --- Entry points of the local runners, forked by the same server (mlops.local.warm_python.ServerPython) --------

STEP = """
import json, os, subprocess, sys, time
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "var": os.environ.get("STEP_VAR"),
                  "parent": open(f"/proc/{os.getppid()}/cmdline").read().split("\\0")}))
print("to stderr", file=sys.stderr)
if sys.argv[1] == "slow":  # a grandchild (a JVM's stand-in), both pids written, then work for a long time
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    open(sys.argv[2], "w").write(f"{os.getpid()} {worker.pid}")
    time.sleep(30)
sys.exit(int(sys.argv[2]) if sys.argv[1] == "exit" else 0)
"""


def _step_env(state_dir: Path) -> dict[str, str]:
    return with_local_threads({**os.environ, "MLOPS_STATE_DIR": str(state_dir), "STEP_VAR": "given"})


def test_an_entry_point_is_forked_by_the_server_and_ends_as_a_cold_run(server: Path, tmp_path: Path) -> None:
    import json

    from mlops.local.processes import run_watched
    from mlops.local.warm_python import ServerPython, warm_entry_points

    (tmp_path / "step_module.py").write_text(STEP)
    command = [sys.executable, "-m", "step_module", "exit", "3"]
    env = _step_env(server)
    cold = run_watched(command, env=env, timeout=60, cwd=str(tmp_path))
    with warm_entry_points(env) as warm:
        assert isinstance(warm, ServerPython)  # the platform's server, no interpreter of the runner's own
        served = run_watched(command, env=env, timeout=60, cwd=str(tmp_path))
    assert (
        (served.returncode, served.stderr, served.timed_out)
        == (cold.returncode, cold.stderr, False)
        == (
            3,
            "to stderr\n",
            False,
        )
    )
    warm_report, cold_report = json.loads(served.stdout), json.loads(cold.stdout)
    assert {k: warm_report[k] for k in ("argv", "cwd", "var")} == {k: cold_report[k] for k in ("argv", "cwd", "var")}
    assert any(part.endswith("warm_cli.py") for part in warm_report["parent"])
    assert "--watch" in cold_report["parent"]


def test_an_entry_point_the_server_will_not_fork_runs_in_the_runners_own_warm_interpreter(
    server: Path, tmp_path: Path
) -> None:
    import json

    from mlops.local.processes import run_watched
    from mlops.local.warm_python import ServerPython, warm_entry_points

    (tmp_path / "step_module.py").write_text(STEP)
    command = [sys.executable, "-m", "step_module", "exit", "0"]
    env = {**_step_env(server), "OMP_NUM_THREADS": "2"}  # the server imported with one thread: it says cold
    with warm_entry_points(env, preload=("json",)) as warm:
        assert isinstance(warm, ServerPython)
        first = run_watched(command, env=env, timeout=60, cwd=str(tmp_path))
        second = run_watched(command, env=env, timeout=60, cwd=str(tmp_path))
        own = warm.own
    assert own is not None  # one interpreter for the whole block, started on the first refusal
    for done in (first, second):
        assert (done.returncode, done.stderr) == (0, "to stderr\n")
        parent = json.loads(done.stdout)["parent"]
        assert any(part.endswith("warm_python.py") for part in parent), parent  # was: cold, under the supervisor


LOADER_PROBE = """
from mlops.adapters.aws import clients
shared = "loader" in clients._shared  # before this process made any session: only the server can have put it there
clients.boto3_session(region_name="us-east-1", **clients.EMULATOR_CREDENTIALS).client("sagemaker")
print(shared, "loader" in clients._shared)
"""


def test_a_forked_process_shares_the_servers_parsed_aws_service_models(server: Path, tmp_path: Path) -> None:
    from mlops.local.warm_python import ServerPython

    (tmp_path / "loader_probe.py").write_text(LOADER_PROBE)
    command = [sys.executable, "-m", "loader_probe"]
    served = ServerPython(server).run(command, env=_step_env(server), timeout=60, cwd=str(tmp_path))
    cold = subprocess.run(command, env=_step_env(server), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert served is not None
    assert served.stdout.split() == ["True", "True"], served.stderr
    assert cold.stdout.split() == ["False", "True"], cold.stderr  # a cold process fills its own on first use


def test_a_served_entry_point_that_times_out_is_killed_with_what_it_started(server: Path, tmp_path: Path) -> None:
    from mlops.local.warm_python import ServerPython

    (tmp_path / "step_module.py").write_text(STEP)
    pids = tmp_path / "pids"
    command = [sys.executable, "-m", "step_module", "slow", str(pids)]
    done = ServerPython(server).run(command, env=_step_env(server), timeout=3, cwd=str(tmp_path))
    assert done is not None and done.timed_out
    step, worker = (int(p) for p in pids.read_text().split())
    _, alive = psutil.wait_procs([psutil.Process(p) for p in (step, worker) if psutil.pid_exists(p)], timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


RUNNER = """
import os, sys
from mlops.local.processes import run_watched
from mlops.local.warm_python import warm_entry_points
with warm_entry_points(dict(os.environ)):
    run_watched([sys.executable, "-m", "step_module", "slow", sys.argv[1]], env=dict(os.environ), timeout=60)
"""


def test_a_killed_runner_takes_its_served_entry_point_along(server: Path, tmp_path: Path) -> None:
    (tmp_path / "step_module.py").write_text(STEP)
    pids = tmp_path / "pids"
    env = _step_env(server)
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(pids)], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not (pids.is_file() and len(pids.read_text().split()) == 2):
        assert time.monotonic() < deadline and runner.poll() is None, "the entry point never started"
        time.sleep(0.05)
    step, worker = (int(p) for p in pids.read_text().split())
    record = warm_cli.read_record(server)
    assert record is not None and psutil.Process(step).ppid() == record.pid  # forked by the server
    runner.kill()
    runner.wait(timeout=30)
    _, alive = psutil.wait_procs([psutil.Process(p) for p in (step, worker) if psutil.pid_exists(p)], timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_an_entry_point_a_warm_command_starts_is_served_too(server: Path, tmp_path: Path) -> None:
    """A forked command's environment holds what the server's imports set (scikit-learn's KMP_*): the pipeline
    steps it starts carry them and must still fork from the server (they ran cold: 3 s of imports each)."""
    import json

    from mlops.local.warm_python import ServerPython

    (tmp_path / "step_module.py").write_text(STEP)
    env = {**_step_env(server), "KMP_DUPLICATE_LIB_OK": "True", "KMP_INIT_AT_FORK": "FALSE"}
    done = ServerPython(server).run([sys.executable, "-m", "step_module", "ok"], env=env, timeout=60, cwd=str(tmp_path))
    assert done is not None and done.returncode == 0
    assert any(part.endswith("warm_cli.py") for part in json.loads(done.stdout)["parent"])


# --- Model servers forked by the same server (endpoint_runner.launch), outliving the command that started them --

TINY_SERVER = """
import http.server, sys
if sys.argv[1:2] == ["exit"]:
    sys.exit(3)
port = int(sys.argv[sys.argv.index("--port") + 1])
class Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"pong")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Ping).serve_forever()
"""

LAUNCHER = """
import os, sys
from pathlib import Path
from mlops.local import endpoint_runner
server = endpoint_runner.launch("tiny_server", dict(os.environ), Path(sys.argv[1]), "tiny")
endpoint_runner.wait_healthy(server)
print(server.process.pid, server.port)
"""


def test_a_model_server_forked_by_the_server_outlives_its_command_and_is_known_by_its_port(
    server: Path, tmp_path: Path
) -> None:
    from mlops.local import endpoint_runner
    from mlops.local.processes import terminate

    (tmp_path / "tiny_server.py").write_text(TINY_SERVER)
    env = {**_step_env(server)}
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(tmp_path / "logs")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pid, port = (int(part) for part in done.stdout.split())
    record = warm_cli.read_record(server)
    assert record is not None and psutil.Process(pid).ppid() == record.pid  # forked, not started cold
    assert endpoint_runner.is_our_server(pid, port)  # its launcher exited; it serves on
    assert not endpoint_runner.is_our_server(pid, port + 1)
    terminate(pid)
    assert not endpoint_runner.is_our_server(pid, port)


def test_a_forked_model_server_that_exits_before_its_health_check_is_reported(
    server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.local import endpoint_runner
    from mlops.ports.hosting import HostingError

    (tmp_path / "tiny_server.py").write_text(TINY_SERVER.replace('sys.argv[1:2] == ["exit"]', "True"))
    monkeypatch.chdir(tmp_path)
    started = endpoint_runner.launch("tiny_server", _step_env(server), tmp_path / "logs", "tiny")
    assert not isinstance(started.process, subprocess.Popen)  # forked by the warm server
    with pytest.raises(HostingError, match="exited with code 3"):
        endpoint_runner.wait_healthy(started, timeout=30)


def test_local_status_reports_the_server(server: Path) -> None:
    import json

    done = subprocess.run(
        [*MLOPS, "local", "status", "--json"], cwd=ROOT, env=_env(server, True), capture_output=True, text=True
    )
    record = warm_cli.read_record(server)
    assert record is not None
    assert json.loads(done.stdout)["warm_cli"] == {"pid": record.pid, "answers": True}  # no emulator: exit 1
    human = subprocess.run(
        [*MLOPS, "local", "status"], cwd=ROOT, env=_env(server, True), capture_output=True, text=True
    )
    assert f"warm command server: pid {record.pid}, answering" in human.stdout


def test_a_command_that_would_read_or_write_a_terminal_from_the_background_runs_cold() -> None:
    """A forked command is not in the terminal's foreground: reading it (`mlops predict -` typed in) or writing
    under `stty tostop` would stop it (SIGTTIN/SIGTTOU) and hang the client."""
    import pty
    import termios

    controller, terminal = pty.openpty()
    try:
        pipe_out, pipe_in = os.pipe()
        assert warm_cli.terminal_in_the_way(["predict", "-"], stdin=terminal, outputs=(pipe_in, pipe_in))
        assert not warm_cli.terminal_in_the_way(["predict", "-"], stdin=pipe_out, outputs=(pipe_in, pipe_in))
        assert not warm_cli.terminal_in_the_way(["predict", "rows.csv"], stdin=terminal, outputs=(terminal, terminal))
        attributes = termios.tcgetattr(terminal)
        attributes[3] |= termios.TOSTOP
        termios.tcsetattr(terminal, termios.TCSANOW, attributes)
        assert warm_cli.terminal_in_the_way(["model", "list"], stdin=pipe_out, outputs=(terminal, pipe_in))
        for fd in (pipe_out, pipe_in):
            os.close(fd)
    finally:
        os.close(controller)
        os.close(terminal)


# As a shell with job control runs a command: a session of its own, the command in a process group of its own with
# SIGTSTP at its default (a stop signal at its default is discarded in an orphaned process group, and a
# non-interactive parent may pass SIGTSTP on ignored: either way nothing would stop, warm or cold).
JOB_CONTROL_SHELL = """
import signal, subprocess, sys
signal.signal(signal.SIGTSTP, signal.SIG_DFL)
job = subprocess.Popen(sys.argv[1:], process_group=0, stdout=subprocess.DEVNULL)
print(job.pid, flush=True)
job.wait()
"""


def test_ctrl_z_stops_the_command_with_its_client_and_fg_continues_both(server: Path, tmp_path: Path) -> None:
    argv = [arg.replace("{out}", str(tmp_path / "big.csv")) for arg in LONG]
    shell = subprocess.Popen(
        [sys.executable, "-c", JOB_CONTROL_SHELL, *MLOPS, *argv],
        cwd=ROOT,
        env=_env(server, True),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert shell.stdout is not None
        client = psutil.Process(int(shell.stdout.readline()))
        command = _forked_command(server, shell)
        time.sleep(0.5)
        client.send_signal(signal.SIGTSTP)
        _wait_until(lambda: (command.status(), client.status()) == ("stopped", "stopped"), command, client)
        client.send_signal(signal.SIGCONT)
        _wait_until(lambda: command.status() != "stopped", command, client)
    finally:
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait(timeout=30)


def _wait_until(holds: Any, command: psutil.Process, client: psutil.Process) -> None:
    deadline = time.monotonic() + 10
    while not holds():
        assert time.monotonic() < deadline, (command.status(), client.status())
        time.sleep(0.05)


def test_a_client_that_connects_and_says_nothing_does_not_hold_up_the_others(server: Path, tmp_path: Path) -> None:
    import socket

    silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    silent.connect(warm_cli.socket_name(server))
    try:
        env = with_local_threads(_env(server, True))
        argv = ["data", "generate", "diabetes", "--rows", "5", "--out", str(tmp_path / "d.csv")]
        # served once the silent request times out (before: the server waited for it forever, and this hung)
        assert warm_cli.delegate(argv, env) == 0
    finally:
        silent.close()


DRIVER = """
import os, subprocess, sys, time
if sys.argv[1] == "slow":  # a JVM's stand-in, then work past the time limit
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(sys.argv[2], "w").write(f"{os.getpid()} {worker.pid}")
    print("started", flush=True)
    time.sleep(60)
print("args", sys.argv[1:], __name__, sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print("cwd", os.getcwd() == os.environ["HOME"], os.environ.get("STEP_VAR"))
print("an error line", file=sys.stderr)
print("warm" if "warm_cli.py" in open(f"/proc/{os.getppid()}/cmdline").read() else "cold")
sys.exit(int(sys.argv[2]))
"""


def _driver(tmp_path: Path, server: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "run").mkdir()
    script = tmp_path / "scripts" / "driver.py"
    script.write_text(DRIVER)
    return script, {**_step_env(server), "HOME": str(tmp_path / "run"), "PYTHONUNBUFFERED": "1"}


def test_a_jobs_driver_forked_by_the_server_streams_and_ends_as_its_cold_run(server: Path, tmp_path: Path) -> None:
    from mlops.local.job_process import run_script

    script, env = _driver(tmp_path, server)
    command = [sys.executable, str(script), "ok", "3"]
    runs = {}
    for warm in (server, None):
        lines: list[str] = []
        outcome = run_script(command, env, 60, lines.append, warm_state_dir=warm)
        runs["warm" if warm else "cold"] = (outcome.exit_code, outcome.timed_out, lines, outcome.tail)
    assert runs["warm"][:2] == runs["cold"][:2] == (3, False)
    assert (
        runs["warm"][2][:-1]
        == runs["cold"][2][:-1]
        == [
            "args ['ok', '3'] __main__ True",
            "cwd True given",
            "an error line",
        ]
    )
    assert (runs["warm"][2][-1], runs["cold"][2][-1]) == ("warm", "cold")
    assert runs["warm"][3] == runs["warm"][2]  # the tail the run's error is read from


def test_a_served_driver_past_its_time_limit_or_interrupted_is_killed_with_what_it_started(
    server: Path, tmp_path: Path
) -> None:
    from mlops.local.job_process import run_script

    script, env = _driver(tmp_path, server)
    timed_out = run_script(
        [sys.executable, str(script), "slow", str(tmp_path / "a")], env, 3, print, warm_state_dir=server
    )
    assert timed_out.timed_out and timed_out.tail == ["started"]

    def ctrl_c(_line: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_script([sys.executable, str(script), "slow", str(tmp_path / "b")], env, 60, ctrl_c, warm_state_dir=server)
    for pids in (tmp_path / "a", tmp_path / "b"):
        driver, worker = (int(p) for p in pids.read_text().split())
        _, alive = psutil.wait_procs([psutil.Process(p) for p in (driver, worker) if psutil.pid_exists(p)], timeout=10)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == [], pids.name
