"""Per-stack local state: the stacks applied to the emulator are those with a ledger next to their outputs;
a reset forgets all of them and leaves cloud stacks' outputs; `mlops local status --stack S` reads stack S."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local.state import applied_stacks, forget_applied_stacks


def _applied(outputs: Path, stack: str) -> None:
    (outputs / f"{stack}.json").write_text(json.dumps({"stack": stack}))
    (outputs / f"{stack}.resources.json").write_text(json.dumps({"stack": stack, "resources": []}))


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    directory = tmp_path / "outputs"
    directory.mkdir()
    for stack in ("prod", "dev", "staging"):
        _applied(directory, stack)
    (directory / "aws-dev.json").write_text("{}")  # `pulumi stack output --json` of a cloud stack: no ledger
    return directory


def test_applied_stacks_are_those_with_a_ledger(outputs: Path, tmp_path: Path) -> None:
    assert applied_stacks(outputs) == ["dev", "prod", "staging"]
    assert applied_stacks(tmp_path / "missing") == []


def test_forgetting_removes_every_applied_stack_and_keeps_cloud_outputs(outputs: Path) -> None:
    assert forget_applied_stacks(outputs) == ["dev", "prod", "staging"]
    assert sorted(path.name for path in outputs.iterdir()) == ["aws-dev.json"]
    assert forget_applied_stacks(outputs) == []


def test_local_status_reads_the_stack_given_by_its_own_option(outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_STATE_DIR", str(outputs.parent))
    result = CliRunner().invoke(app, ["local", "status", "--stack", "staging", "--json"])
    assert result.exit_code == 1  # no emulator runs from this state dir
    report = json.loads(result.stdout)
    assert report["stack"] == "staging"
    assert report["outputs_file"] == str(outputs / "staging.json")
    assert report["applied_stacks"] == ["dev", "prod", "staging"]
