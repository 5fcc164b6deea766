"""Small defects seen while trying the kit as a new user (issue 10, item 4): each one fails on the code before
its fix."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli import deploy as deploy_cli
from mlops.cli import main as cli_main
from mlops.cli.main import app
from mlops.errors import ConfigError, StackOutputError
from mlops.local.state import EmulatorState, write_state
from mlops.outputs import parse_outputs, write_outputs
from mlops.settings import load_settings
from tests.unit.test_outputs import complete_outputs


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"])
def test_real_region_names_are_accepted(region: str) -> None:
    assert load_settings(region=region).region == region


@pytest.mark.parametrize("region", ["mars", "us east 1", "US-EAST-1", "eu-central"])
def test_a_region_that_is_not_one_names_the_variable_and_the_shape(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    monkeypatch.setenv("MLOPS_REGION", region)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "MLOPS_REGION" in str(caught.value)
    assert "like us-east-1" in str(caught.value) and repr(region) in str(caught.value)


def test_an_error_message_with_brackets_prints_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(**_: object) -> None:
        raise ConfigError("name must match '^[a-z][a-z0-9_]*$' [see docs]")

    monkeypatch.setattr(cli_main, "app", failing)
    with pytest.raises(SystemExit):
        cli_main.main()
    printed = " ".join(capsys.readouterr().err.split())
    assert "name must match '^[a-z][a-z0-9_]*$' [see docs]" in printed


class _Endpoint:
    def __init__(self) -> None:
        self.content_types: list[str] = []

    def invoke(self, body: bytes, content_type: str, accept: str) -> Any:
        self.content_types.append(content_type)
        return type("Answer", (), {"body": b"[]"})()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("rows.csv", "text/csv"), ("rows.jsonl", "application/jsonlines"), ("rows.json", "application/json")],
)
def test_predict_takes_the_content_type_from_the_files_suffix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, expected: str
) -> None:
    endpoint = _Endpoint()
    platform = type("P", (), {"services": type("S", (), {"endpoint": endpoint})()})()
    context = type("C", (), {"platform": lambda _self: platform})()
    monkeypatch.setattr(deploy_cli, "cli_context", lambda _ctx: context)
    (tmp_path / name).write_text("a,b\n1,2\n")
    result = CliRunner().invoke(app, ["predict", str(tmp_path / name)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["predict", str(tmp_path / name), "--content-type", "text/plain"])
    assert endpoint.content_types == [expected, "text/plain"]  # an explicit type still wins


@pytest.fixture
def memory_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    outputs = tmp_path / "outputs.json"
    write_outputs(outputs, complete_outputs())
    monkeypatch.setenv("MLOPS_OUTPUTS_FILE", str(outputs))
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    for capability in ("object_store", "model_registry", "endpoint"):
        monkeypatch.setenv(f"MLOPS_SERVICES__{capability.upper()}__TYPE", "memory")
    return CliRunner()


def test_endpoint_status_and_model_list_print_their_answer_on_stdout(memory_cli: CliRunner) -> None:
    status = memory_cli.invoke(app, ["endpoint", "status"])
    assert status.exit_code == 0, status.output
    assert "nothing is deployed at endpoint" in status.stdout
    listed = memory_cli.invoke(app, ["model", "list", "card_transactions"])
    assert listed.exit_code == 0, listed.output
    assert "version" in listed.stdout and "aliases" in listed.stdout


def test_local_status_prints_its_answer_on_stdout(memory_cli: CliRunner) -> None:
    result = memory_cli.invoke(app, ["local", "status"])
    assert result.exit_code == 1  # not running
    assert "no emulator recorded" in result.stdout


def test_a_wrong_typed_output_is_reported_as_wrong_typed_not_missing() -> None:
    values = {**complete_outputs(), "glue_jobs": "curate"}
    with pytest.raises(StackOutputError) as caught:
        parse_outputs(values, "dev")
    message = str(caught.value)
    assert "missing" not in message
    assert message.startswith("stack output 'glue_jobs' of stack 'dev' has the wrong type: ")
    assert "got 'curate'" in message


def test_emulator_state_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    where = tmp_path / "state" / "emulator"
    write_state(where, EmulatorState(pid=1, host="127.0.0.1", port=5000, started_at=0.0))
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    for path in where.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads((where / "state.json").read_text())["port"] == 5000
