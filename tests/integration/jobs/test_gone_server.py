"""A job told to use a Spark Connect server that is gone fails within seconds, naming the server. pyspark's own
retries would hold the job for ten minutes, and its exit (which asks the server to release the session) for
longer still (``jobs._runtime.LOCAL_SERVER_RETRIES``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.contracts import JOB_SPARK_REMOTE_ENV as SPARK_REMOTE_ENV

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[3]
# The job's first steps: its Spark session, as curate and build_features open it.
JOB = "from jobs._runtime import spark_session; spark_session('a-job')"


def _closed_port() -> int:
    """A loopback port nothing listens on (as the port of a server that was stopped)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_job_whose_server_is_gone_ends_within_a_minute_naming_it() -> None:
    remote = f"sc://localhost:{_closed_port()}"
    env = {**os.environ, SPARK_REMOTE_ENV: remote}
    # ~9 s of retries, then the exit at once; a TimeoutExpired here kills the job and fails the test.
    ended = subprocess.run([sys.executable, "-c", JOB], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert ended.returncode == 1, ended.stderr[-2000:]
    assert f"ConnectionError: the Spark Connect server at {remote} does not answer" in ended.stderr
    assert "SparkConnectGrpcException" in ended.stderr  # the cause, chained


def test_a_runs_exit_makes_one_try_at_releasing_its_session() -> None:
    """A session whose server stopped after the run's first calls (here: they are skipped) is released at exit
    with one try, not with the ~9 s of retries of the run's calls."""
    skipped = "from jobs import _runtime; _runtime._open_on_local_server = lambda *args: None; "
    env = {**os.environ, SPARK_REMOTE_ENV: f"sc://localhost:{_closed_port()}"}
    # Its imports take a few seconds on a busy machine; the release's retries would take ten minutes.
    ended = subprocess.run(
        [sys.executable, "-c", skipped + JOB], cwd=REPO, env=env, capture_output=True, text=True, timeout=45
    )
    assert ended.returncode == 0, ended.stderr[-2000:]
