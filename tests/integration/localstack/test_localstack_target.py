"""LocalStack as a local target, run on the host without Docker (real processes, real LocalStack).

(a) the lifecycle: start, health, stop leaves no process; clear errors when it cannot start;
(b) the kit's ``localstack`` target reaches its S3, Kinesis, CloudWatch, Logs, SNS, SQS, EventBridge and STS
    through the kit's own client factory;
(c) CloudWatch alarm semantics: LocalStack evaluates alarms (moto does not), so the same datapoints are judged by
    LocalStack and by the kit's evaluator (``mlops.alarm_semantics``, fed as the alarm runner feeds it:
    the alarm as DescribeAlarms returns it, one GetMetricStatistics value per aligned period) and compared.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.aws.cloudwatch_alarms import definition_from_description as rule_from_description
from mlops.alarm_semantics import evaluate, lookback, period_start
from mlops.errors import EmulatorError
from mlops.local import localstack
from mlops.ports.alarms import AlarmDefinition as AlarmRule
from mlops.settings import load_settings
from mlops.wiring import client_factory
from tests.support.alarm_timing import PERIOD, evaluated_in_period, wait_for_aligned_start
from tests.support.localstack import require_localstack

pytestmark = pytest.mark.server


def _ls_family(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


# --- (a) lifecycle --------------------------------------------------------------------------------------------


def test_start_is_healthy_and_stop_leaves_no_process(tmp_path: Path) -> None:
    """Runs first, on its own instance, before the session's LocalStack exists (two at once is slow on 2 cores)."""
    require_localstack()
    handle = localstack.start(tmp_path / "ls")
    try:
        assert handle.endpoint_url == f"http://127.0.0.1:{handle.port}"
        services = localstack.health(handle.endpoint_url)
        assert services is not None
        assert services["s3"] in localstack.READY_STATES
        for name in ("kinesis", "cloudwatch", "sns", "sqs", "events", "kms", "logs", "iam", "sts"):
            assert services.get(name) in localstack.READY_STATES, (name, services.get(name))
        process = psutil.Process(handle.pid)
        assert "localstack.runtime.main" in " ".join(process.cmdline())
        assert process.ppid() == os.getpid()
        assert os.getpgid(handle.pid) == handle.pid, "LocalStack runs in its own process group"
        listening = {c.laddr.port: c.laddr.ip for c in process.net_connections(kind="tcp") if c.status == "LISTEN"}
        assert listening.get(handle.port) == "127.0.0.1", listening  # loopback only
        assert handle.log_file.is_file() and handle.log_file.parent == tmp_path / "ls"
        print(f"\nLocalStack start-to-healthy: {handle.healthy_after_s:.2f} s")
    finally:
        family = _ls_family(handle.pid)
        localstack.stop(handle)
    assert family, "the LocalStack process tree was found"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)
    assert not psutil.pid_exists(handle.pid)
    with pytest.raises(httpx.HTTPError):
        httpx.get(handle.endpoint_url + localstack.HEALTH_PATH, timeout=1)
    localstack.stop(handle)  # a second stop of a gone process is fine


def test_start_without_the_venv_says_why(tmp_path: Path) -> None:
    with pytest.raises(localstack.LocalStackUnavailable, match=r"scripts/localstack-venv\.sh|no Python >= 3\.13"):
        localstack.start(tmp_path / "state", venv_dir=tmp_path / "no-venv")
    assert localstack.venv_python(tmp_path / "no-venv") is None


def test_a_failing_start_names_its_log_file(tmp_path: Path) -> None:
    """A venv whose interpreter exits at once (as 2026.3.0 does on Python 3.12): the error points at the log."""
    venv = tmp_path / "broken-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\necho 'No component plugins found in namespace localstack.runtime.components'\nexit 3\n"
    )
    python.chmod(0o755)
    (venv / localstack.STAMP_FILE).write_text("test\n")
    with pytest.raises(EmulatorError, match="exited with code 3") as caught:
        localstack.start(tmp_path / "state", venv_dir=venv, timeout=20)
    assert str(tmp_path / "state" / localstack.LOGFILE) in str(caught.value)
    assert "No component plugins found" in str(caught.value)


