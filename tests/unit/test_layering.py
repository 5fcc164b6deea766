"""Who may import and call whom. Checked on the source (every import statement, top level or not, every call):

- the core (``mlops/``) imports no capability package; only the CLI wires them;
- only the AWS adapters (``mlops/adapters/aws/``) and the local runtime (``mlops/local/``) import boto3/botocore
  or create a client (``.client(``); only the GCP adapters (``mlops/adapters/gcp/``) and the local runtime import
  Google's client libraries (``google.cloud``, ``google.api_core``, ``google.auth``);
- only the wiring (``mlops/wiring.py``), the CLI and the local runtime itself import the local runtime;
- only the wiring chooses an implementation by target (no ``settings.target ==`` elsewhere, but for the AWS
  client factory, which picks credentials, and the settings themselves);
- capability code spells no ``s3://`` or ``gs://`` URI: every location comes from ``mlops.layout``;
- pipeline code never imports the Pulumi program; the serving image carries no training, job or monitoring
  code; monitoring imports no training or registry internals.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPABILITIES = ("pipelines", "jobs", "serving", "monitoring", "infra")
PRODUCTION = ("mlops", "pipelines", "jobs", "serving", "monitoring", "infra")
CLOUD_SDK = ("boto3", "botocore")
SDK_ALLOWED = ("mlops/adapters/aws/", "mlops/local/")
GCP_SDK = ("google.cloud", "google.api_core", "google.auth")
GCP_SDK_ALLOWED = ("mlops/adapters/gcp/", "mlops/local/")
LOCAL_ALLOWED = ("mlops/local/", "mlops/wiring.py", "mlops/cli/")
TARGET_CHOICE_ALLOWED = (
    "mlops/wiring.py",
    "mlops/settings.py",
    "mlops/adapters/aws/clients.py",
    "mlops/adapters/gcp/clients.py",
    "mlops/local/",
)
URI_SCHEMES = ("s3://", "gs://")
URI_ALLOWED = ("mlops/layout.py", "mlops/adapters/", "mlops/local/", "mlops/cli/", "infra/")  # the CLI: help texts
_TARGET_CHOICE = re.compile(r"\.target\s*(==|!=|\bin\b|\bnot in\b)")


def sources(root: Path, packages: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            yield path.relative_to(root).as_posix(), path


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement names (``a.b.c`` for ``from a.b import c`` too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


def client_calls(path: Path) -> list[int]:
    """Lines calling a method named ``client`` (boto3's client constructor: ``session.client("s3")``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
    ]


