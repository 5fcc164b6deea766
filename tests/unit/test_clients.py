from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.aws.clients import ClientFactory, utc_timestamp
from mlops.errors import EmulatorError
from mlops.local.state import EmulatorState, write_state
from mlops.settings import load_settings
from mlops.wiring import client_factory


def test_moto_target_without_a_running_emulator_says_how_to_start_it(tmp_path: Path) -> None:
    factory = client_factory(load_settings(state_dir=tmp_path))
    with pytest.raises(EmulatorError, match=r"not running.*mlops local up"):
        _ = factory.endpoint_url


def test_moto_target_uses_the_recorded_emulator(tmp_path: Path) -> None:
    write_state(tmp_path / "emulator", EmulatorState(pid=1, host="127.0.0.1", port=4999, started_at=time.time()))
    factory = client_factory(load_settings(state_dir=tmp_path))
    assert factory.endpoint_url == "http://127.0.0.1:4999"
    s3 = factory.client("s3")
    assert s3.meta.endpoint_url == "http://127.0.0.1:4999"
    assert s3.meta.config.retries["mode"] == "standard"
    assert factory.client("s3") is s3, "clients are cached per service"


def test_localstack_target_follows_localstack_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_HOST", "ls.internal:4577")
    factory = ClientFactory(load_settings(target="localstack"))
    assert factory.endpoint_url == "http://ls.internal:4577"
    assert factory.credentials() == {"access_key": "test", "secret_key": "test"}


def test_explicit_endpoint_wins_for_any_target() -> None:
    factory = ClientFactory(load_settings(target="aws", endpoint_url="https://vpce.example:443"))
    assert factory.endpoint_url == "https://vpce.example:443"


def test_aws_target_uses_aws_endpoints_and_no_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    factory = ClientFactory(load_settings(target="aws", region="eu-west-1"))
    assert factory.endpoint_url is None
    assert factory.client("sts").meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
    env = factory.subprocess_env()
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "AWS_ENDPOINT_URL" not in factory.storage_options()


def test_emulated_targets_hand_the_same_endpoint_to_every_consumer(tmp_path: Path) -> None:
    factory = ClientFactory(load_settings(endpoint_url="http://127.0.0.1:5001"))
    env = factory.subprocess_env()
    assert env["AWS_ENDPOINT_URL"] == env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:5001"
    options = factory.storage_options()
    assert options["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5001"
    assert options["AWS_ALLOW_HTTP"] == "true"
    filesystem = factory.arrow_filesystem()
    assert filesystem.region == "us-east-1"


def test_no_client_is_created_before_first_use(tmp_path: Path) -> None:
    factory = client_factory(load_settings(state_dir=tmp_path))
    assert factory._clients == {}


def test_aws_target_without_credentials_says_how_to_provide_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlops.errors import CredentialsError

    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    factory = ClientFactory(load_settings(target="aws"))
    with pytest.raises(CredentialsError, match=r"no AWS credentials found for the aws target: set MLOPS_AWS_PROFILE"):
        factory.credentials()


def _parsed_records(factory: ClientFactory, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A GetRecords answer parsed as the factory's Kinesis client parses it."""
    client = factory.client("kinesis")
    output = client.meta.service_model.operation_model("GetRecords").output_shape
    parser = factory.session._session.get_component("response_parser_factory").create_parser("json")
    parsed = parser.parse({"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}, output)
    records: list[dict[str, Any]] = parsed["Records"]
    return records


def test_the_factorys_clients_read_epoch_timestamps_as_utc_datetimes_of_the_same_instant(tmp_path: Path) -> None:
    write_state(tmp_path / "emulator", EmulatorState(pid=1, host="127.0.0.1", port=4999, started_at=time.time()))
    factory = client_factory(load_settings(state_dir=tmp_path))
    record = {"SequenceNumber": "1", "Data": "e30=", "PartitionKey": "k", "ApproximateArrivalTimestamp": 1796063798.838}
    (parsed,) = _parsed_records(factory, {"Records": [record], "MillisBehindLatest": 0})
    stamp = parsed["ApproximateArrivalTimestamp"]
    assert stamp.tzinfo is UTC  # not botocore's local zone, built anew for every value
    assert stamp == datetime(2026, 11, 30, 18, 36, 38, 838000, tzinfo=UTC)
    assert utc_timestamp("2026-11-30T18:36:38.838Z") == stamp  # text goes to botocore's parser
    assert utc_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