# --- (b) the kit's localstack target ---------------------------------------------------------------------------


def test_s3_with_sse_kms_and_versioning(localstack_clients: ClientFactory) -> None:
    s3, kms = localstack_clients.client("s3"), localstack_clients.client("kms")
    key_id = kms.create_key(Description="mlops-kit test")["KeyMetadata"]["KeyId"]
    bucket = f"raw-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    first = s3.put_object(Bucket=bucket, Key="data/part-0.csv", Body=b"a,b\n1,2\n", **sse)
    second = s3.put_object(Bucket=bucket, Key="data/part-0.csv", Body=b"a,b\n3,4\n", **sse)
    assert first["VersionId"] != second["VersionId"]
    latest = s3.get_object(Bucket=bucket, Key="data/part-0.csv")
    assert latest["Body"].read() == b"a,b\n3,4\n"
    assert latest["ServerSideEncryption"] == "aws:kms"
    assert key_id in latest["SSEKMSKeyId"]
    old = s3.get_object(Bucket=bucket, Key="data/part-0.csv", VersionId=first["VersionId"])
    assert old["Body"].read() == b"a,b\n1,2\n"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="data/")["Versions"]
    assert len(versions) == 2
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_kinesis_put_records_and_get_records_in_order(localstack_clients: ClientFactory) -> None:
    kinesis = localstack_clients.client("kinesis")
    stream = f"events-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)  # the first call installs LocalStack's node emulator
    deadline = time.monotonic() + 60
    while kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "stream never became ACTIVE"
        time.sleep(0.2)
    records = [{"Data": json.dumps({"seq": i}).encode(), "PartitionKey": "card-1"} for i in range(50)]
    put = kinesis.put_records(StreamName=stream, Records=records)
    assert put["FailedRecordCount"] == 0
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    position, got = iterator["ShardIterator"], list[int]()
    while len(got) < 50 and time.monotonic() < deadline:
        page = kinesis.get_records(ShardIterator=position, Limit=100)
        got.extend(json.loads(r["Data"])["seq"] for r in page["Records"])
        position = page["NextShardIterator"]
    assert got == list(range(50))


def test_cloudwatch_metrics_and_logs(localstack_clients: ClientFactory) -> None:
    cloudwatch, logs = localstack_clients.client("cloudwatch"), localstack_clients.client("logs")
    namespace, now = f"MlopsKit/{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "PredictionLatency",
                "Value": v,
                "Timestamp": now,
                "Dimensions": [{"Name": "m", "Value": "x"}],
            }
            for v in (10.0, 30.0)
        ],
    )
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="PredictionLatency",
        Dimensions=[{"Name": "m", "Value": "x"}],
        StartTime=datetime.fromtimestamp(now.timestamp() - 120, tz=UTC),
        EndTime=datetime.fromtimestamp(now.timestamp() + 60, tz=UTC),
        Period=60,
        Statistics=["Sum", "Maximum", "SampleCount"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in stats) == 40.0
    assert max(p["Maximum"] for p in stats) == 30.0
    group = f"/mlops/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": "hi"}]
    )
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["hi"]


