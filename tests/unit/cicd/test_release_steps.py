"""The release steps the workflows run: preview and its pull-request comment, waiting for the training pipeline,
the model gate, the smoke test, and the destroy arguments that keep the deploy identity."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from infra.config import REPO_ROOT
from infra.plan import plan_stack
from mlops.cli.main import app
from mlops.contracts import CHALLENGER, CHAMPION
from mlops.ports.endpoint import Invocation
from mlops.ports.model_registry import GateRejectedError, ModelVersionInfo
from mlops.ports.training import PipelineExecution
from mlops.release.destroy import destroy_excludes
from mlops.release.errors import ReleaseError
from mlops.release.preview import MAX_OUTPUT, Preview, comment_body, marker, run_preview, upsert_comment
from mlops.release.promotion import model_gate, smoke_test, wait_for_execution

FAKE_PULUMI = """#!/bin/sh
echo "args: $*"
echo "cwd: $(pwd)"
echo "  + aws:s3/bucket:Bucket datalake-raw create"
[ "$FAIL" = 1 ] && { echo "policy violation: [s3-bucket-encryption]" >&2; exit 255; }
exit 0
"""


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_preview_runs_pulumi_with_the_policy_pack_in_infra(fake_pulumi: Path, tmp_path: Path) -> None:
    out = tmp_path / "preview.md"
    result = CliRunner().invoke(
        app, ["release", "preview", "--stack", "staging", "--policy-pack", "infra/policypack", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    body = out.read_text()
    assert body.startswith(marker("staging"))
    assert "`pulumi preview` of stack `staging`: succeeded" in body
    assert f"preview --stack staging --diff --non-interactive --color never --policy-pack {Path.cwd()}" in body
    assert f"cwd: {REPO_ROOT / 'infra'}" in body
    assert "datalake-raw create" in body


def test_a_failed_preview_still_writes_its_comment_and_exits_1(
    fake_pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL", "1")
    out = tmp_path / "preview.md"
    result = CliRunner().invoke(app, ["release", "preview", "--stack", "prod", "--out", str(out)])
    assert result.exit_code == 1
    assert "failed (exit 255)" in out.read_text()
    assert "policy violation: [s3-bucket-encryption]" in out.read_text()
    assert run_preview("prod", REPO_ROOT / "infra").exit_code == 255


def test_a_long_diff_keeps_its_end() -> None:
    output = "x" * (MAX_OUTPUT + 10) + "\nResources: 3 to create"
    body = comment_body(Preview("dev", ["pulumi"], 0, output))
    assert f"({len(output) - MAX_OUTPUT} characters cut)" in body and body.rstrip().endswith("</details>")
    assert "Resources: 3 to create" in body and len(body) < 65_536


class FakeGitHub:
    """Issue comments of one pull request, as GitHub's REST API serves them (pages of 100)."""

    def __init__(self, comments: list[dict[str, Any]]) -> None:
        self.comments = comments
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        assert request.headers["Authorization"] == "Bearer t0ken"
        if request.method == "GET":
            page = int(request.url.params["page"])
            return httpx.Response(200, json=self.comments[(page - 1) * 100 : page * 100])
        body = json.loads(request.content)["body"]
        if request.method == "PATCH":
            comment_id = int(request.url.path.rsplit("/", 1)[1])
            found = next(c for c in self.comments if c["id"] == comment_id)
            found["body"] = body
            return httpx.Response(200, json=found)
        created = {"id": 1000 + len(self.comments), "body": body}
        self.comments.append(created)
        return httpx.Response(201, json=created)


def _client(github: FakeGitHub) -> httpx.Client:
    return httpx.Client(
        base_url="https://api.github.test",
        transport=httpx.MockTransport(github.handle),
        headers={"Authorization": "Bearer t0ken"},
    )


def test_the_comment_is_created_once_then_edited_in_place() -> None:
    others = [{"id": i, "body": f"review {i}"} for i in range(150)]
    github = FakeGitHub(others)
    first = upsert_comment(_client(github), "acme/kit", 7, f"{marker('dev')}\nfirst")
    second = upsert_comment(_client(github), "acme/kit", 7, f"{marker('dev')}\nsecond")
    assert first["id"] == second["id"] == 1150
    assert [c["body"] for c in github.comments if c["body"].startswith(marker("dev"))] == [f"{marker('dev')}\nsecond"]
    assert github.calls[-1] == "PATCH /repos/acme/kit/issues/comments/1150"


def test_the_comment_command_reads_the_workflow_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    github = FakeGitHub([])
    monkeypatch.setattr("mlops.release.preview.github_client", lambda token, api_url: _client(github))
    body = tmp_path / "preview.md"
    body.write_text(f"{marker('prod')}\ndiff")
    result = CliRunner().invoke(
        app,
        ["release", "comment", "--file", str(body), "--pr", "12"],
        env={"GITHUB_REPOSITORY": "acme/kit", "GITHUB_TOKEN": "t0ken"},
    )
    assert result.exit_code == 0, result.output
    assert github.calls == ["GET /repos/acme/kit/issues/12/comments", "POST /repos/acme/kit/issues/12/comments"]


