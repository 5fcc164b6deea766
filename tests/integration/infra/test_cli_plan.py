"""`mlops infra plan`: JSON on stdout for scripts, a table for people, kit errors as one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlops.cli.context import console
from mlops.cli.main import app
from mlops.errors import ConfigError

pytestmark = pytest.mark.pulumi


def test_plan_json_for_prod_lists_components_and_outputs() -> None:
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "prod", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stack"] == "prod"
    assert document["component_count"] == 12
    assert document["outputs"]["endpoint_name"] == "mlops-kit-prod-endpoint"
    endpoint = next(r for r in document["resources"] if r["name"] == "serving-endpoint")
    assert endpoint["type"] == "aws:sagemaker/endpoint:Endpoint"
    assert endpoint["key_inputs"]["name"] == "mlops-kit-prod-endpoint"


def test_full_plan_carries_every_input_unabridged() -> None:
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "prod", "--json", "--full"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    role = next(r for r in document["resources"] if r["name"] == "training-sagemaker-role")
    assert role["id"] == "mlops-kit-prod-sagemaker-role"
    assert role["arn"] == "arn:aws:iam::123456789012:role/mlops-kit-prod-sagemaker-role"
    assert json.loads(role["inputs"]["assumeRolePolicy"]) == role["documents"]["assumeRolePolicy"]
    config = next(r for r in document["resources"] if r["name"] == "serving-endpoint-config")
    assert config["inputs"]["dataCaptureConfig"]["captureOptions"] == [
        {"captureMode": "Input"},
        {"captureMode": "Output"},
    ]
    assert config["property_dependencies"]["kmsKeyArn"] == ["security-key"]
    assert "<dict>" not in result.stdout
    assert not any(
        str(v).startswith("<") and str(v).endswith(" chars>")
        for r in document["resources"]
        for v in r["inputs"].values()
    )


def test_full_needs_json() -> None:
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "dev", "--full"])
    assert result.exit_code != 0
    assert "--full" in result.output


def test_plan_defaults_to_the_global_env() -> None:
    result = CliRunner().invoke(app, ["--env", "staging", "infra", "plan", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"]["stream_name"] == "mlops-kit-staging-events"


def test_plan_table_names_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 250)
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "dev"])
    assert result.exit_code == 0, result.output
    assert "stack dev:" in result.output
    assert "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer" in result.output


def test_unknown_stack_is_a_config_error() -> None:
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "qa", "--json"])
    assert isinstance(result.exception, ConfigError)
    assert "no stack file" in str(result.exception)
    assert "known stacks: dev, gcp-dev, gcp-local, gcp-prod, gcp-staging, local, prod, staging" in str(result.exception)
