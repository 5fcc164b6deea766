"""`mlops local up/status` against the session's emulator, and the errors an apply reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from typer.testing import CliRunner

from mlops.adapters.aws.clients import ClientFactory
from mlops.cli.main import app
from mlops.errors import UnsupportedResourceError
from mlops.local.apply.engine import apply_stack
from mlops.local.apply.ledger import ledger_path, read_ledger
from mlops.platform import Platform
from mlops.settings import load_settings
from mlops.wiring import client_factory
from tests.integration.local_apply.sample_program import run_under_mocks
from tests.support.session_cli import session_env

pytestmark = [pytest.mark.emulator, pytest.mark.pulumi]


def _cli(state_dir: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["local", *args, "--json"], env=session_env(state_dir))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_up_again_reuses_the_emulator_and_every_resource(platform: Platform, emulator_state_dir: Path) -> None:
    payload = _cli(emulator_state_dir, "up")
    assert payload["emulator"] == "reused"
    apply = payload["apply"]
    skipped = apply["counts"]["skipped"]  # declared but not sent: moto cannot honour them
    # The catalog's encryption is one setting per account: another stack applied to this session's emulator (the
    # sample program's) may have set its own since, and then `up` puts the platform's back. Nothing else changes.
    ledger = read_ledger(ledger_path(Path(apply["outputs_file"])))
    assert ledger is not None
    updated = [entry["type"] for entry in ledger["resources"] if entry["outcome"] == "updated"]
    assert updated in ([], ["aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"])
    reused = apply["resources"] - skipped - len(updated)
    assert apply["counts"] == {"created": 0, "reused": reused, "updated": len(updated), "skipped": skipped}
    assert apply["outputs_file"] == str(emulator_state_dir / "outputs" / "local.json")


def test_status_lists_resources_by_type(platform: Platform, emulator_state_dir: Path) -> None:
    payload = _cli(emulator_state_dir, "status")
    assert payload["health"] == "running"
    assert payload["outputs_file"] == str(emulator_state_dir / "outputs" / "local.json")
    by_type = payload["resources_by_type"]
    assert by_type["aws:s3/bucket:Bucket"] == 8
    assert by_type["aws:kms/key:Key"] == 1
    assert payload["resources"] == sum(by_type.values())


def _program_with_an_internet_gateway() -> dict[str, Any]:
    topic = aws.sns.Topic("ok-topic", name="t-unsupported-ok")
    gateway = aws.ec2.InternetGateway("way-out")
    return {"topic": topic.arn, "gateway": gateway.id}


def test_unhandled_type_fails_naming_it_and_writes_no_outputs(emulator_state_dir: Path, tmp_path: Path) -> None:
    endpoint = client_factory(load_settings(target="moto", state_dir=emulator_state_dir)).endpoint_url
    settings = load_settings(target="moto", state_dir=tmp_path, endpoint_url=endpoint, stack="broken")

    def runner(stack: str, mocks: pulumi.runtime.Mocks, repo_root: Path) -> dict[str, Any]:
        return run_under_mocks(_program_with_an_internet_gateway, stack, mocks)

    with pytest.raises(UnsupportedResourceError) as caught:
        apply_stack(settings, ClientFactory(settings), tmp_path, runner=runner)
    assert (caught.value.type_token, caught.value.logical_name) == (
        "aws:ec2/internetGateway:InternetGateway",
        "way-out",
    )
    assert not settings.resolved_outputs_file.exists()
