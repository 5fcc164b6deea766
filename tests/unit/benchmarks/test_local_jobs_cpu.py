"""benchmarks/local_jobs.py counts the CPU of the processes that do a command's work, also when the warm command
server forked the command (its work then runs under the server, not under the client the benchmark started)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from benchmarks.local_jobs import command_processes, job_arguments

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
FORKER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n",
]


def test_the_command_forked_by_the_warm_server_is_counted_with_its_client() -> None:
    server = subprocess.Popen(FORKER, stdout=subprocess.PIPE, text=True)
    client = subprocess.Popen(SLEEPER)
    forked = None
    try:
        assert server.stdout is not None
        forked = psutil.Process(int(server.stdout.readline()))
        counted = {p.pid for p in command_processes(psutil.Process(client.pid), psutil.Process(server.pid))}
        assert counted == {client.pid, forked.pid}  # the server's own (idle) process is not the command's
        assert {p.pid for p in command_processes(psutil.Process(client.pid), None)} == {client.pid}
    finally:
        if forked is not None:
            forked.kill()
        for started in (server, client):
            started.kill()
            started.wait()


def test_every_build_features_run_reads_the_first_curated_version() -> None:
    """It used to read the latest version, which grows by a batch per curate: the later (warm) runs read more rows
    than the earlier (cold) ones they were compared with."""
    assert job_arguments("build_features") == ["--arg", "source_version=0"]
    assert job_arguments("curate") == []
