"""The stand-in of a warm Spark worker daemon stops its daemon once it has had no worker for the idle limit: Spark
keeps one daemon per Spark Connect session until the server stops, so each job run left one behind."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.local import spark_connect, spark_daemon
from mlops.local.spark_daemon import IdleWatch

# A stand-in for a daemon: a process that starts a worker child when asked (SIGUSR1) and kills it on SIGUSR2.
_FAKE_DAEMON = """
import signal, subprocess, sys, time
workers = []
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
signal.signal(signal.SIGUSR1, lambda *_: workers.append(subprocess.Popen(SLEEPER)))
signal.signal(signal.SIGUSR2, lambda *_: [w.kill() or w.wait() for w in workers] and workers.clear())
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def daemon() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", _FAKE_DAEMON], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGUSR2)
        time.sleep(0.2)
        process.kill()
    process.wait()


def _children(pid: int) -> int:
    import psutil

    return len(psutil.Process(pid).children())


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_daemon_with_a_worker_is_kept_and_stopped_once_idle_for_the_limit(daemon: subprocess.Popen[str]) -> None:
    watch = IdleWatch(daemon.pid, limit=0.3)
    daemon.send_signal(signal.SIGUSR1)
    _wait(lambda: _children(daemon.pid) == 1)
    for _ in range(5):  # a worker runs: never idle, however long
        watch.check()
        time.sleep(0.1)
    assert daemon.poll() is None and not watch.stopped

    daemon.send_signal(signal.SIGUSR2)
    _wait(lambda: _children(daemon.pid) == 0)
    watch.check()  # idle from now
    assert daemon.poll() is None
    time.sleep(0.35)
    watch.check()
    assert daemon.wait(timeout=5) == -signal.SIGTERM and watch.stopped


def test_a_worker_between_checks_restarts_the_idle_time(daemon: subprocess.Popen[str]) -> None:
    watch = IdleWatch(daemon.pid, limit=0.3)
    watch.check()
    daemon.send_signal(signal.SIGUSR1)  # a task came
    _wait(lambda: _children(daemon.pid) == 1)
    time.sleep(0.35)
    watch.check()
    daemon.send_signal(signal.SIGUSR2)
    _wait(lambda: _children(daemon.pid) == 0)
    watch.check()
    assert daemon.poll() is None and not watch.stopped


def test_the_stand_in_stops_an_idle_daemon_and_exits_with_its_status(
    daemon: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stand-in's loop as the JVM runs it: the warm server reports the daemon's status once it ends."""
    monkeypatch.setenv(spark_daemon.IDLE_ENV, "0.2")
    ours, servers = socket.socketpair()

    def warm_server() -> None:  # reports the forked daemon's end, as mlops.local.warm_python does
        code = daemon.wait(timeout=30)
        servers.sendall(json.dumps({"code": code}).encode())

    reporter = threading.Thread(target=warm_server, daemon=True)
    reporter.start()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    started = time.monotonic()
    try:
        with ours:
            code = spark_daemon._stand_in(ours, daemon.pid, io.BytesIO())  # the JVM's end already closed
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        servers.close()
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5


def test_a_stand_in_whose_daemon_ended_unasked_takes_the_jvms_writes_until_the_jvm_lets_go() -> None:
    """The JVM's next task finds its idle workers dead and writes their pids to the daemon's standard input: had
    the stand-in exited with its daemon (the warm server stopped), that write failed the task ("Stream closed")."""
    ours, servers = socket.socketpair()
    read_end, write_end = os.pipe()
    jvm_wrote: list[float] = []

    def jvm_then_warm_server() -> None:
        servers.sendall(json.dumps({"code": 0}).encode())  # the daemon ended by itself
        time.sleep(0.3)
        os.write(write_end, struct.pack(">i", 12345))  # stop this dead worker, says the JVM; the write succeeds
        jvm_wrote.append(time.monotonic())
        time.sleep(0.3)
        os.close(write_end)  # the JVM goes

    helper = threading.Thread(target=jvm_then_warm_server, daemon=True)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    helper.start()
    try:
        with ours, os.fdopen(read_end, "rb") as jvm:
            code = spark_daemon._stand_in(ours, os.getpid(), jvm)
        ended = time.monotonic()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        servers.close()
    helper.join(timeout=5)
    assert code == 0
    assert jvm_wrote and ended > jvm_wrote[0]  # before the fix it returned at once, before the JVM wrote


@pytest.mark.parametrize(("value", "limit"), [("", 120.0), ("30", 30.0), ("0", 0.1), ("soon", 120.0)])
def test_the_idle_limit_comes_from_the_server_environment(value: str, limit: float) -> None:
    assert spark_daemon.idle_limit({spark_daemon.IDLE_ENV: value}) == limit


def test_the_server_passes_the_platform_s_idle_limit_to_its_daemons() -> None:
    env = spark_connect.server_env(Path("/opt/spark"), "tok", idle_daemon_seconds=45)
    assert spark_daemon.idle_limit(env) == 45
    assert spark_daemon.idle_limit(spark_connect.server_env(Path("/opt/spark"), "tok")) == 120
