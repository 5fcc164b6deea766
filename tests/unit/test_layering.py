"""Who may import whom: the core imports no capability, pipeline code never imports the Pulumi program, and the
serving image carries no training code. Checked on the source (every import statement, top level or not)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAPABILITIES = ("pipelines", "jobs", "serving", "monitoring", "infra")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def violations(package: str, forbidden: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(exclude):
            continue
        found.extend(f"{relative} imports {name}" for name in sorted(imported_packages(path) & set(forbidden)))
    return found


def test_the_core_imports_no_capability_only_the_cli_wires_them() -> None:
    assert violations("mlops", CAPABILITIES, exclude=("mlops/cli/",)) == []


@pytest.mark.parametrize("package", ["pipelines", "jobs", "serving", "monitoring"])
def test_pipeline_code_finds_resources_through_outputs_not_the_program(package: str) -> None:
    assert violations(package, ("infra", "pulumi", "pulumi_aws")) == []


def test_the_serving_image_carries_no_training_code() -> None:
    assert violations("serving", ("pipelines", "jobs", "monitoring")) == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipelines.training import steps\n    import infra.runner\n")
    assert imported_packages(module) == {"pipelines", "infra"}
