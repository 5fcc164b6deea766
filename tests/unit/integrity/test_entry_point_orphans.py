"""A killed ``mlops train run`` leaves no entry point running (issue 10: the training entry point, and what it
started, outlived the command). The local training runner runs the entry point watched; plain Python stands in
for the training code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.unit.integrity.test_job_process_tree import JOB, _pids, _still_running

REPO = Path(__file__).resolve().parents[3]

RUNNER = textwrap.dedent(
    """
    import sys
    from mlops.adapters.memory.object_store import MemoryObjectStore
    from mlops.local.training_runner import LocalTrainingRunner
    from mlops.ports.training import TrainingJobRequest

    job, pids = sys.argv[1:3]
    request = TrainingJobRequest(
        job_name="killed-job", entry_point=["python", job, pids], channels={}, hyperparameters={},
        output_path="memory://models/training/killed-job",
    )
    LocalTrainingRunner(MemoryObjectStore(), "models").run(request)
    """
)


def test_a_training_runner_killed_by_sigkill_takes_the_entry_point_and_its_children_along(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "runner.py").write_text(RUNNER)
    pids = tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    runner = subprocess.Popen(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "job.py"), str(pids)], env=env
    )
    while not pids.is_file() or not pids.read_text():  # the entry point has started its worker
        assert runner.poll() is None, "the runner ended before the entry point started"
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert _still_running(_pids(pids)) == []
