"""mypy reads only the Pulumi provider services listed in pyproject.toml (the rest of the providers' ~5,500
modules are skipped, as Any): every service the code uses must be on that list, or its calls go unchecked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROVIDERS = {"aws": "pulumi_aws", "gcp": "pulumi_gcp"}
MYPY = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def followed_modules() -> set[str]:
    """The provider modules an override section has mypy follow (``follow_imports = "normal"``)."""
    return {m for section in MYPY["overrides"] if section.get("follow_imports") == "normal" for m in section["module"]}


def used_services(source: str) -> set[str]:
    """``pulumi_aws.s3`` for ``aws.s3.Bucket`` (where ``import pulumi_aws as aws``) or ``from pulumi_aws.s3 import``."""
    used = {m.group(1) for m in re.finditer(r"^\s*from (pulumi_(?:aws|gcp)\.[a-z0-9_]+) import", source, re.M)}
    for alias, package in PROVIDERS.items():
        if re.search(rf"^\s*import {package} as {alias}\b", source, re.M):
            used |= {f"{package}.{m.group(1)}" for m in re.finditer(rf"(?<![\w.]){alias}\.([a-z][a-z0-9_]*)\.", source)}
    return used


def test_every_provider_service_the_code_uses_is_type_checked() -> None:
    followed = followed_modules()
    sources = [path for folder in MYPY["files"] for path in (ROOT / folder).rglob("*.py")]  # what mypy checks
    missing = {
        f"{service} ({path.relative_to(ROOT)})"
        for path in sources
        for service in used_services(path.read_text())
        if service not in followed or f"{service}.*" not in followed
    }
    assert not missing, f"add these to the follow_imports = 'normal' section of pyproject.toml: {sorted(missing)}"


def test_a_service_off_the_list_is_found() -> None:
    source = "import pulumi_aws as aws\n\naws.lambda_.Function('f')\naws.s3.BucketV2('b')\n"
    assert used_services(source) == {"pulumi_aws.lambda_", "pulumi_aws.s3"}
    assert "pulumi_aws.lambda_" not in followed_modules()
    assert used_services("from pulumi_gcp.storage import Bucket\n") == {"pulumi_gcp.storage"}
    kit_module = "import pulumi_gcp as gcp\nfrom infra.gcp.components.base import GcpIdentity\n"
    assert used_services(kit_module) == set(), "the kit's own infra.gcp package is not the provider"
