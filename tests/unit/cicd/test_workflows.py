"""The GitHub Actions workflows: actionlint, the release graph (prod needs staging needs dev, each in its
protected environment), minimal permissions, OIDC only, pinned actions, concurrency per environment, and
every step a command of this repository."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperGroup

from infra.components.cicd import preview_environment
from infra.config import REPO_ROOT
from mlops.cli.main import app
from mlops.datasets import find_definition

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
STACKS = ("dev", "staging", "prod")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
ASSUMES_ROLE = "aws-actions/configure-aws-credentials@"
PROMOTE_STEP = "Promote the version the previous environment's gate passed"
RECEIVE_STEP = "Receive the previous environment's outputs"


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """``on:`` (YAML 1.1 reads the bare key as ``True``)."""
    raw: Any = workflow
    triggers: dict[str, Any] = raw["on"] if "on" in raw else raw[True]
    return triggers


def _all() -> dict[str, dict[str, Any]]:
    return {path.name: _load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def test_actionlint_finds_nothing() -> None:
    actionlint = Path(sys.executable).parent / "actionlint"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 6
    done = subprocess.run([str(actionlint), *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_needs_staging_needs_dev_each_in_its_environment() -> None:
    jobs = _load("release.yml")["jobs"]
    assert jobs["prod"]["needs"] == "staging"
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["dev"]["needs"] == "images"
    assert jobs["images"]["needs"] == "test"
    for stack in STACKS:
        assert jobs[stack]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[stack]["with"]["environment"] == stack
    deploy = _load("deploy.yml")["jobs"]["deploy"]
    assert deploy["environment"] == "${{ inputs.environment }}"
    assert deploy["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}
    names = [step.get("name", "") for step in deploy["steps"]]
    order = ["Apply the stack", "Run the training pipeline to its end", "Model gate", "Smoke-test the endpoint"]
    assert [n for n in names if n in order] == order
    gated = next(step for step in deploy["steps"] if step.get("name") == "Deploy the new champion")
    assert gated["if"] == "steps.gate.outputs.deploy == 'true'"


def test_staging_and_prod_receive_the_version_the_previous_environment_gated_instead_of_training() -> None:
    jobs = _load("release.yml")["jobs"]
    assert "promote-from" not in jobs["dev"]["with"]
    assert jobs["staging"]["with"]["promote-from"] == "dev"
    assert jobs["prod"]["with"]["promote-from"] == "staging"
    deploy = _load("deploy.yml")
    assert _triggers(deploy)["workflow_call"]["inputs"]["promote-from"]["default"] == ""
    steps = {step.get("name", ""): step for step in deploy["jobs"]["deploy"]["steps"]}
    names = list(steps)
    train, promote = steps["Run the training pipeline to its end"], steps[PROMOTE_STEP]
    assert (train["if"], promote["if"]) == ("inputs.promote-from == ''", "inputs.promote-from != ''")
    assert '--from-stack "${{ inputs.promote-from }}"' in promote["run"]
    # the previous environment's outputs arrive as its job's artifact (names and ARNs; no credential crosses),
    # before the promotion reads them from the kit's default place (.mlops/outputs/<stack>.json)
    handed, received = steps["Hand the outputs to the next environment"], steps[RECEIVE_STEP]
    assert handed["with"]["name"] == "stack-outputs-${{ inputs.environment }}"
    assert handed["with"]["path"] == ".mlops/outputs/${{ inputs.environment }}.json"
    assert handed["with"]["retention-days"] == 30, "kept while the next environment's reviewers may take"
    assert received["with"] == {"name": "stack-outputs-${{ inputs.promote-from }}", "path": ".mlops/outputs"}
    assert received["if"] == promote["if"]
    order = ["Apply the stack", "Hand the outputs to the next environment", RECEIVE_STEP, PROMOTE_STEP, "Model gate"]
    assert [n for n in names if n in order] == order


def test_every_job_has_minimal_permissions_and_id_token_only_where_it_assumes_a_role() -> None:
    for name, workflow in _all().items():
        assert workflow["permissions"] == {}, f"{name}: the default token gets no permission"
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{name}/{job_name} declares its permissions"
            assert set(permissions.values()) <= {"read", "write"}
            assumes = any(str(s.get("uses", "")).startswith(ASSUMES_ROLE) for s in job.get("steps", []))
            calls_deploy = job.get("uses") == "./.github/workflows/deploy.yml"
            assert (permissions.get("id-token") == "write") == (assumes or calls_deploy), f"{name}/{job_name}"
            writes = {k for k, v in permissions.items() if v == "write"} - {"id-token"}
            assert writes <= {"pull-requests"}, f"{name}/{job_name} writes {writes}"
            if "pull-requests" in writes:
                assert any("mlops release comment" in str(s.get("run", "")) for s in job["steps"])


def test_roles_are_assumed_only_from_the_environment_their_trust_names() -> None:
    for name, workflow in _all().items():
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if not str(step.get("uses", "")).startswith(ASSUMES_ROLE):
                    continue
                environment = job.get("environment")
                role = step["with"]["role-to-assume"]
                assert set(step["with"]) == {"role-to-assume", "aws-region"}, "OIDC only: no keys"
                if role == "${{ vars.AWS_PREVIEW_ROLE_ARN }}":
                    assert environment == preview_environment("${{ matrix.stack }}"), f"{name}/{job_name}"
                else:
                    assert role == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
                    assert environment == "${{ inputs.environment }}", f"{name}/{job_name}"
                    assert job["concurrency"]["group"] == "deploy-${{ inputs.environment }}"


def test_no_long_lived_secret_and_every_action_pinned_by_commit() -> None:
    for name in sorted(p.name for p in WORKFLOWS.glob("*.yml")):
        text = (WORKFLOWS / name).read_text()
        assert "secrets." not in text, f"{name} reads a stored secret"
        assert "aws-access-key-id" not in text and "PULUMI_ACCESS_TOKEN" not in text
    for name, workflow in _all().items():
        for job_name, step in _steps(workflow):
            uses = step.get("uses")
            if uses:
                assert PINNED.match(uses), f"{name}/{job_name}: {uses} is not pinned by commit SHA"


def test_only_destroy_of_non_production_stacks() -> None:
    destroy = _load("destroy.yml")
    assert _triggers(destroy)["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "staging"]
    runs = [str(step.get("run", "")) for _, step in _steps(destroy)]
    assert any("mlops release destroy-args" in run for run in runs)
    rollback = _load("rollback.yml")
    assert _triggers(rollback)["workflow_dispatch"]["inputs"]["environment"]["options"] == list(STACKS)
    assert list(_triggers(_load("release.yml"))) == ["push"]
    assert _triggers(_load("release.yml"))["push"] == {"branches": ["main"]}


def _mlops_commands(run: str) -> Iterator[list[str]]:
    for line in run.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\|", line):
            words = shlex.split(part.strip(), posix=True) if part.strip() else []
            if words[:1] == ["mlops"]:
                yield words[1:]


ALLOWED_RUNS = (
    "./scripts/test.sh",
    "bash scripts/bootstrap.sh",
    "mlops ",
    "pulumi ",
    "docker build",
    "mkdir -p ../.mlops/outputs",
    "mapfile -t keep",
    "exit 1",
)


@pytest.mark.parametrize(
    "name", ["pull-request.yml", "release.yml", "deploy.yml", "rollback.yml", "destroy.yml", "retrained.yml"]
)
def test_steps_are_commands_of_this_repository(name: str) -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    context = typer.Context(root)
    for job_name, step in _steps(_load(name)):
        run = step.get("run")
        if run is None:
            continue
        for raw_line in str(run).strip().splitlines():
            line = raw_line.strip()
            if line and not line.startswith(("--", "mlops ")) and not line.endswith("\\"):
                assert line.startswith(ALLOWED_RUNS), f"{name}/{job_name}: {line}"
        for words in _mlops_commands(str(run)):
            command = root.get_command(context, words[0])
            assert command is not None, f"{name}/{job_name}: mlops {words[0]} does not exist"
            if isinstance(command, TyperGroup):
                sub = command.get_command(context, words[1])
                assert sub is not None, f"{name}/{job_name}: mlops {words[0]} {words[1]} does not exist"


def test_the_smoke_payload_carries_exactly_the_dataset_s_features() -> None:
    import json

    for payload in (REPO_ROOT / ".github" / "smoke").glob("*.json"):
        definition = find_definition(payload.stem, REPO_ROOT / "pipelines" / "datasets")
        records = json.loads(payload.read_text())["dataframe_records"]
        assert records
        assert all(sorted(r) == sorted(f.name for f in definition.features) for r in records)


def test_what_eventbridge_dispatches_is_what_the_retrained_workflow_takes() -> None:
    """The API destination's body (infra/components/retrain_dispatch.py) names the workflow's inputs, in every
    environment it offers; the workflow gates before it deploys, and deploys and smoke-tests only a winner."""
    from infra.components.retrain_dispatch import WORKFLOW, dispatch_template, dispatch_url

    workflow = _load(WORKFLOW)
    declared = _triggers(workflow)["workflow_dispatch"]["inputs"]
    assert declared["environment"]["options"] == list(STACKS)
    for environment in STACKS:
        body = json.loads(dispatch_template(environment, "diabetes", "main").replace("<execution>", '"arn:x"'))
        assert body == {
            "ref": "main",
            "inputs": {"environment": environment, "dataset": "diabetes", "execution": "arn:x"},
        }
        assert set(body["inputs"]) == set(declared)
    assert dispatch_url("org/repo") == f"https://api.github.com/repos/org/repo/actions/workflows/{WORKFLOW}/dispatches"
    job = workflow["jobs"]["follow-retrain"]
    names = [step.get("name", "") for step in job["steps"]]
    assert names.index("Model gate") < names.index("Deploy the new champion") < names.index("Smoke-test the endpoint")
    for step in job["steps"]:
        if step.get("name") in ("Deploy the new champion", "Smoke-test the endpoint"):
            assert step["if"] == "steps.gate.outputs.deploy == 'true'"
    assert not any("release train" in str(step.get("run", "")) for step in job["steps"]), "it trains nothing"
