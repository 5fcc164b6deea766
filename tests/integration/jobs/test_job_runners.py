"""The jobs port over both implementations on the session's moto server: the AWS Glue adapter (moto stores the
run and walks it to SUCCEEDED without running anything; the job's driver log is played by a wrapper) and the
kit's local runner (which runs the script for real). A tiny script stands in for a Spark job: no JVM needed.

Failures the emulator cannot produce on Glue (a FAILED run, a run that never ends, a concurrency refusal) are
played by a Glue client wrapper that answers for the service.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.glue_jobs import GlueJobs
from mlops.adapters.aws.s3 import S3ObjectStore
from mlops.contracts import JOB_RESULT_LOG_PREFIX
from mlops.layout import split_uri
from mlops.local.glue_runner import LocalGlueRunner
from mlops.outputs import StackOutputs
from mlops.ports.errors import ConflictError, NotFoundError
from mlops.ports.jobs import JobError, JobNotFoundError, JobRunConflictError, JobRunFailedError, JobRunner

pytestmark = pytest.mark.emulator

SCRIPT = f"""
import json, os, sys, time
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
if args.get("--result") in ("empty", "garbage"):  # a result file created but never (or badly) written
    open(os.environ["MLOPS_JOB_RESULT_FILE"], "w").write("" if args["--result"] == "empty" else "rows_in=3")
    if args["--result"] == "garbage":
        sys.exit(0)
    print("result file created", flush=True)
    time.sleep(60)  # the runner stops the run here
print("tiny job", args["--JOB_NAME"], "run", args["--JOB_RUN_ID"], flush=True)
if args.get("--fail") == "yes":
    print("ValueError: asked to fail on row 7", flush=True)
    sys.exit(2)
result = {{"dataset": args["--dataset"], "rows_in": 3}}
print({JOB_RESULT_LOG_PREFIX!r} + json.dumps(result), flush=True)
path = os.environ.get("MLOPS_JOB_RESULT_FILE")
if path:
    open(path, "w").write(json.dumps(result))
