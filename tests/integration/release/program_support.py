"""Plans of the real program for a stack with extra settings, from a copy of the repository's stack files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from infra.config import REPO_ROOT
from infra.plan import Plan, plan_stack


def stack_repo(root: Path) -> Path:
    """A repository holding the stack files, the pipeline definition, the datasets and the job scripts."""
    (root / "infra").mkdir(parents=True)
    for path in (REPO_ROOT / "infra").glob("Pulumi*.yaml"):
        shutil.copy(path, root / "infra" / path.name)
    (root / "pipelines" / "training").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pipelines/training/pipeline_definition.json", root / "pipelines/training")
    shutil.copytree(REPO_ROOT / "pipelines" / "datasets", root / "pipelines" / "datasets")
    shutil.copytree(REPO_ROOT / "jobs", root / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def plan_with(repo: Path, stack: str, settings: dict[str, Any] | None = None) -> Plan:
    """Plan ``stack`` with ``settings`` (``mlops-kit:`` keys without the prefix) added to its stack file."""
    path = repo / "infra" / f"Pulumi.{stack}.yaml"
    original = path.read_text()
    document = yaml.safe_load(original) or {}
    config = document.setdefault("config", {}) or {}
    config.update({f"mlops-kit:{key}": value for key, value in (settings or {}).items()})
    document["config"] = config
    path.write_text(yaml.safe_dump(document))
    try:
        return plan_stack(stack, repo)
    finally:
        path.write_text(original)


def inputs_of(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in plan.resources}
