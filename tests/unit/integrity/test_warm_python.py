"""The warm interpreter (mlops.local.warm_python) starts an entry point as ``python -m`` would, and keeps what
``run_watched`` guarantees: a timeout, an interrupt or the runner's death takes the entry point's whole process tree.
Plain Python modules stand in for the pipeline's entry points; the preload is small to keep the tests fast."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from mlops.local.processes import run_watched
from mlops.local.warm_python import WarmPython, warm_entry_points
from tests.support.signals import with_default_signals
from tests.unit.integrity.test_job_process_tree import _still_running

PRELOAD = ("json", "decimal")
# The entry point: says where it runs and what it was given, then exits as its first argument asks.
REPORT = textwrap.dedent(
    """
    import json, os, sys
    print(json.dumps({
        "argv": sys.argv[1:], "cwd": os.getcwd(), "var": os.environ.get("STEP_VAR"), "ppid": os.getppid(),
        "preloaded": "decimal" in sys.modules, "path0": sys.path[0], "pgid": os.getpgid(0) == os.getpid(),
        "stdin": sys.stdin.read(), "parent": open(f"/proc/{os.getppid()}/cmdline").read().split("\\0"),
    }))
    print("to stderr", file=sys.stderr)
    how = sys.argv[1]
    if how == "exit3":
        sys.exit(3)
    if how == "message":
        sys.exit("stopped: bad input")
    if how == "raise":
        raise ValueError("broken step")
    """
)
# Starts a grandchild (a JVM's stand-in), writes both pids, then works for a long time.
SLOW = textwrap.dedent(
    """
    import os, subprocess, sys, time
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    open(sys.argv[1], "w").write(f"{os.getpid()} {worker.pid}")
    time.sleep(30)
    """
)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A folder on PYTHONPATH holding the stand-in entry points (the step's own code, never preloaded)."""
    root = tmp_path / "code"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "report.py").write_text(REPORT)
    (root / "steps" / "slow.py").write_text(SLOW)
    return root