def _receive(sqs: Any, queue_url: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages")
        if messages:
            return list(messages)
    return []


def test_sns_to_sqs_and_eventbridge_to_sqs(localstack_clients: ClientFactory) -> None:
    sns, sqs, events = (localstack_clients.client(s) for s in ("sns", "sqs", "events"))
    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"alerts-{suffix}")["QueueUrl"]
    assert queue_url.startswith(localstack_clients.endpoint_url or "?"), queue_url  # URLs point back at this port
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    topic = sns.create_topic(Name=f"alarms-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message=json.dumps({"alarm": "data_drift"}))
    [message] = _receive(sqs, queue_url)
    assert json.loads(message["Body"]) == {"alarm": "data_drift"}
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    rule = f"retrain-{suffix}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["mlops.test"], "detail-type": ["Drift"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    put = events.put_events(Entries=[{"Source": "mlops.test", "DetailType": "Drift", "Detail": '{"psi": 0.4}'}])
    assert put["FailedEntryCount"] == 0
    [delivered] = _receive(sqs, queue_url)
    body = json.loads(delivered["Body"])
    assert body["source"] == "mlops.test" and body["detail"] == {"psi": 0.4}


def test_sts_identity_and_the_localstack_host_convention(
    localstack_endpoint: str, localstack_clients: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert localstack_clients.client("sts").get_caller_identity()["Account"] == "000000000000"
    # Without endpoint_url the localstack target follows localstack-client's LOCALSTACK_HOST convention.
    monkeypatch.setenv("LOCALSTACK_HOST", localstack_endpoint.removeprefix("http://"))
    factory = client_factory(load_settings(target="localstack"))
    assert factory.endpoint_url == localstack_endpoint
    assert factory.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


# --- (c) alarm semantics: LocalStack's evaluation vs the kit's ------------------------------------------------


@dataclass(frozen=True)
class AlarmCase:
    """One alarm and the datapoints put for it: ``data[k]`` are the values put ``k`` periods before the current."""

    key: str
    statistic: str
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    data: dict[int, list[float]] = field(default_factory=dict)
    expected_localstack: str = ""
    expected_kit: str = ""
    note: str = ""


# The state both are expected to reach (CloudWatch's documented behaviour), then the known disagreements.
AGREEING = [
    AlarmCase("one_period_breaching", "Maximum", "GreaterThanThreshold", 80, 1, 1, "missing", {0: [50, 95]}),
    AlarmCase("one_period_ok", "Maximum", "GreaterThanThreshold", 80, 1, 1, "missing", {0: [50, 60]}),
    AlarmCase("at_threshold_le", "Minimum", "LessThanOrEqualToThreshold", 10, 1, 1, "missing", {0: [10, 20]}),
    AlarmCase(
        "two_of_three", "Average", "GreaterThanThreshold", 0.3, 3, 2, "missing", {2: [0.5], 1: [0.1], 0: [0.4, 0.6]}
    ),
    AlarmCase("one_of_three", "Average", "GreaterThanThreshold", 0.3, 3, 2, "missing", {2: [0.5], 1: [0.1], 0: [0.2]}),
    AlarmCase("no_data_breaching", "Average", "GreaterThanThreshold", 0.3, 2, 2, "breaching"),
    AlarmCase("no_data_not_breaching", "Average", "GreaterThanThreshold", 0.3, 2, 2, "notBreaching"),
    AlarmCase("missing_periods_breaching", "Average", "GreaterThanThreshold", 0.3, 3, 2, "breaching", {0: [0.1]}),
    # CloudWatch's premature-alarm rule: 1 breaching datapoint of 2 needed, 2 periods old, the newest missing
    AlarmCase("premature_alarm", "Maximum", "GreaterThanThreshold", 80, 3, 2, "missing", {1: [95]}),
]
EXPECTED_AGREEING = {
    "one_period_breaching": "ALARM",
    "one_period_ok": "OK",
    "at_threshold_le": "ALARM",
    "two_of_three": "ALARM",
    "one_of_three": "OK",
    "no_data_breaching": "ALARM",
    "no_data_not_breaching": "OK",
    "missing_periods_breaching": "ALARM",
    "premature_alarm": "ALARM",
}
DISAGREEING = [
    AlarmCase(
        "breach_older_than_n_periods",
        "Maximum",
        "GreaterThanThreshold",
        80,
        1,
        1,
        "missing",
        {2: [95], 0: [50]},
        expected_localstack="ALARM",
        expected_kit="OK",
        note="LocalStack fetches N+max(N//3,2) periods and counts every datapoint in them, not the newest N: a "
        "breach 2 periods old alarms a 1-period alarm whose current period is fine. CloudWatch (and the kit) judge "
        "the newest N datapoints: OK.",
    ),
]


@dataclass
class Observed:
    case: AlarmCase
    localstack: str
    localstack_reason: str
    kit: str
    kit_reason: str
    kit_datapoints: tuple[tuple[datetime, float | None], ...]
    evaluated_at: datetime


def _run_cross_check(clients: ClientFactory, cases: list[AlarmCase]) -> tuple[list[Observed], int]:
    cloudwatch = clients.client("cloudwatch")
    run = uuid.uuid4().hex[:8]
    namespace = f"MlopsKit/AlarmCheck/{run}"
    names = {case.key: f"check-{run}-{case.key}" for case in cases}
    cloudwatch.describe_alarms(AlarmNames=list(names.values()))  # loads LocalStack's CloudWatch (2-3 s) before timing
    start = wait_for_aligned_start()
    cloudwatch.put_metric_data(  # one call for every case: the evaluations follow within a second
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": case.key,
                "Value": value,
                "Timestamp": datetime.fromtimestamp(start - back * PERIOD + 1, tz=UTC),
                "StorageResolution": 1,
            }
            for case in cases
            for back, values in case.data.items()
            for value in values
        ],
    )
    for case in cases:
        cloudwatch.put_metric_alarm(
            AlarmName=names[case.key],
            Namespace=namespace,
            MetricName=case.key,
            Statistic=case.statistic,
            Period=PERIOD,
            EvaluationPeriods=case.evaluation_periods,
            DatapointsToAlarm=case.datapoints_to_alarm,
            Threshold=case.threshold,
            ComparisonOperator=case.comparison,
            TreatMissingData=case.treat_missing_data,
        )
    # Every case leaves INSUFFICIENT_DATA on LocalStack's first evaluation; wait (bounded) until all have.
    deadline = time.monotonic() + 3 * PERIOD
    while True:
        alarms = {
            a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=list(names.values()))["MetricAlarms"]
        }
        if all(a["StateValue"] != "INSUFFICIENT_DATA" for a in alarms.values()) and len(alarms) == len(names):
            break
        if time.monotonic() > deadline:
            pending = {n: (a["StateValue"], a["StateReason"]) for n, a in alarms.items()}
            pytest.fail(f"LocalStack did not evaluate every alarm within {3 * PERIOD}s: {pending}")
        time.sleep(0.2)

    observed = []
    for case in cases:
        alarm = alarms[names[case.key]]
        evaluated_at = alarm["StateUpdatedTimestamp"].astimezone(UTC)
        # The kit judges the alarm as LocalStack stores it, at the moment LocalStack judged it.
        rule = rule_from_description({**alarm, "StateValue": "INSUFFICIENT_DATA"})
        evaluation = evaluate(rule, _period_values(cloudwatch, rule, evaluated_at), evaluated_at)
        observed.append(
            Observed(
                case,
                alarm["StateValue"],
                alarm["StateReason"],
                evaluation.state,
                evaluation.reason,
                evaluation.datapoints,
                evaluated_at,
            )
        )
    return observed, start


