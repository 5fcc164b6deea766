"""Processes of the local runtime run OpenMP with one thread (mlops.contracts.LOCAL_THREAD_ENV): on the shared
2-core machine the training search ran 1.5-4x faster than with a team of spinning or passively waiting threads
(benchmarks/omp_wait.py). A thread count the user sets is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlops.contracts import LOCAL_THREAD_ENV, with_local_threads
from mlops.local.processes import run_watched

PRINT_THREADS = [sys.executable, "-c", "import os; print(os.environ.get('OMP_NUM_THREADS'))"]


def _env_without_threads() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}


def test_entry_points_run_one_openmp_thread() -> None:
    done = run_watched(PRINT_THREADS, env=_env_without_threads(), timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "1")


def test_a_thread_count_the_user_set_is_kept() -> None:
    done = run_watched(PRINT_THREADS, env={**_env_without_threads(), "OMP_NUM_THREADS": "4"}, timeout=60)
    assert done.stdout.strip() == "4"
    assert with_local_threads({"OMP_NUM_THREADS": "4"}) == {"OMP_NUM_THREADS": "4"}
    assert with_local_threads({}) == LOCAL_THREAD_ENV


def test_openmp_in_an_entry_point_runs_the_one_thread() -> None:
    code = "from threadpoolctl import threadpool_info; import sklearn.ensemble\n" + (
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'openmp'}))"
    )
    done = run_watched([sys.executable, "-c", code], env=_env_without_threads(), timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "[1]"), done.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("3", "3")])
def test_the_mlops_command_sets_the_threads_for_itself_and_its_children(given: str | None, expected: str) -> None:
    env = _env_without_threads() | ({"OMP_NUM_THREADS": given} if given else {})
    code = (
        "import os, sys; from mlops.cli import main; sys.argv = ['mlops', '--help']\n"
        "try:\n    main.main()\nexcept SystemExit:\n    pass\n"
        "print('threads=' + os.environ['OMP_NUM_THREADS'])"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert f"threads={expected}" in done.stdout.splitlines()[-1], done.stderr
