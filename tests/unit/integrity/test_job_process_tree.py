"""A local Glue run's process tree never outlives its runner (issue 10: a ``kill -9`` of ``mlops job run`` left
the job script and its JVM running, and they committed anyway). No emulator: plain Python stands in for the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from mlops.local.job_process import run_script as _run_script

# The job: starts a grandchild (a JVM's stand-in), names both pids, then works for a long time.
JOB = textwrap.dedent(
    """
    import os, subprocess, sys, time
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # the pipe's end is not what we wait for
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"], **quiet)
    open(sys.argv[1], "w").write(f"{os.getpid()} {worker.pid}")
    print("started", flush=True)
    time.sleep(20)
    """
)
GONE_WITHIN_S = 10.0  # generous: the tree is killed at once; this only bounds a failing test


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


def _still_running(pids: list[int]) -> list[int]:
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=GONE_WITHIN_S)
    return [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
def job(tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    script, pids = tmp_path / "job.py", tmp_path / "pids"
    script.write_text(JOB)
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return [sys.executable, str(script), str(pids)], env, pids


def test_a_timed_out_job_is_killed_with_the_processes_it_started(job: tuple[list[str], dict[str, str], Path]) -> None:
    command, env, pids = job
    outcome = _run_script(command, env, 3.0, lambda _line: None)
    assert outcome.timed_out
    assert _still_running(_pids(pids)) == []


def test_an_interrupted_runner_kills_the_job_tree_and_lets_the_interrupt_through(
    job: tuple[list[str], dict[str, str], Path],
) -> None:
    command, env, pids = job

    def interrupt(line: str) -> None:
        raise KeyboardInterrupt(line)

    with pytest.raises(KeyboardInterrupt):
        _run_script(command, env, None, interrupt)
    assert _still_running(_pids(pids)) == []


def test_a_runner_killed_by_sigkill_takes_the_job_tree_with_it(
    job: tuple[list[str], dict[str, str], Path], tmp_path: Path
) -> None:
    command, env, pids = job
    runner = tmp_path / "runner.py"
    runner.write_text(
        "import sys\nfrom mlops.local.job_process import run_script as _run_script\n"
        f"_run_script({command!r}, {env!r}, None, lambda line: print(line, flush=True))\n"
    )
    repo = str(Path(__file__).resolve().parents[3])
    process = subprocess.Popen(
        [sys.executable, str(runner)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _still_running(_pids(pids)) == []