def _period_values(cloudwatch: Any, rule: AlarmRule, now: datetime) -> dict[datetime, float]:
    """One value of the alarm's statistic per aligned period of its evaluation range, read from LocalStack.

    The request the kit's alarm runner makes (``mlops.local.alarm_runner.metric_values``) for a standard statistic.
    """
    start, end = lookback(rule, now)
    response = cloudwatch.get_metric_statistics(
        Namespace=rule.namespace,
        MetricName=rule.metric_name,
        Dimensions=[{"Name": k, "Value": v} for k, v in sorted(rule.dimensions.items())],
        StartTime=start,
        EndTime=end,
        Period=rule.period,
        Statistics=[rule.statistic],
    )
    return {period_start(p["Timestamp"], rule.period): float(p[rule.statistic]) for p in response["Datapoints"]}


@pytest.fixture(scope="module")
def alarm_check(localstack_endpoint: str) -> Iterator[list[Observed]]:
    """All cases in one round (LocalStack evaluates each on creation): a couple of seconds for all of them.

    A case LocalStack evaluated outside the period its data was put for (the binning precondition of
    ``tests.support.alarm_timing``: a loaded machine delays an evaluation to the next period) is compared on nothing
    and run again with fresh names, up to three rounds; the cases evaluated in time keep their observation.
    """
    clients = client_factory(load_settings(target="localstack", endpoint_url=localstack_endpoint))
    cases = AGREEING + DISAGREEING
    in_time: dict[str, Observed] = {}
    late: list[tuple[str, float]] = []
    for _round in range(3):
        observed, start = _run_cross_check(clients, [c for c in cases if c.key not in in_time])
        in_time |= {o.case.key: o for o in observed if evaluated_in_period(start, o.evaluated_at.timestamp())}
        late = [(o.case.key, o.evaluated_at.timestamp() - start) for o in observed if o.case.key not in in_time]
        if not late:
            yield [in_time[c.key] for c in cases]
            return
    pytest.fail(f"LocalStack evaluated outside the period the data was put for (s after its start): {late}")


