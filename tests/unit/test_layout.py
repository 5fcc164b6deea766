"""The repository's shape: what is packaged, and the LocalStack folder that must stay configuration only."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_localstack_folder_is_not_an_importable_package() -> None:
    folder = ROOT / "localstack"
    assert folder.is_dir()
    assert not list(folder.rglob("*.py")), "a .py file would make `localstack` look importable"
    packaged = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "localstack" not in packaged["packages"]


def test_localstack_compose_is_pinned_to_the_last_tokenless_image_on_loopback() -> None:
    compose = yaml.safe_load((ROOT / "localstack" / "docker-compose.yml").read_text())
    service = compose["services"]["localstack"]
    assert service["image"] == "localstack/localstack:4.14.0"
    assert service["ports"] == ["127.0.0.1:4566:4566"]


def test_every_top_level_capability_directory_exists() -> None:
    for name in ("infra", "pipelines", "jobs", "serving", "monitoring", "localstack", "tests", "mlops"):
        assert (ROOT / name).is_dir(), name
