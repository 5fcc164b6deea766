"""The release rehearsal's sequence (mlops/release/rehearsal.py) with recording actions: the workflows' order per
stack, the deploy skipped when the gate keeps the champion, the first failure stopping the rehearsal and named
(phase, step, stack, command), and the commands mirroring deploy.yml and rollback.yml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops.release.errors import ReleaseError
from mlops.release.promotion import Decision, GateOutcome
from mlops.release.rehearsal import RehearsalStepError, StepResult, release_steps, run_steps

WORKFLOWS = Path(__file__).resolve().parents[3] / ".github" / "workflows"
STACKS = ("dev", "staging", "prod")


class Recording:
    """Actions that record each call; ``decisions`` sets the gate's decisions per stack (in call order; default
    promoted), ``fail`` makes one action raise on one stack."""

    def __init__(self, decisions: dict[str, list[Decision]] | None = None, fail: tuple[str, str] | None = None):
        self.calls: list[tuple[str, ...]] = []
        self.decisions = decisions or {}
        self.fail = fail

    def _record(self, action: str, stack: str, *call: object) -> str:
        self.calls.append((action, *map(str, call)))
        if self.fail == (action, stack):
            raise ValueError(f"{action} broke")
        return f"{action} done"

    def apply(self, stack: str) -> str:
        return self._record("apply", stack, stack)

    def seed(self, stack: str, release: int) -> str:
        return self._record("seed", stack, stack, release)

    def train(self, stack: str, release: int) -> str:
        return self._record("train", stack, stack, release)

    def promote(self, source: str, target: str) -> str:
        return self._record("promote", target, source, target)

    def gate(self, stack: str) -> GateOutcome:
        self._record("gate", stack, stack)
        planned = self.decisions.get(stack, [])
        return GateOutcome("d", planned.pop(0) if planned else "promoted", 1, "")

    def deploy(self, stack: str) -> str:
        return self._record("deploy", stack, stack)

    def smoke(self, stack: str) -> str:
        return self._record("smoke", stack, stack)

    def rollback(self, stack: str) -> str:
        return self._record("rollback", stack, stack)


def _one_release(release: int) -> list[tuple[str, ...]]:
    return [
        ("apply", "dev"),
        ("seed", "dev", str(release)),
        ("train", "dev", str(release)),
        ("gate", "dev"),
        ("deploy", "dev"),
        ("smoke", "dev"),
        ("apply", "staging"),
        ("promote", "dev", "staging"),
        ("gate", "staging"),
        ("deploy", "staging"),
        ("smoke", "staging"),
        ("apply", "prod"),
        ("promote", "staging", "prod"),
        ("gate", "prod"),
        ("deploy", "prod"),
        ("smoke", "prod"),
    ]


def test_two_releases_through_the_stacks_in_order_then_the_rollback_in_the_last() -> None:
    actions = Recording()
    rehearsal = run_steps(release_steps(actions, STACKS, "d"))
    assert rehearsal.succeeded
    assert actions.calls == [
        *_one_release(1),
        *_one_release(2),
        ("rollback", "prod"),
        ("deploy", "prod"),
        ("smoke", "prod"),
    ]
    assert [r.phase for r in rehearsal.results].count("rollback") == 3
    assert {r.status for r in rehearsal.results} == {"ok"}


def test_a_gate_that_keeps_the_champion_skips_that_stacks_deploy_but_not_its_smoke_test() -> None:
    actions = Recording(decisions={"staging": ["promoted", "kept"]})
    rehearsal = run_steps(release_steps(actions, STACKS, "d"))
    skipped = [r for r in rehearsal.results if r.status == "skipped"]
    assert [(r.phase, r.stack, r.step) for r in skipped] == [("release 2", "staging", "deploy")]
    assert "kept the champion" in skipped[0].detail
    second = actions.calls[len(_one_release(1)) :]
    assert ("gate", "staging") in second and ("smoke", "staging") in second
    assert second.count(("deploy", "staging")) == 0


def test_the_first_failure_stops_the_rehearsal_and_names_its_step_and_stack() -> None:
    seen: list[StepResult] = []
    actions = Recording(fail=("promote", "prod"))
    rehearsal = run_steps(release_steps(actions, STACKS, "d"), on_result=seen.append)
    assert not rehearsal.succeeded and rehearsal.failed is not None
    failed = rehearsal.failed
    assert (failed.phase, failed.stack, failed.step) == ("release 1", "prod", "promote")
    assert failed.detail == "ValueError: promote broke"
    assert seen[-1] == failed
    assert actions.calls[-1] == ("promote", "staging", "prod")
    message = str(RehearsalStepError(failed))
    assert message.startswith("release 1: step 'promote' of stack 'prod' failed")
    assert "mlops release promote d --from-stack staging" in message


def test_a_failed_training_stops_before_any_gate() -> None:
    actions = Recording(fail=("train", "dev"))
    rehearsal = run_steps(release_steps(actions, STACKS, "d"))
    assert [call[0] for call in actions.calls] == ["apply", "seed", "train"]
    assert rehearsal.failed is not None and rehearsal.failed.step == "train"


@pytest.mark.parametrize(
    ("stacks", "rollback", "message"),
    [
        (("dev", "dev"), None, "distinct stacks"),
        ((), None, "distinct stacks"),
        (STACKS, "qa", "rollback stack 'qa'"),
    ],
)
def test_a_plan_without_distinct_stacks_or_with_a_foreign_rollback_stack_is_refused(
    stacks: tuple[str, ...], rollback: str | None, message: str
) -> None:
    with pytest.raises(ReleaseError, match=message):
        release_steps(Recording(), stacks, "d", rollback_stack=rollback)


_COMMAND = re.compile(r"\bmlops ((?:release|model) [a-z-]+|deploy)\b")


def _workflow_commands(workflow: str) -> list[str]:
    """The ``mlops`` commands the steps of the workflow's one job run, in order."""
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    (job,) = jobs.values()
    return [match.group(1) for step in job["steps"] if (match := _COMMAND.search(str(step.get("run", ""))))]


def _rehearsed_commands(stack: str, phase: str) -> list[str]:
    steps = release_steps(Recording(), STACKS, "d")
    return [
        match.group(1) for s in steps if s.stack == stack and s.phase == phase if (match := _COMMAND.search(s.command))
    ]


def test_the_first_stack_runs_deploy_yml_commands_in_its_order() -> None:
    assert _workflow_commands("deploy.yml") == ["release train", "release gate", "deploy", "release smoke"]
    assert _rehearsed_commands("dev", "release 1") == _workflow_commands("deploy.yml")


def test_the_next_stacks_receive_the_gated_version_instead_of_training() -> None:
    expected = ["release promote", "release gate", "deploy", "release smoke"]
    assert _rehearsed_commands("staging", "release 2") == _rehearsed_commands("prod", "release 1") == expected


def test_the_rollback_runs_rollback_yml_commands_in_its_order() -> None:
    assert _rehearsed_commands("prod", "rollback") == _workflow_commands("rollback.yml")


def test_the_command_refuses_settings_that_do_not_run_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app

    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["--target", "aws", "release", "rehearse"])
    assert isinstance(result.exception, ReleaseError)
    assert "trains and serves with the kit's local runners" in str(result.exception)
    assert not (tmp_path / "emulator").exists(), "nothing was started"
