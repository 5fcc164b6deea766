"""The release rehearsal's sequence (mlops/release/rehearsal.py) with recording actions: the workflows' order per
stack, the deploy skipped when the gate keeps the champion, the first failure stopping the rehearsal and named
(phase, step, stack, command), and the commands mirroring deploy.yml (dev trains; staging and prod promote from
the environment before, as release.yml calls it) and rollback.yml."""

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
_PROMOTES = "inputs.promote-from != ''"
_TRAINS = "inputs.promote-from == ''"


def _runs_in(step: dict[str, object], promote_from: str | None) -> bool:
    """Whether ``deploy.yml``'s step runs for a caller passing ``promote-from`` (``None``: not passed, as dev);
    a condition on anything else is an error here, so a new one cannot slip past the comparison."""
    condition = step.get("if")
    if condition in (None, "steps.gate.outputs.deploy == 'true'"):
        return True
    if condition == _PROMOTES:
        return bool(promote_from)
    if condition == _TRAINS:
        return not promote_from
    raise AssertionError(f"deploy.yml step {step.get('name')!r} has a condition this test does not read: {condition}")


def _workflow_commands(workflow: str, promote_from: str | None = None) -> list[str]:
    """The ``mlops`` commands the steps of the workflow's one job run, in order, for a caller passing
    ``promote-from`` (the command's ``--from-stack`` written out)."""
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    (job,) = jobs.values()
    commands = []
    for step in job["steps"]:
        run = str(step.get("run", "")).replace('"${{ inputs.promote-from }}"', str(promote_from))
        if _runs_in(step, promote_from) and (match := _COMMAND.search(run)):
            commands.append(match.group(1) + (f" --from-stack {promote_from}" if "--from-stack" in run else ""))
    return commands


def _rehearsed_commands(stack: str, phase: str) -> list[str]:
    steps = release_steps(Recording(), STACKS, "d")
    return [
        match.group(1) + (f" --from-stack {s.command.split('--from-stack ')[1]}" if "--from-stack" in s.command else "")
        for s in steps
        if s.stack == stack and s.phase == phase
        if (match := _COMMAND.search(s.command))
    ]


def _release_callers() -> dict[str, str | None]:
    """release.yml's environment jobs: the environment -> the ``promote-from`` it passes to deploy.yml."""
    jobs = yaml.safe_load((WORKFLOWS / "release.yml").read_text())["jobs"]
    return {job["with"]["environment"]: job["with"].get("promote-from") for job in jobs.values() if "with" in job}


def test_the_first_stack_runs_deploy_yml_commands_in_its_order() -> None:
    assert _release_callers()["dev"] is None
    assert _workflow_commands("deploy.yml") == ["release train", "release gate", "deploy", "release smoke"]
    assert _rehearsed_commands("dev", "release 1") == _workflow_commands("deploy.yml")


@pytest.mark.parametrize(("stack", "source"), [("staging", "dev"), ("prod", "staging")])
def test_the_next_stacks_run_deploy_yml_commands_promoting_from_the_previous_stack(stack: str, source: str) -> None:
    expected = [f"release promote --from-stack {source}", "release gate", "deploy", "release smoke"]
    assert _release_callers()[stack] == source
    assert _workflow_commands("deploy.yml", promote_from=source) == expected
    for phase in ("release 1", "release 2"):
        assert _rehearsed_commands(stack, phase) == expected


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