def _describe(o: Observed) -> str:
    data = {f"-{k} period(s)": v for k, v in sorted(o.case.data.items())} or "no data"
    return (
        f"{o.case.key}: {o.case.statistic} {o.case.comparison} {o.case.threshold:g}, "
        f"{o.case.datapoints_to_alarm} of {o.case.evaluation_periods}, TreatMissingData={o.case.treat_missing_data}, "
        f"put {data}\n    LocalStack: {o.localstack} ({o.localstack_reason})\n    kit: {o.kit} ({o.kit_reason})"
    )


def test_kit_evaluator_reaches_localstacks_state_on_the_same_datapoints(alarm_check: list[Observed]) -> None:
    agreeing = [o for o in alarm_check if o.case.key in EXPECTED_AGREEING]
    wrong = [o for o in agreeing if not (o.localstack == o.kit == EXPECTED_AGREEING[o.case.key])]
    assert not wrong, "\n".join(f"expected {EXPECTED_AGREEING[o.case.key]} for " + _describe(o) for o in wrong)
    assert {o.localstack for o in agreeing} == {"ALARM", "OK"}


def test_known_disagreements_between_localstack_and_the_kit(alarm_check: list[Observed]) -> None:
    """Documented divergences: a change on either side (a fix, a LocalStack upgrade) shows up here."""
    known = [o for o in alarm_check if o.case.key not in EXPECTED_AGREEING]
    changed = [o for o in known if (o.localstack, o.kit) != (o.case.expected_localstack, o.case.expected_kit)]
    assert not changed, "\n".join(
        f"expected LocalStack {o.case.expected_localstack} / kit {o.case.expected_kit} ({o.case.note}) for "
        + _describe(o)
        for o in changed
    )
    for o in known:
        print("\n" + _describe(o))


def test_localstack_cuts_a_windows_end_at_whole_seconds(localstack_clients: ClientFactory) -> None:
    """Why a round's evaluations must come 2 s into the period (``tests.support.alarm_timing``), not 1 s.

    LocalStack's alarm evaluation reads windows ``[now - PERIOD, now)`` whose bounds it truncates to whole seconds:
    a datapoint put at ``start + 1`` is outside the window ending at ``start + 1.9``, inside the one ending at 2.0.
    """
    cloudwatch = localstack_clients.client("cloudwatch")
    namespace = f"MlopsKit/Truncation/{uuid.uuid4().hex[:8]}"
    start = int(time.time()) // PERIOD * PERIOD - PERIOD
    put_at = datetime.fromtimestamp(start + 1, tz=UTC)
    cloudwatch.put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": "m", "Value": 1.0, "Timestamp": put_at, "StorageResolution": 1}]
    )
    query = {
        "Id": "m",
        "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "m"}, "Period": PERIOD, "Stat": "Maximum"},
    }

    def values_until(end: float) -> list[float]:
        window = {
            "StartTime": datetime.fromtimestamp(end - PERIOD, tz=UTC),
            "EndTime": datetime.fromtimestamp(end, tz=UTC),
        }
        result = cloudwatch.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"][0]
        return [float(v) for v in result["Values"]]

    assert values_until(start + 1.9) == []
    assert values_until(start + 2.0) == [1.0]
    assert not evaluated_in_period(start, start + 1.9)
    assert evaluated_in_period(start, start + 2.0)
