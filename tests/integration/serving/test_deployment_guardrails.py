"""Blue/green deployments of the local endpoints follow the endpoint's DeploymentConfig: the new model process
starts beside the old, the front door splits the traffic by weight during the shift, and a rollback alarm in
ALARM (evaluated by the kit's alarm runner on the metrics the front door publishes) rolls back to the old model.

A client thread invokes the endpoint through the runtime API during the whole deployment and must see no failed
request: neither the shift nor the rollback may drop one. In the 5xx case the bad model fails only on some inputs
(those holding a marker), which a second thread sends: their failures are the model's answers, which is what the
alarm counts; the client's own inputs never fail, whichever model answers them.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.local import endpoint_runner
from mlops.local.hosting import LocalHosting
from mlops.platform import Platform
from mlops.ports.hosting import Deployment, HostingError
from tests.integration.serving.frontdoor_support import put_alarm, runtime_client, toy_spec

pytestmark = [pytest.mark.emulator, pytest.mark.server]


def canary(alarms: list[str], *, percent: int = 50, wait: int = 8) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": wait,
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]},
    }


@dataclass
class Traffic:
    """A thread invoking the endpoint until stopped; what it saw."""

    platform: Platform
    endpoint: str
    body: bytes
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import json

        client = runtime_client(self.platform)
        while not self.stop.is_set():
            try:
                answer = client.invoke_endpoint(EndpointName=self.endpoint, Body=self.body, ContentType="text/csv")
                self.versions[json.loads(answer["Body"].read())["version"]] += 1
            except ClientError as exc:
                self.failures.append(str(exc))


@pytest.fixture
def traffic(platform: Platform) -> Iterator[Any]:
    started: list[tuple[Traffic, threading.Thread]] = []

    def start(endpoint: str, body: bytes) -> Traffic:
        sender = Traffic(platform, endpoint, body)
        thread = threading.Thread(target=sender.run, daemon=True)
        thread.start()
        started.append((sender, thread))
        return sender

    yield start
    for sender, thread in started:
        sender.stop.set()
        thread.join(timeout=30)


def _deploy_old(platform: Platform, endpoint: str) -> None:
    LocalHosting(platform, health_timeout=60).deploy(toy_spec(platform, endpoint, "1"))


def _assert_rolled_back(platform: Platform, deployment: Deployment, alarm: str) -> None:
    assert deployment.action == "rolled back" and deployment.version == "1"
    assert deployment.rollout is not None and deployment.rollout["rolled_back"] is True
    assert f"alarm {alarm} went to ALARM" in deployment.rollout["reason"]
    status = LocalHosting(platform).status(deployment.endpoint)
    assert status is not None and status.version == "1" and status.status == "InService"
    assert [(f["version"], f["weight"]) for f in status.fleets] == [("1", 1.0)]
    table = endpoint_runner.read_table(platform, deployment.endpoint)
    assert table is not None and table.deployment.reason == deployment.rollout["reason"]


def test_a_model_answering_5xx_is_rolled_back_and_no_client_request_fails(platform: Platform, traffic: Any) -> None:
    endpoint, alarm = "guard-5xx", "guard-5xx-errors"
    put_alarm(platform, alarm, endpoint, "Invocation5XXErrors", 2.0)
    _deploy_old(platform, endpoint)
    try:
        client = traffic(endpoint, b"1,2,3")
        traffic(endpoint, b"boom")  # the inputs the new model breaks on (the old one answers them)
        bad = toy_spec(platform, endpoint, "2", env={"TOY_FAIL_MARKER": "boom"}, deployment_config=canary([alarm]))

        deployment = LocalHosting(platform, health_timeout=60).deploy(bad)

        client.stop.set()
        _assert_rolled_back(platform, deployment, alarm)
        assert client.failures == []
        assert client.versions["1"] > 0 and client.versions["2"] > 0  # the canary really took traffic
    finally:
        LocalHosting(platform).stop(endpoint)


def test_a_model_slower_than_the_latency_alarm_is_rolled_back(platform: Platform, traffic: Any) -> None:
    endpoint, alarm = "guard-slow", "guard-slow-p99"
    put_alarm(platform, alarm, endpoint, "ModelLatency", 150_000.0, ExtendedStatistic="p99")  # 150 ms in µs
    _deploy_old(platform, endpoint)
    try:
        client = traffic(endpoint, b"1,2,3")
        slow = toy_spec(platform, endpoint, "2", env={"TOY_DELAY_MS": "300"}, deployment_config=canary([alarm]))

        deployment = LocalHosting(platform, health_timeout=60).deploy(slow)

        client.stop.set()
        _assert_rolled_back(platform, deployment, alarm)
        assert deployment.rollout is not None and "p99 GreaterThanThreshold 150000" in deployment.rollout["reason"]
        assert client.failures == []
        assert client.versions["2"] > 0
    finally:
        LocalHosting(platform).stop(endpoint)


def test_a_good_model_is_shifted_linearly_and_the_old_process_stopped(platform: Platform, traffic: Any) -> None:
    endpoint, alarm = "guard-linear", "guard-linear-errors"
    put_alarm(platform, alarm, endpoint, "Invocation5XXErrors", 0.0)
    _deploy_old(platform, endpoint)
    old = endpoint_runner.read_route(platform, endpoint)
    assert old is not None
    try:
        client = traffic(endpoint, b"1,2,3")
        linear = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "LINEAR",
                    "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    "WaitIntervalInSeconds": 3,
                },
                "TerminationWaitInSeconds": 1,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
        }

        deployment = LocalHosting(platform, health_timeout=60).deploy(
            toy_spec(platform, endpoint, "2", deployment_config=linear)
        )

        client.stop.set()
        assert (deployment.action, deployment.version, deployment.status) == ("updated", "2", "InService")
        assert deployment.rollout is not None and not deployment.rollout.get("rolled_back")
        stages = deployment.rollout["history"]
        assert any("step 1/2: 50% to green" in s for s in stages) and any("step 2/2: 100%" in s for s in stages)
        assert client.failures == [] and client.versions["1"] > 0 and client.versions["2"] > 0
        assert not endpoint_runner.is_our_server(old.pid, old.port)
    finally:
        LocalHosting(platform).stop(endpoint)


def test_a_second_deploy_is_refused_while_one_is_shifting(platform: Platform) -> None:
    endpoint = "guard-busy"
    _deploy_old(platform, endpoint)
    try:
        table = endpoint_runner.read_table(platform, endpoint)
        assert table is not None
        shifting = replace(
            table.deployment, status="Updating", stage="canary step 1/2", target_version="2", deployer_pid=os.getppid()
        )
        endpoint_runner.write_table(platform, replace(table, deployment=shifting))
        with pytest.raises(HostingError, match=f"being updated by process {os.getppid()}"):
            LocalHosting(platform, health_timeout=60).deploy(toy_spec(platform, endpoint, "3"))
        assert [f.version for f in endpoint_runner.live_fleets(endpoint_runner.read_table(platform, endpoint))] == ["1"]
    finally:
        LocalHosting(platform).stop(endpoint)
