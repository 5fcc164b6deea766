"""The front door's process: started with the emulator and recorded, restarted by `up` when it died, stopped by
`down`, and it publishes what it buffered when it is stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psutil
import pytest

from mlops.local import emulator
from mlops.local.emulator import HOST, free_port
from mlops.local.frontdoor import process as frontdoor
from mlops.local.frontdoor.routing import EndpointTable, Fleet, write_table
from mlops.local.processes import terminate
from mlops.local.state import read_state

pytestmark = [pytest.mark.emulator, pytest.mark.server]


@pytest.fixture
def emulator_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "emulator"
    try:
        yield directory
    finally:
        emulator.down(directory)


def _client(service: str, url: str) -> object:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def test_up_records_the_front_door_and_down_stops_it(emulator_dir: Path) -> None:
    state, _ = emulator.up(emulator_dir)
    assert state.frontdoor_pid and state.frontdoor_url and read_state(emulator_dir) == state
    assert state.public_url == state.frontdoor_url != state.endpoint_url
    assert frontdoor.is_ours(state.frontdoor_pid, state.frontdoor_port) and frontdoor.healthy(state.frontdoor_url)

    terminate(state.frontdoor_pid)  # it died: the next `up` starts another beside the same moto
    again, started = emulator.up(emulator_dir)
    assert not started and again.pid == state.pid and again.frontdoor_pid != state.frontdoor_pid
    assert again.frontdoor_url is not None and frontdoor.healthy(again.frontdoor_url)

    emulator.down(emulator_dir)
    assert again.frontdoor_pid is not None
    assert not psutil.pid_exists(again.frontdoor_pid) or not frontdoor.is_ours(
        again.frontdoor_pid, again.frontdoor_port
    )
    assert read_state(emulator_dir) is None


def test_metrics_buffered_are_published_when_the_front_door_stops(emulator_dir: Path, tmp_path: Path) -> None:
    state, _ = emulator.up(emulator_dir)
    port = free_port()
    model = subprocess.Popen(
        [sys.executable, "-m", "tests.support.toy_model", "serve", "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fleet = Fleet("blue", "AllTraffic", model.pid, HOST, port, "models:/toy/1", "1", 1.0, time.time(), "")
        write_table(emulator.endpoints_dir_of(emulator_dir), EndpointTable("lifecycle", (fleet,)))
        assert state.frontdoor_url is not None
        runtime = _client("sagemaker-runtime", state.frontdoor_url)
        deadline = time.monotonic() + 30
        while True:  # the toy model is starting
            try:
                runtime.invoke_endpoint(EndpointName="lifecycle", Body=b"1", ContentType="text/csv")  # type: ignore[attr-defined]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        frontdoor.stop(state.frontdoor_pid, state.frontdoor_port)  # a 60 s flush period: only the stop publishes

        points = _client("cloudwatch", state.endpoint_url).get_metric_statistics(  # type: ignore[attr-defined]
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[{"Name": "EndpointName", "Value": "lifecycle"}, {"Name": "VariantName", "Value": "AllTraffic"}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        assert sum(p["Sum"] for p in points) >= 1
    finally:
        terminate(model.pid)


def test_status_says_when_the_front_door_is_gone(emulator_dir: Path) -> None:
    state, _ = emulator.up(emulator_dir)
    assert f"front door pid {state.frontdoor_pid} at {state.frontdoor_url}" in emulator.status(emulator_dir).detail
    assert state.frontdoor_pid is not None
    terminate(state.frontdoor_pid)
    assert "does not answer" in emulator.status(emulator_dir).detail
