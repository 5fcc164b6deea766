"""The whole release, rehearsed: the sequence the workflows run (``release.yml`` -> ``deploy.yml`` per environment,
then ``rollback.yml``), as one list of steps run against stacks applied side by side (locally: the emulator).

This module holds the sequence and its bookkeeping only; what each step does comes in as :class:`ReleaseActions`
(the CLI wires the kit's commands onto the emulator), so the order, the skipping of a deploy the gate did not ask
for and the failure report are tested without any service.

The sequence, per release (two releases, so that the rollback has a previous champion to restore):

- each stack in order (dev, staging, prod), as ``deploy.yml`` runs in each environment: apply the stack
  (``pulumi up``); in the first stack the training pipeline (``mlops release train``), in the next ones the
  promotion of the version the previous stack's gate passed (``mlops release promote --from-stack``: artifact and
  model package copied into this stack's bucket and registry); the model gate (``mlops release gate``); the deploy
  when the gate promoted a new champion (``mlops deploy``); the smoke test (``mlops release smoke``);
- before the first stack trains, the data its scheduled jobs would have produced is seeded (a rehearsal step, not
  a workflow's).

Then ``rollback.yml`` in one stack: ``mlops model rollback``, ``mlops deploy``, ``mlops release smoke``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

from mlops.release.errors import ReleaseError
from mlops.release.promotion import GateOutcome

Status = Literal["ok", "skipped", "failed"]
ROLLBACK = "rollback"


class ReleaseActions(Protocol):
    """What each step does, on one stack (the CLI wires the kit's commands; tests pass fakes). Each returns a
    short account of what it did; an exception fails the step."""

    def apply(self, stack: str) -> str: ...

    def seed(self, stack: str, release: int) -> str: ...

    def train(self, stack: str, release: int) -> str: ...

    def promote(self, source: str, target: str) -> str: ...

    def gate(self, stack: str) -> GateOutcome: ...

    def deploy(self, stack: str) -> str: ...

    def smoke(self, stack: str) -> str: ...

    def rollback(self, stack: str) -> str: ...


@dataclass(frozen=True)
class Step:
    """One step of the rehearsal: the phase (``release 1``, ``release 2``, ``rollback``), the stack, the step's
    name, the workflow command it stands for, and what runs it (``None`` when it is skipped, with the reason)."""

    phase: str
    stack: str
    name: str
    command: str
    run: Callable[[], str]
    skip_reason: Callable[[], str | None] = lambda: None


@dataclass(frozen=True)
class StepResult:
    phase: str
    stack: str
    step: str
    command: str
    status: Status
    seconds: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "stack": self.stack,
            "step": self.step,
            "command": self.command,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass
class Rehearsal:
    """The results so far; ``failed`` is the step that stopped the rehearsal, if one did."""

    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> StepResult | None:
        return next((result for result in self.results if result.status == "failed"), None)

    @property
    def succeeded(self) -> bool:
        return self.failed is None


class RehearsalStepError(ReleaseError):
    """A step of the rehearsal failed; the message names the phase, the step, the stack and the command."""

    def __init__(self, result: StepResult) -> None:
        self.result = result
        super().__init__(
            f"{result.phase}: step {result.step!r} of stack {result.stack!r} failed ({result.command}): {result.detail}"
        )


def release_steps(
    actions: ReleaseActions,
    stacks: Sequence[str],
    dataset: str,
    *,
    releases: int = 2,
    rollback_stack: str | None = None,
) -> list[Step]:
    """The steps of ``releases`` releases through ``stacks`` (in promotion order), then the rollback in
    ``rollback_stack`` (default: the last stack)."""
    if len(stacks) < 1 or len(set(stacks)) != len(stacks):
        raise ReleaseError(f"a rehearsal needs distinct stacks in promotion order, got {list(stacks)}")
    if releases < 2:
        raise ReleaseError(f"a rehearsal needs two releases at least (the rollback restores the first); got {releases}")
    rollback_in = rollback_stack or stacks[-1]
    if rollback_in not in stacks:
        raise ReleaseError(f"rollback stack {rollback_in!r} is not among the stacks {list(stacks)}")
    steps: list[Step] = []
    for release in range(1, releases + 1):
        steps.extend(_release(actions, stacks, dataset, release))
    steps.extend(_rollback(actions, rollback_in, dataset))
    return steps


def _release(actions: ReleaseActions, stacks: Sequence[str], dataset: str, release: int) -> list[Step]:
    phase = f"release {release}"
    gates: dict[str, GateOutcome] = {}

    def gate(stack: str) -> str:
        gates[stack] = outcome = actions.gate(stack)
        return f"{outcome.decision}: champion v{outcome.champion_version} ({outcome.detail})"

    def no_new_champion(stack: str) -> str | None:
        outcome = gates.get(stack)
        return None if outcome is not None and outcome.deploy else "the gate kept the champion: nothing to deploy"

    steps: list[Step] = []
    for index, stack in enumerate(stacks):
        steps.append(Step(phase, stack, "apply", f"pulumi up --stack {stack}", partial(actions.apply, stack)))
        if index == 0:
            steps.append(Step(phase, stack, "seed", "(the stack's data jobs)", partial(actions.seed, stack, release)))
            steps.append(
                Step(phase, stack, "train", f"mlops release train {dataset}", partial(actions.train, stack, release))
            )
        else:
            source = stacks[index - 1]
            command = f"mlops release promote {dataset} --from-stack {source}"
            steps.append(Step(phase, stack, "promote", command, partial(actions.promote, source, stack)))
        steps.append(Step(phase, stack, "gate", f"mlops release gate {dataset}", partial(gate, stack)))
        deploy = partial(actions.deploy, stack)
        steps.append(Step(phase, stack, "deploy", f"mlops deploy {dataset}", deploy, partial(no_new_champion, stack)))
        steps.append(_smoke(actions, phase, stack, dataset))
    return steps


def _rollback(actions: ReleaseActions, stack: str, dataset: str) -> list[Step]:
    return [
        Step(ROLLBACK, stack, "rollback", f"mlops model rollback {dataset}", partial(actions.rollback, stack)),
        Step(ROLLBACK, stack, "deploy", f"mlops deploy {dataset}", partial(actions.deploy, stack)),
        _smoke(actions, ROLLBACK, stack, dataset),
    ]


def _smoke(actions: ReleaseActions, phase: str, stack: str, dataset: str) -> Step:
    return Step(
        phase, stack, "smoke", f"mlops release smoke .github/smoke/{dataset}.json", partial(actions.smoke, stack)
    )


def run_steps(
    steps: Sequence[Step],
    on_result: Callable[[StepResult], None] = lambda _: None,
    on_start: Callable[[Step], None] = lambda _: None,
    clock: Callable[[], float] = time.perf_counter,
) -> Rehearsal:
    """Run ``steps`` in order, reporting each result; the first failure stops the rehearsal (the rehearsal it
    returns names it: later steps would act on a release that did not happen)."""
    rehearsal = Rehearsal()
    began = clock()
    for step in steps:
        reason = step.skip_reason()
        if reason is not None:
            result = StepResult(step.phase, step.stack, step.name, step.command, "skipped", 0.0, reason)
        else:
            on_start(step)
            started = clock()
            status: Status = "ok"
            try:
                detail = step.run()
            except Exception as exc:  # any failure of a step is reported, with its type, as the step's failure
                detail, status = f"{type(exc).__name__}: {exc}", "failed"
            result = StepResult(step.phase, step.stack, step.name, step.command, status, clock() - started, detail)
        rehearsal.results.append(result)
        on_result(result)
        if result.status == "failed":
            break
    rehearsal.seconds = clock() - began
    return rehearsal
