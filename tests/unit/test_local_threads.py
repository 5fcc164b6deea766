"""Processes of the local runtime wait passively in OpenMP (mlops.contracts.LOCAL_THREAD_ENV): scikit-learn's
spinning threads took four times the CPU of the training job on the shared 2-core machine (benchmarks/omp_wait.py).
A policy the user sets is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlops.contracts import LOCAL_THREAD_ENV, with_local_threads
from mlops.local.processes import run_watched

PRINT_POLICY = [sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"]


def _env_without_policy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def test_entry_points_run_with_passive_openmp_waits() -> None:
    done = run_watched(PRINT_POLICY, env=_env_without_policy(), timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "PASSIVE")


def test_a_policy_the_user_set_is_kept() -> None:
    done = run_watched(PRINT_POLICY, env={**_env_without_policy(), "OMP_WAIT_POLICY": "ACTIVE"}, timeout=60)
    assert done.stdout.strip() == "ACTIVE"
    assert with_local_threads({"OMP_WAIT_POLICY": "ACTIVE"}) == {"OMP_WAIT_POLICY": "ACTIVE"}
    assert with_local_threads({}) == LOCAL_THREAD_ENV


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_mlops_command_sets_the_policy_for_itself_and_its_children(given: str | None, expected: str) -> None:
    env = _env_without_policy() | ({"OMP_WAIT_POLICY": given} if given else {})
    code = (
        "import os, sys; from mlops.cli import main; sys.argv = ['mlops', '--help']\n"
        "try:\n    main.main()\nexcept SystemExit:\n    pass\n"
        "print('policy=' + os.environ['OMP_WAIT_POLICY'])"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert f"policy={expected}" in done.stdout.splitlines()[-1], done.stderr
