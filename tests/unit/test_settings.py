from __future__ import annotations

from pathlib import Path

import pytest

from mlops.errors import ConfigError
from mlops.settings import load_settings


def test_defaults_target_the_embedded_emulator_in_the_local_environment() -> None:
    settings = load_settings()
    assert settings.target == "moto"
    assert settings.environment == "local"
    assert settings.stack_name == "local"
    assert settings.resolved_outputs_file == Path(".mlops/outputs/local.json")


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_TARGET", "aws")
    monkeypatch.setenv("MLOPS_ENVIRONMENT", "staging")
    monkeypatch.setenv("MLOPS_REGION", "eu-west-1")
    settings = load_settings()
    assert (settings.target, settings.environment, settings.region) == ("aws", "staging", "eu-west-1")
    assert settings.stack_name == "staging"


def test_explicit_values_win_over_environment_and_none_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_TARGET", "aws")
    assert load_settings(target="localstack").target == "localstack"
    assert load_settings(target=None).target == "aws"


def test_invalid_target_names_the_field_the_variable_and_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_TARGET", "nonsense")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "'target'" in message
    assert "MLOPS_TARGET" in message
    assert "moto, localstack, aws" in message
    assert "'nonsense'" in message


def test_invalid_environment_lists_allowed_environments() -> None:
    with pytest.raises(ConfigError, match=r"allowed environments: local, dev, staging, prod"):
        load_settings(environment="qa")


def test_endpoint_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"'endpoint_url'.*http:// or https://"):
        load_settings(endpoint_url="localhost:4566")


def test_unknown_key_in_config_file_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mlops.yaml"
    config.write_text("target: localstack\nregoin: eu-west-1\n")
    monkeypatch.setenv("MLOPS_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match=r"'regoin'"):
        load_settings()


def test_config_file_is_read_and_environment_wins_over_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mlops.yaml"
    config.write_text("target: localstack\nregion: eu-west-1\n")
    monkeypatch.setenv("MLOPS_CONFIG_FILE", str(config))
    monkeypatch.setenv("MLOPS_REGION", "ap-south-1")
    settings = load_settings()
    assert settings.target == "localstack"
    assert settings.region == "ap-south-1"


def test_explicit_stack_and_outputs_file(tmp_path: Path) -> None:
    settings = load_settings(environment="prod", stack="prod-eu", outputs_file=tmp_path / "o.json")
    assert settings.stack_name == "prod-eu"
    assert settings.resolved_outputs_file == tmp_path / "o.json"
