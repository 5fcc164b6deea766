"""The emulator's memory is its data (issue 10): a restarted emulator is detected by the instance id recorded at
start and says what was lost; a corrupt state file never leads to a second emulator while the first still
runs; a snapshot of a stack's buckets and tables restores them into a fresh emulator."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.local import emulator
from mlops.local.snapshot import restore, snapshot
from mlops.local.state import STATEFILE, read_state

pytestmark = pytest.mark.emulator


@pytest.fixture
def emulator_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "emulator"
    try:
        yield directory
    finally:
        emulator.down(directory)


def test_a_corrupt_state_file_finds_the_running_emulator_instead_of_starting_a_second(emulator_dir: Path) -> None:
    first, started = emulator.up(emulator_dir)
    assert started
    (emulator_dir / STATEFILE).write_text("{not json")
    again, started_again = emulator.up(emulator_dir)
    assert not started_again
    assert (again.pid, again.port, again.instance_id) == (first.pid, first.port, first.instance_id)
    assert read_state(emulator_dir) == again
    servers = [p for p in psutil.process_iter(["cmdline"]) if emulator.is_server_command(p.info["cmdline"] or [])]
    assert sum(str(first.port) in (p.info["cmdline"] or []) for p in servers) == 1


def test_an_emulator_that_died_is_detected_and_what_was_lost_is_said(emulator_dir: Path) -> None:
    first, _ = emulator.up(emulator_dir)
    assert first.instance_id
    psutil.Process(first.pid).send_signal(signal.SIGKILL)
    psutil.Process(first.pid).wait(timeout=10)
    before = emulator.status(emulator_dir)
    second, started = emulator.up(emulator_dir)
    assert started and second.instance_id != first.instance_id
    lost = emulator.lost_emulator(before, second, applied=["local"])
    assert lost is not None
    assert f"instance {first.instance_id}" in lost and "stack local" in lost
    assert "mlops local restore" in lost
    assert emulator.lost_emulator(emulator.status(emulator_dir), second, applied=["local"]) is None


def test_a_snapshot_restores_a_stacks_objects_and_items(emulated_clients: ClientFactory, tmp_path: Path) -> None:
    s3, dynamodb = emulated_clients.client("s3"), emulated_clients.client("dynamodb")
    bucket, table = f"snap-{uuid.uuid4().hex[:8]}", f"snap-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.parquet", Body=b"\x00\x01binary")
    s3.put_object(Bucket=bucket, Key="c.json", Body=b'{"x": 1}', ContentType="application/json")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "e1"}, "n": {"N": "3.5"}, "b": {"B": b"\x01"}})
    summary = snapshot(emulated_clients, tmp_path / "snap", buckets=[bucket], tables=[table])
    assert (summary.objects, summary.items) == (2, 1)

    for key in ("a/b.parquet", "c.json"):  # the emulator forgets them (a restart would)
        s3.delete_object(Bucket=bucket, Key=key)
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "e1"}})
    restored = restore(emulated_clients, tmp_path / "snap")
    assert (restored.objects, restored.items) == (2, 1)
    assert s3.get_object(Bucket=bucket, Key="a/b.parquet")["Body"].read() == b"\x00\x01binary"
    assert s3.get_object(Bucket=bucket, Key="c.json")["ContentType"] == "application/json"
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "e1"}})["Item"]
    assert item == {"pk": {"S": "e1"}, "n": {"N": "3.5"}, "b": {"B": b"\x01"}}


def test_the_marker_is_the_account_alias_and_a_server_marked_by_an_earlier_version_is_still_known(
    emulator_dir: Path,
) -> None:
    state, _ = emulator.up(emulator_dir)
    iam, ssm = emulator._client(state.endpoint_url, "iam"), emulator._client(state.endpoint_url, "ssm")
    assert iam.list_account_aliases()["AccountAliases"] == [emulator.ALIAS_PREFIX + str(state.instance_id)]
    # A server an earlier version started carries its id in an SSM parameter and no alias: still the same instance.
    iam.delete_account_alias(AccountAlias=emulator.ALIAS_PREFIX + str(state.instance_id))
    ssm.put_parameter(Name=emulator.LEGACY_PARAMETER, Value=str(state.instance_id), Type="String")
    assert emulator.instance_of(state.endpoint_url) == state.instance_id
    again, started = emulator.up(emulator_dir)
    assert not started and again.instance_id == state.instance_id
    ssm.delete_parameter(Name=emulator.LEGACY_PARAMETER)
    assert emulator.instance_of(state.endpoint_url) is None  # no marker at all: a wiped server