def string_constants(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def import_violations(
    root: Path, packages: tuple[str, ...], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    """Modules of ``packages`` (outside ``allowed`` paths) importing a module under any ``forbidden`` prefix."""
    found: list[str] = []
    for relative, path in sources(root, packages):
        if relative.startswith(allowed):
            continue
        for name in sorted(imported_modules(path)):
            if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden):
                found.append(f"{relative} imports {name}")
    return found


def client_violations(root: Path) -> list[str]:
    return [
        f"{relative}:{line} creates a cloud client"
        for relative, path in sources(root, PRODUCTION)
        if not relative.startswith(SDK_ALLOWED)
        for line in client_calls(path)
    ]


def target_choice_violations(root: Path) -> list[str]:
    found: list[str] = []
    for relative, path in sources(root, PRODUCTION):
        if relative.startswith(TARGET_CHOICE_ALLOWED):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _TARGET_CHOICE.search(line.split("#", 1)[0]):
                found.append(f"{relative}:{number} chooses by target: {line.strip()}")
    return found


def uri_violations(root: Path) -> list[str]:
    found: list[str] = []
    for relative, path in sources(root, PRODUCTION):
        if relative.startswith(URI_ALLOWED):
            continue
        for line, value in string_constants(path):
            # docstrings describe the layout; code must not build it
            for scheme in URI_SCHEMES:
                if scheme in value and not _in_docstring(path, line):
                    found.append(f"{relative}:{line} spells a URI of scheme {scheme}")
    return found


def _in_docstring(path: Path, line: int) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = node.body[0] if node.body else None
            if (
                isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
                and doc.lineno <= line <= (doc.end_lineno or doc.lineno)
            ):
                return True
    return False


def test_the_core_imports_no_capability_only_the_cli_wires_them() -> None:
    assert import_violations(ROOT, ("mlops",), CAPABILITIES, allowed=("mlops/cli/",)) == []


def test_only_the_aws_adapters_and_the_local_runtime_import_the_cloud_sdk() -> None:
    assert import_violations(ROOT, PRODUCTION, CLOUD_SDK, allowed=SDK_ALLOWED) == []


def test_only_the_gcp_adapters_and_the_local_runtime_import_googles_client_libraries() -> None:
    assert import_violations(ROOT, PRODUCTION, GCP_SDK, allowed=GCP_SDK_ALLOWED) == []


def test_only_the_aws_adapters_and_the_local_runtime_create_clients() -> None:
    assert client_violations(ROOT) == []


def test_only_the_wiring_and_the_cli_import_the_local_runtime() -> None:
    assert import_violations(ROOT, PRODUCTION, ("mlops.local",), allowed=LOCAL_ALLOWED) == []


def test_only_the_wiring_chooses_an_implementation_by_target() -> None:
    assert target_choice_violations(ROOT) == []


def test_locations_come_from_the_layout_not_from_spelled_uris() -> None:
    assert uri_violations(ROOT) == []


@pytest.mark.parametrize("package", ["pipelines", "jobs", "serving", "monitoring"])
def test_pipeline_code_finds_resources_through_outputs_not_the_program(package: str) -> None:
    assert import_violations(ROOT, (package,), ("infra", "pulumi", "pulumi_aws")) == []


def test_the_serving_image_carries_no_training_code() -> None:
    assert import_violations(ROOT, ("serving",), ("pipelines", "jobs", "monitoring")) == []


def test_monitoring_imports_no_training_or_registry_internals() -> None:
    assert import_violations(ROOT, ("monitoring",), ("pipelines.training", "pipelines.registry")) == []


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A tree with one violation of each rule, to show every check can fail."""
    for package in PRODUCTION:
        (tmp_path / package).mkdir()
    (tmp_path / "pipelines" / "bad.py").write_text(
        "import boto3\n"
        "from mlops.local.glue_runner import run_job\n"
        "def f(settings, platform):\n"
        "    s3 = boto3.session.Session().client('s3')\n"
        "    if settings.target == 'aws':\n"
        "        return 's3://bucket/key'\n"
        "    from pipelines.training import steps\n"
        "    from google.cloud import storage\n"
        "    return 'gs://bucket/key'\n"
    )
    (tmp_path / "monitoring" / "bad.py").write_text("from pipelines.training.steps import evaluate\n")
    (tmp_path / "mlops" / "core.py").write_text('"""Docstrings may show s3://bucket/key."""\nimport serving\n')
    return tmp_path


def test_every_rule_fires_on_a_planted_violation(planted: Path) -> None:
    assert import_violations(planted, PRODUCTION, CLOUD_SDK, allowed=SDK_ALLOWED) == ["pipelines/bad.py imports boto3"]
    assert import_violations(planted, PRODUCTION, ("mlops.local",), allowed=LOCAL_ALLOWED) == [
        "pipelines/bad.py imports mlops.local.glue_runner",
        "pipelines/bad.py imports mlops.local.glue_runner.run_job",
    ]
    assert client_violations(planted) == ["pipelines/bad.py:4 creates a cloud client"]
    assert target_choice_violations(planted) == ["pipelines/bad.py:5 chooses by target: if settings.target == 'aws':"]
    assert sorted(uri_violations(planted)) == [
        "pipelines/bad.py:6 spells a URI of scheme s3://",
        "pipelines/bad.py:9 spells a URI of scheme gs://",
    ]
    assert import_violations(planted, PRODUCTION, GCP_SDK, allowed=GCP_SDK_ALLOWED) == [
        "pipelines/bad.py imports google.cloud",
        "pipelines/bad.py imports google.cloud.storage",
    ]
    assert import_violations(planted, ("monitoring",), ("pipelines.training",)) == [
        "monitoring/bad.py imports pipelines.training.steps",
        "monitoring/bad.py imports pipelines.training.steps.evaluate",
    ]
    assert import_violations(planted, ("mlops",), CAPABILITIES) == ["mlops/core.py imports serving"]


def test_imported_packages_sees_nested_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipelines.training import steps\n    import infra.runner\n")
    assert imported_packages(module) == {"pipelines", "infra"}