"""
RESULT = {"dataset": "cards", "rows_in": 3}


@dataclass
class Stack:
    """A bucket, a log group and a Glue job ``tiny`` (plus a declared job Glue does not have) on the emulator."""

    clients: ClientFactory
    outputs: StackOutputs
    job_name: str
    log_group: str


@pytest.fixture
def stack(emulated_clients: ClientFactory) -> Stack:
    suffix = uuid.uuid4().hex[:8]
    bucket, group, job_name = f"jobs-{suffix}", f"/test/{suffix}/glue", f"tiny-{suffix}"
    emulated_clients.client("s3").create_bucket(Bucket=bucket)
    emulated_clients.client("s3").put_object(Bucket=bucket, Key="glue/scripts/tiny.py", Body=SCRIPT.encode())
    emulated_clients.client("glue").create_job(
        Name=job_name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/glue/scripts/tiny.py"},
        DefaultArguments={"--dataset": "cards", "--continuous-log-logGroup": group, "--enable-metrics": "true"},
        NumberOfWorkers=2,
        WorkerType="G.1X",
        Timeout=5,
    )
    values: dict[str, Any] = {name: f"unused-{name}" for name in StackOutputs.model_fields}
    values.update(
        rollback_on_degradation=False,  # a flag, not a name
        monitoring_bucket=bucket,
        glue_jobs={"tiny": job_name, "ghost": f"ghost-{suffix}"},
        log_groups={"glue": group},
        alarm_names={},
        image_uris={},
    )
    return Stack(emulated_clients, StackOutputs.model_validate(values), job_name, group)


class _GlueDriverLog:
    """A Glue client whose runs write their driver log (as continuous logging does) and whose ``get_job_run``
    answers can be replaced, for the ends moto never reaches."""

    def __init__(self, real: Any, logs: Any, group: str, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._real, self._logs, self._group, self._answer = real, logs, group, answer

    def start_job_run(self, **request: Any) -> dict[str, Any]:
        started: dict[str, Any] = self._real.start_job_run(**request)
        run_id = started["JobRunId"]
        with contextlib.suppress(ClientError):  # the group exists after the first run
            self._logs.create_log_group(logGroupName=self._group)
        self._logs.create_log_stream(logGroupName=self._group, logStreamName=run_id)
        lines = [f"tiny job {request['JobName']} run {run_id}", f"{JOB_RESULT_LOG_PREFIX}{json.dumps(RESULT)}"]
        now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
        events = [{"timestamp": now + n, "message": line} for n, line in enumerate(lines)]
        self._logs.put_log_events(logGroupName=self._group, logStreamName=run_id, logEvents=events)
        return started

    def get_job_run(self, **request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._real.get_job_run(**request)
        return {"JobRun": self._answer(answer["JobRun"])}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Clients:
    def __init__(self, real: ClientFactory, glue: Any) -> None:
        self._real, self._glue = real, glue

    def client(self, service: str) -> Any:
        return self._glue if service == "glue" else self._real.client(service)


def _glue(stack: Stack, answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda run: run, **kw: Any) -> GlueJobs:
    real = stack.clients
    wrapped = _GlueDriverLog(real.client("glue"), real.client("logs"), stack.log_group, answer)
    return GlueJobs(_Clients(real, wrapped), stack.outputs, poll_seconds=0, **kw)  # type: ignore[arg-type]


def _local(stack: Stack) -> LocalGlueRunner:
    return LocalGlueRunner(stack.clients, stack.outputs, S3ObjectStore(stack.clients))


@pytest.fixture(params=["aws-glue-moto", "local"])
def runner(request: pytest.FixtureRequest, stack: Stack) -> Iterator[JobRunner]:
    yield _glue(stack) if request.param == "aws-glue-moto" else _local(stack)


def test_a_run_ends_succeeded_with_its_counts_arguments_and_log(runner: JobRunner, stack: Stack) -> None:
    lines: list[str] = []
    run = runner.run("tiny", {"extra": "1", "--dataset": "cards"}, on_line=lines.append)
    assert (run.state, run.succeeded, run.error) == ("SUCCEEDED", True, None)
    assert (run.job_key, run.job_name) == ("tiny", stack.job_name)
    assert run.run_id.startswith("jr_")
    assert run.counts == RESULT
    assert run.arguments["--extra"] == "1" and run.arguments["--enable-metrics"] == "true"  # defaults merged
    assert run.duration_seconds >= 0 and run.started_at <= run.finished_at
    assert (run.log_group, run.log_stream, run.logs) == (stack.log_group, run.run_id, f"{stack.log_group}/{run.run_id}")
    assert any(line.startswith(f"tiny job {stack.job_name} run {run.run_id}") for line in lines)


def test_an_undeclared_job_key_is_not_found(runner: JobRunner) -> None:
    with pytest.raises(JobNotFoundError, match=r"declares no Glue job 'train'; declared jobs: ghost, tiny") as missing:
        runner.run("train")
    assert isinstance(missing.value, NotFoundError)


def test_a_declared_job_the_service_does_not_have_is_not_found(runner: JobRunner, stack: Stack) -> None:
    with pytest.raises(JobNotFoundError, match=r"'ghost' \(ghost-"):
        runner.run("ghost")


def test_the_local_runner_reports_the_failure_and_keeps_the_record(stack: Stack) -> None:
    lines: list[str] = []
    with pytest.raises(JobRunFailedError) as failed:
        _local(stack).run("tiny", {"fail": "yes"}, on_line=lines.append)
    run = failed.value.run
    assert (run.state, run.error) == ("FAILED", "ValueError: asked to fail on row 7")
    assert str(failed.value) == (
        f"job 'tiny' ({stack.job_name}) run {run.run_id} ended FAILED: ValueError: asked to fail on row 7"
    )
    assert run.record_uri is not None
    _, bucket, key = split_uri(run.record_uri)
    assert (bucket, key) == (stack.outputs.monitoring_bucket, f"glue-runs/{stack.job_name}/{run.run_id}.json")
    record = json.loads(S3ObjectStore(stack.clients).get(bucket, key))
    assert (record["state"], record["exit_code"], record["error"]) == ("FAILED", 2, run.error)
    events = stack.clients.client("logs").get_log_events(logGroupName=stack.log_group, logStreamName=run.run_id)
    assert [e["message"] for e in events["events"]] == lines


def test_a_local_job_whose_script_is_not_in_the_store_says_where_it_looked(stack: Stack) -> None:
    stack.clients.client("s3").delete_object(Bucket=stack.outputs.monitoring_bucket, Key="glue/scripts/tiny.py")
    with pytest.raises(JobError, match=r"script s3://.*/glue/scripts/tiny.py cannot be downloaded"):
        _local(stack).run("tiny")


def test_a_failed_glue_run_raises_naming_the_job_and_glues_reason(stack: Stack) -> None:
    def failed(run: dict[str, Any]) -> dict[str, Any]:
        return {**run, "JobRunState": "FAILED", "ErrorMessage": "AnalysisException: column amount not found"}

    with pytest.raises(JobRunFailedError) as caught:
        _glue(stack, failed).run("tiny")
    run = caught.value.run
    assert (run.state, run.error) == ("FAILED", "AnalysisException: column amount not found")
    assert f"job 'tiny' ({stack.job_name}) run {run.run_id} ended FAILED: AnalysisException" in str(caught.value)


def test_a_glue_run_that_outlasts_the_wait_says_it_keeps_running(stack: Stack) -> None:
    def running(run: dict[str, Any]) -> dict[str, Any]:
        return {**run, "JobRunState": "RUNNING"}

    with pytest.raises(JobError, match=r"is still RUNNING after \d+ s; it keeps running on Glue"):
        _glue(stack, running, max_wait_seconds=0).run("tiny")


def test_a_glue_refusal_for_concurrency_is_a_conflict(stack: Stack) -> None:
    class Refusing(_GlueDriverLog):
        def start_job_run(self, **request: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "ConcurrentRunsExceededException", "Message": "max 1 concurrent run"}}
            raise ClientError(error, "StartJobRun")

    real = stack.clients
    glue = Refusing(real.client("glue"), real.client("logs"), stack.log_group, lambda run: run)
    jobs = GlueJobs(_Clients(real, glue), stack.outputs, poll_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(JobRunConflictError, match=r"concurrent-run limit") as refused:
        jobs.run("tiny")
    assert isinstance(refused.value, ConflictError)
