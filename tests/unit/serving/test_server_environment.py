"""A local model server is started with its platform's state dir, wherever the settings took it from: the warm
command server that forks it is the one of that state dir (before, a state dir from the config file left the
server looking in `.mlops` of the current directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.local import endpoint_runner
from mlops.ports.hosting import Container
from mlops.settings import load_settings
from mlops.wiring import build_platform
from tests.unit.serving.test_deploy import OUTPUTS


def test_the_servers_environment_names_the_platforms_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_STATE_DIR", raising=False)
    config = tmp_path / "mlops.yaml"
    config.write_text(f"state_dir: {tmp_path / 'elsewhere'}\n")
    monkeypatch.setenv("MLOPS_CONFIG_FILE", str(config))
    settings = load_settings(target="moto", endpoint_url="http://127.0.0.1:1")
    assert settings.state_dir == tmp_path / "elsewhere"
    env = endpoint_runner._server_env(build_platform(settings, OUTPUTS), Container("serving", {"A": "1"}))
    assert env["MLOPS_STATE_DIR"] == str((tmp_path / "elsewhere").resolve())
    assert env["A"] == "1"
