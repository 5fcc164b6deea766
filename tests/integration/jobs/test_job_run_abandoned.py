"""A local Glue run the runner abandons is recorded FAILED (issue 10): interrupted (Ctrl-C), or its runner killed
outright (the next run of the job finds the RUNNING record of a dead runner). The tiny script of
``test_job_runners`` stands in for a Spark job."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlops.adapters.aws.s3 import S3ObjectStore
from mlops.ports.jobs import JobRunFailedError
from tests.integration.jobs import test_job_runners as runners
from tests.integration.jobs.test_job_runners import Stack, _local

stack = runners.stack  # the fixture: a bucket, a log group and the Glue job ``tiny`` on the session's emulator

pytestmark = pytest.mark.emulator


def _records(stack: Stack) -> dict[str, dict[str, object]]:
    store, bucket = S3ObjectStore(stack.clients), stack.outputs.monitoring_bucket
    keys = store.list_keys(bucket, f"glue-runs/{stack.job_name}/")
    return {key: json.loads(store.get(bucket, key)) for key in keys}


def test_an_interrupted_local_run_is_recorded_failed_and_the_interrupt_goes_through(stack: Stack) -> None:
    def ctrl_c(_line: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _local(stack).run("tiny", on_line=ctrl_c)
    [record] = _records(stack).values()
    assert record["state"] == "FAILED"
    assert record["error"] == "the runner was interrupted (KeyboardInterrupt); the job's processes were stopped"


def test_an_interrupt_before_the_job_wrote_its_result_file_still_goes_through(stack: Stack) -> None:
    def ctrl_c(_line: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # not the runner's read of the empty file (a JSONDecodeError)
        _local(stack).run("tiny", {"result": "empty"}, on_line=ctrl_c)
    [record] = _records(stack).values()
    assert (record["state"], record["counts"]) == ("FAILED", {})


def test_a_run_that_exits_0_with_an_unreadable_result_file_is_recorded_failed(stack: Stack) -> None:
    with pytest.raises(JobRunFailedError) as failed:
        _local(stack).run("tiny", {"result": "garbage"})
    assert failed.value.run.error is not None
    assert failed.value.run.error.startswith("the job's result file is not a JSON object (Expecting value")
    assert failed.value.run.error.endswith(": 'rows_in=3'")
    [record] = _records(stack).values()
    assert record["state"] == "FAILED"


def test_a_run_whose_runner_was_killed_is_recorded_failed_by_the_next_run(stack: Stack) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    key = f"glue-runs/{stack.job_name}/jr_killed.json"
    record = {"run_id": "jr_killed", "state": "RUNNING", "runner_pid": dead_pid, "runner_started": 0.0}
    S3ObjectStore(stack.clients).put(stack.outputs.monitoring_bucket, key, json.dumps(record).encode())
    run = _local(stack).run("tiny")
    records = _records(stack)
    assert records[key]["state"] == "FAILED"
    assert records[key]["error"] == f"its runner (pid {dead_pid}) died; the job's processes were stopped with it"
    assert records[f"glue-runs/{stack.job_name}/{run.run_id}.json"]["state"] == "SUCCEEDED"