def _env(package: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return {**base, "PYTHONPATH": str(package), "OMP_NUM_THREADS": "1", **extra}


def _wait_for(path: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.is_file() and len(path.read_text().split()) == 2:
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError(f"the entry point never wrote {path}")


@pytest.mark.parametrize(
    ("how", "code", "in_stderr"),
    [
        ("ok", 0, "to stderr"),
        ("exit3", 3, "to stderr"),
        ("message", 1, "stopped: bad input"),
        ("raise", 1, "ValueError: broken step"),
    ],
)
def test_a_warm_run_ends_as_the_cold_run_of_the_same_command(
    package: Path, tmp_path: Path, how: str, code: int, in_stderr: str
) -> None:
    import json

    command = [sys.executable, "-m", "steps.report", how, "--flag=x y"]
    env = _env(package, STEP_VAR="step value")
    cold = run_watched(command, env=env, timeout=60, cwd=str(tmp_path))
    with WarmPython(env, preload=PRELOAD) as warm:
        hot = warm.run(command, env=env, timeout=60, cwd=str(tmp_path))
        server = warm._server
        assert server is not None
        server_pid = server.pid
    assert hot is not None
    assert (hot.returncode, hot.timed_out) == (cold.returncode, cold.timed_out) == (code, False)
    warm_report, cold_report = json.loads(hot.stdout), json.loads(cold.stdout)
    same = ("argv", "cwd", "var", "path0", "pgid", "stdin")
    assert {k: warm_report[k] for k in same} == {k: cold_report[k] for k in same}
    assert warm_report["argv"] == [how, "--flag=x y"] and warm_report["var"] == "step value"
    assert warm_report["pgid"] and warm_report["stdin"] == ""
    assert (warm_report["ppid"], warm_report["preloaded"]) == (server_pid, True)  # forked from the warm server
    assert in_stderr in hot.stderr and in_stderr in cold.stderr


def test_an_edited_entry_point_runs_as_edited(package: Path, tmp_path: Path) -> None:
    module = package / "steps" / "edited.py"
    command = [sys.executable, "-m", "steps.edited"]
    env = _env(package)
    with WarmPython(env, preload=PRELOAD) as warm:
        module.write_text("print('first')")
        first = warm.run(command, env=env, timeout=60, cwd=str(tmp_path))
        module.write_text("print('second')")
        second = warm.run(command, env=env, timeout=60, cwd=str(tmp_path))
    assert first is not None and second is not None
    assert (first.stdout.strip(), second.stdout.strip()) == ("first", "second")


def test_a_timed_out_entry_point_is_killed_with_what_it_started(package: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    env = _env(package)
    with WarmPython(env, preload=PRELOAD) as warm:
        done = warm.run([sys.executable, "-m", "steps.slow", str(pids)], env=env, timeout=3, cwd=str(tmp_path))
        assert done is not None and done.timed_out
        assert _still_running(_wait_for(pids)) == []
        after = warm.run([sys.executable, "-m", "steps.report", "ok"], env=env, timeout=60, cwd=str(tmp_path))
    assert after is not None and after.returncode == 0  # the server serves the next step


RUNNER = textwrap.dedent(
    """
    import sys
    from mlops.local.processes import run_watched
    from mlops.local.warm_python import warm_entry_points
    env = {**__import__("os").environ}
    with warm_entry_points(env, preload=("json",)):
        run_watched([sys.executable, "-m", "steps.slow", sys.argv[1]], env=env, timeout=60)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT])
def test_the_runners_death_or_interrupt_takes_the_server_and_the_entry_point(
    package: Path, tmp_path: Path, signum: int
) -> None:
    pids = tmp_path / "pids"
    env = _env(package)
    env["PYTHONPATH"] = os.pathsep.join([str(package), str(Path(__file__).resolve().parents[3])])
    runner = subprocess.Popen(
        with_default_signals([sys.executable, "-c", RUNNER, str(pids)]), env=env, start_new_session=True
    )
    step, worker = _wait_for(pids)
    server = psutil.Process(step).ppid()
    assert server != runner.pid  # the step was forked by the warm server, not started by the runner
    runner.send_signal(signum)
    runner.wait(timeout=30)
    assert _still_running([server, step, worker]) == []


def test_what_cannot_run_warm_runs_cold(package: Path, tmp_path: Path) -> None:
    import json

    env = _env(package)
    with warm_entry_points(env, preload=PRELOAD):
        threads = run_watched([sys.executable, "-m", "steps.report", "ok"], env={**env, "OMP_NUM_THREADS": "2"})
        script = run_watched([sys.executable, str(package / "steps" / "report.py"), "ok"], env=env)
        warm = run_watched([sys.executable, "-m", "steps.report", "ok"], env=env)
    started_by = {
        name: json.loads(run.stdout)["parent"]
        for name, run in [("threads", threads), ("script", script), ("warm", warm)]
    }
    assert "--watch" in started_by["threads"] and "--watch" in started_by["script"]  # run_watched's supervisor
    assert "--serve" in started_by["warm"]


def test_variables_the_imports_set_do_not_make_an_environment_import_differently() -> None:
    from mlops.local.warm_python import Preloaded

    preloaded = Preloaded([], {"OMP_NUM_THREADS": "1"}, {"KMP_INIT_AT_FORK": "FALSE", "OTHER": "x"})
    assert preloaded.imports_as({"OMP_NUM_THREADS": "1", "KMP_INIT_AT_FORK": "FALSE", "HOME": "/h"})
    assert preloaded.imports_as({"OMP_NUM_THREADS": "1"})
    assert not preloaded.imports_as({"OMP_NUM_THREADS": "1", "KMP_INIT_AT_FORK": "TRUE"})  # not what they set
    assert not preloaded.imports_as({"OMP_NUM_THREADS": "2"})


def test_another_pythonpath_imports_alike_unless_it_shadows_an_imported_package(tmp_path: Path) -> None:
    from mlops.local.warm_python import preload

    preloaded = preload(["json", "decimal"])
    env = {**preloaded.imported_with}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert preloaded.imports_as({**env, "PYTHONPATH": str(elsewhere)}, str(tmp_path))  # nothing there shadows json
    (elsewhere / "json").mkdir()
    (elsewhere / "json" / "__init__.py").write_text("")
    assert not preloaded.imports_as({**env, "PYTHONPATH": str(elsewhere)}, str(tmp_path))  # a cold run imports it
    assert not preloaded.imports_as({**env, "PYTHONPATH": str(tmp_path)}, str(elsewhere))  # in the cwd, the same
    assert not preloaded.imports_as({**env, "PYTHONHASHSEED": "7"}, str(tmp_path))
    # Spark's daemon and worker settings are read while they run, not at import
    assert preloaded.imports_as({**env, "PYTHON_WORKER_FACTORY_SECRET": "s", "PYTHON_UDF_BATCH_SIZE": "9"})


def test_closing_a_server_still_importing_stops_it_at_once(package: Path, tmp_path: Path) -> None:
    """An execution refused before its first step (or whose steps all ran cold) must not wait for the server to
    finish importing the model libraries: it used to wait up to 5 s at every such end."""
    started, imported = tmp_path / "started", tmp_path / "imported"
    (package / "slow_import.py").write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(3)\n"
        f"pathlib.Path({str(imported)!r}).touch()\n"
    )
    warm = WarmPython(_env(package), preload=("slow_import",))
    warm.start()
    server = warm._server
    assert server is not None
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and server.poll() is None, "the server never began importing"
        time.sleep(0.02)
    warm.close()
    assert server.poll() is not None  # stopped and reaped by close()
    assert not imported.exists()  # ...before its import finished: nothing waited for it


def test_an_entry_point_runs_cold_when_the_warm_server_died(package: Path, tmp_path: Path) -> None:
    env = _env(package)
    with warm_entry_points(env, preload=PRELOAD) as warm:
        assert isinstance(warm, WarmPython)
        first = warm.run([sys.executable, "-m", "steps.report", "ok"], env=env, timeout=60, cwd=str(tmp_path))
        assert first is not None
        server = warm._server
        assert server is not None
        server.kill()
        server.wait()
        done = run_watched([sys.executable, "-m", "steps.report", "ok"], env=env, timeout=60, cwd=str(tmp_path))
    assert done.returncode == 0 and "--watch" in json.loads(done.stdout)["parent"]  # run cold, not lost


def test_the_server_fills_mlflows_installed_packages_map_before_it_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process that saves a model would otherwise build it again (0.8 s of reading every package's files)."""
    import types

    from mlops.local.warm_python import preload

    filled: list[bool] = []
    fake = types.ModuleType("mlflow.utils.requirements_utils")
    fake._init_packages_to_modules_map = lambda: filled.append(True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow.utils.requirements_utils", fake)
    try:
        preload(["json"])
    finally:
        gc.unfreeze()  # what preload froze for forks to come: this test process goes on collecting as before
    assert filled == [True]


def test_what_the_server_imported_is_frozen_out_of_its_forked_commands_collections() -> None:
    """A full collection in a forked command scanned every preloaded object (245 ms with the command server's
    libraries) and copied the memory pages it shared with the server."""
    probe = (
        "import gc, os\n"
        "from mlops.local.warm_python import preload\n"
        "preload(['json', 'email.mime.text'])\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print(gc.get_freeze_count(), len(gc.get_objects()), flush=True)\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    frozen, collectable = map(int, done.stdout.split())
    assert frozen > 10_000, done.stdout  # the kit's and the libraries' objects, as imported before the fork
    assert collectable < frozen / 10, done.stdout  # what the child's collections still scan


def _server_of(env: dict[str, str], cwd: Path) -> int:
    """The pid of the warm interpreter that forked a ``steps.report`` run in a block of its own."""
    with warm_entry_points(env, preload=PRELOAD):
        run = run_watched([sys.executable, "-m", "steps.report", "ok"], env=env, timeout=60, cwd=str(cwd))
    answer = json.loads(run.stdout)
    assert "--serve" in answer["parent"], answer["parent"]
    return int(answer["ppid"])


def test_the_next_execution_of_the_process_reuses_the_kept_interpreter(package: Path, tmp_path: Path) -> None:
    from mlops.local.warm_python import close_idle

    env = _env(package)
    try:
        first = _server_of(env, tmp_path)
        assert psutil.Process(first).is_running()  # kept idle after its block
        assert _server_of(env, tmp_path) == first  # ...and forks the next block's entry points: no new imports
        other = _server_of({**env, "OMP_NUM_THREADS": "2"}, tmp_path)  # imports differently: a server of its own
        assert other != first
        assert _still_running([first]) == []  # the newest kept wins, the other is stopped
        psutil.Process(other).kill()
        psutil.Process(other).wait(10)
        replaced = _server_of({**env, "OMP_NUM_THREADS": "2"}, tmp_path)  # a kept one that died is replaced
        assert replaced != other
    finally:
        close_idle()
    assert _still_running([replaced]) == []


def test_a_forked_child_neither_uses_nor_stops_its_parents_kept_interpreter(package: Path, tmp_path: Path) -> None:
    from mlops.local import warm_python

    env = _env(package)
    try:
        kept = _server_of(env, tmp_path)
        child = os.fork()
        if child == 0:  # pragma: no cover (the child's exit status is the check)
            os._exit(0 if warm_python._IDLE == [] else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert psutil.Process(kept).is_running()
    finally:
        warm_python.close_idle()
