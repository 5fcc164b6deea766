"""`mlops deploy`, `mlops predict` and `mlops endpoint status/stop` on the session's emulator: the commands get
their ports from the wiring and print what the ports answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointNotFoundError
from tests.unit.serving.model_support import DATASET, train_and_register

pytestmark = [pytest.mark.emulator, pytest.mark.server]


def _mlops(state_dir: Path, *args: str, expect: int = 0) -> Any:
    env = {"MLOPS_STATE_DIR": str(state_dir), "MLOPS_TARGET": "moto", "MLOPS_STACK": "local"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == expect, result.output
    return result


def test_deploy_predict_status_and_stop(platform: Platform, emulator_state_dir: Path, tmp_path: Path) -> None:
    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    registered = train_and_register(tracking_dir)
    try:
        deployed = json.loads(_mlops(emulator_state_dir, "deploy", DATASET, "--json").stdout)
        assert deployed["endpoint"] == platform.outputs.endpoint_name
        assert (deployed["version"], deployed["status"]) == (registered.version, "InService")
        assert deployed["model"] == f"{platform.outputs.sagemaker_model_name}-v{registered.version}"

        payload = tmp_path / "request.csv"
        payload.write_text(registered.sample.to_csv(index=False))
        answer = _mlops(
            emulator_state_dir, "predict", str(payload), "--content-type", "text/csv", "--accept", "text/csv"
        )
        assert len(answer.stdout.splitlines()) == len(registered.sample)

        status = json.loads(_mlops(emulator_state_dir, "endpoint", "status", "--json").stdout)
        assert (status["pid"], status["version"], status["status"]) == (
            deployed["pid"],
            registered.version,
            "InService",
        )
    finally:
        stopped = json.loads(_mlops(emulator_state_dir, "endpoint", "stop", "--json").stdout)
    assert (stopped["pid"], stopped["status"]) == (deployed["pid"], "Stopped")
    assert json.loads(_mlops(emulator_state_dir, "endpoint", "status", "--json").stdout) is None
    # the root's main() prints the kit's errors and exits 2; CliRunner calls the app below it and keeps the error
    refused = _mlops(emulator_state_dir, "predict", str(payload), "--content-type", "text/csv", expect=1)
    assert isinstance(refused.exception, EndpointNotFoundError)
    assert str(refused.exception).startswith(f"endpoint '{platform.outputs.endpoint_name}' is not deployed")