def test_github_errors_and_unmarked_comments_are_refused() -> None:
    failing = httpx.Client(base_url="https://x", transport=httpx.MockTransport(lambda r: httpx.Response(403)))
    with pytest.raises(ReleaseError, match="listing comments of acme/kit#1 failed: GitHub answered 403"):
        upsert_comment(failing, "acme/kit", 1, f"{marker('dev')}\nbody")
    with pytest.raises(ReleaseError, match="must start with its marker"):
        upsert_comment(failing, "acme/kit", 1, "no marker")


def _execution(status: str) -> PipelineExecution:
    return PipelineExecution(arn="arn:exec/1", pipeline="p", status=status, parameters={})


class Runner:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def start(self, pipeline: str, parameters: Mapping[str, str], *, display_name: str = "") -> PipelineExecution:
        raise AssertionError("not started here")

    def describe(self, execution_arn: str) -> PipelineExecution:
        return _execution(self.statuses.pop(0))


def test_waiting_polls_until_the_execution_finishes_or_times_out() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    done = wait_for_execution(
        Runner(["Executing", "Succeeded"]),
        _execution("Executing"),
        timeout_seconds=100,
        poll_seconds=10,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert done.status == "Succeeded" and sleeps == [10, 10]
    with pytest.raises(ReleaseError, match=r"pipeline execution arn:exec/1 still Executing after 25s"):
        wait_for_execution(
            Runner(["Executing"] * 10),
            _execution("Executing"),
            timeout_seconds=25,
            poll_seconds=10,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert wait_for_execution(Runner([]), _execution("Failed"), timeout_seconds=0).status == "Failed"


def _version(version: int) -> ModelVersionInfo:
    return ModelVersionInfo("m", version, (), "", {}, {}, "", "", "")


@dataclass
class Registry:
    aliases: dict[str, int]

    def find(self, name: str, alias: str) -> ModelVersionInfo | None:
        return _version(self.aliases[alias]) if alias in self.aliases else None


def test_the_gate_promotes_a_winner_keeps_the_champion_otherwise_and_fails_with_nothing_to_serve() -> None:
    registry = Registry({CHAMPION: 1, CHALLENGER: 2})

    def wins() -> None:
        registry.aliases[CHAMPION] = 2

    promoted = model_gate(registry, "m", wins)
    assert (promoted.decision, promoted.champion_version, promoted.deploy) == ("promoted", 2, True)
    assert model_gate(registry, "m", wins).decision == "no-candidate"

    def loses() -> None:
        raise GateRejectedError("challenger v3 does not beat champion v2")

    registry.aliases[CHALLENGER] = 3
    kept = model_gate(registry, "m", loses)
    assert (kept.decision, kept.champion_version, kept.deploy) == ("kept", 2, False)
    assert "does not beat" in kept.detail
    with pytest.raises(ReleaseError, match="model gate of 'm': no champion"):
        model_gate(Registry({CHALLENGER: 1}), "m", loses)


class Endpoint:
    name = "ep"

    def __init__(self, body: bytes) -> None:
        self.body = body

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> Invocation:
        assert accept == "application/json"
        return Invocation(self.body, "application/json")


def test_the_smoke_test_wants_one_prediction_per_row() -> None:
    payload = (REPO_ROOT / ".github" / "smoke" / "card_transactions.json").read_bytes()
    result = smoke_test(Endpoint(b'{"predictions": [0, 1]}'), "ep", payload)
    assert (result.rows, result.predictions) == (2, 2)
    with pytest.raises(ReleaseError, match="smoke test of endpoint 'ep': 1 predictions for 2 rows"):
        smoke_test(Endpoint(b'{"predictions": [0]}'), "ep", payload)
    with pytest.raises(ReleaseError, match="the answer is not predictions"):
        smoke_test(Endpoint(b"<html>"), "ep", payload)


def test_destroy_keeps_the_deploy_identity_and_refuses_production() -> None:
    plan = plan_stack("dev", REPO_ROOT)
    arguments = destroy_excludes("dev", "mlops-kit", plan.resources)
    urns = arguments[1::2]
    assert set(arguments[::2]) == {"--exclude"}
    assert "urn:pulumi:dev::mlops-kit::mlops:cicd:CicdIdentity$aws:iam/role:Role::cicd-deploy-role" in urns
    assert "urn:pulumi:dev::mlops-kit::mlops:cicd:WorkloadBoundary$aws:iam/policy:Policy::boundary-policy" in urns
    assert not [u for u in urns if "sagemaker-role" in u or "datalake" in u]
    with pytest.raises(ReleaseError, match="stack 'prod' is protected"):
        destroy_excludes("prod", "mlops-kit", plan.resources)
