"""A local Glue run the runner abandons is recorded FAILED (issue 10): interrupted (Ctrl-C), or its runner killed
outright (the next run of the job finds the RUNNING record of a dead runner). The tiny script of
``test_job_runners`` stands in for a Spark job."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlops import layout
from mlops.adapters.aws.s3 import S3ObjectStore
from mlops.local.glue_runner import LocalGlueRunner
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


def _killed_run(stack: Stack, run_id: str) -> int:
    """What a runner killed outright leaves: its run's RUNNING record, naming a pid that is gone, and marker."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    record = json.dumps({"run_id": run_id, "state": "RUNNING", "runner_pid": dead_pid, "runner_started": 0.0})
    store, bucket = S3ObjectStore(stack.clients), stack.outputs.monitoring_bucket
    store.put(bucket, layout.job_run_key(stack.job_name, run_id), record.encode())
    store.put(bucket, layout.job_running_key(stack.job_name, run_id), b"")
    return dead_pid


def test_a_run_whose_runner_was_killed_is_recorded_failed_by_the_next_run(stack: Stack) -> None:
    dead_pid = _killed_run(stack, "jr_killed")
    run = _local(stack).run("tiny")
    records = _records(stack)
    key = layout.job_run_key(stack.job_name, "jr_killed")
    assert records[key]["state"] == "FAILED"
    assert records[key]["error"] == f"its runner (pid {dead_pid}) died; the job's processes were stopped with it"
    assert records[layout.job_run_key(stack.job_name, run.run_id)]["state"] == "SUCCEEDED"
    store = S3ObjectStore(stack.clients)
    assert store.list_keys(stack.outputs.monitoring_bucket, "glue-runs-running/") == []  # nothing left marked


class _CountedReads(S3ObjectStore):
    """The platform's store, counting the objects read."""

    reads: list[str]

    def get(self, bucket: str, key: str) -> bytes:
        self.reads.append(key)
        return super().get(bucket, key)


def test_a_run_reads_no_record_of_the_runs_that_ended(stack: Stack) -> None:
    """Finding abandoned runs used to read every record the job ever had: a job's runs got slower as they
    accumulated."""
    for _ in range(3):
        _local(stack).run("tiny")
    _killed_run(stack, "jr_gone")
    store = _CountedReads(stack.clients)
    store.reads = []
    LocalGlueRunner(stack.clients, stack.outputs, store).run("tiny")
    assert store.reads == [layout.job_run_key(stack.job_name, "jr_gone")]  # the marked run's record only
    assert _records(stack)[layout.job_run_key(stack.job_name, "jr_gone")]["state"] == "FAILED"


def test_a_marker_whose_record_was_deleted_is_dropped_and_the_run_goes_on(stack: Stack) -> None:
    _killed_run(stack, "jr_deleted")
    store = S3ObjectStore(stack.clients)
    store.delete(stack.outputs.monitoring_bucket, layout.job_run_key(stack.job_name, "jr_deleted"))
    assert _local(stack).run("tiny").succeeded
    assert layout.job_running_key(stack.job_name, "jr_deleted") not in store.list_keys(
        stack.outputs.monitoring_bucket, "glue-runs-running/"
    )


def test_a_marked_run_whose_runner_still_runs_is_left_running(stack: Stack) -> None:
    from mlops.local.job_process import runner_identity

    record = json.dumps({"run_id": "jr_live", "state": "RUNNING", **runner_identity()})  # this process: alive
    store, bucket = S3ObjectStore(stack.clients), stack.outputs.monitoring_bucket
    store.put(bucket, layout.job_run_key(stack.job_name, "jr_live"), record.encode())
    store.put(bucket, layout.job_running_key(stack.job_name, "jr_live"), b"")
    assert _local(stack).run("tiny").succeeded
    assert _records(stack)[layout.job_run_key(stack.job_name, "jr_live")]["state"] == "RUNNING"
    assert layout.job_running_key(stack.job_name, "jr_live") in store.list_keys(bucket, "glue-runs-running/")
    store.delete(bucket, layout.job_running_key(stack.job_name, "jr_live"))  # the module's later runs: not marked
