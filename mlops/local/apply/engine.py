"""Apply the infra program to the embedded emulator: a Pulumi ``Mocks`` whose ``new_resource`` creates for real.

The Pulumi SDK runs the program, resolves each resource's inputs (so it waits for the resources they come
from: dependency order for free) and calls :meth:`EmulatorMocks.new_resource` on executor threads. Each call
goes to the handler of the resource's type, which creates the resource in moto or finds the one an earlier
apply made, and returns real ARNs and names that flow on to dependents and into the stack outputs.

There is no diff and no delete: a resource the program stops declaring stays in the emulator until
``mlops local reset``. A second apply with an unchanged program creates nothing (every entry ``reused``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pulumi
from botocore.exceptions import BotoCoreError, ClientError
from pulumi.runtime import settings as pulumi_settings

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import LocalApplyError, MlopsError
from mlops.local.apply.base import HandlerContext, revealed
from mlops.local.apply.ledger import Ledger, LedgerEntry, ledger_path
from mlops.local.apply.registry import handler_for
from mlops.outputs import load_outputs, write_outputs
from mlops.platform import Platform
from mlops.settings import Settings

CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_REGION = "aws:index/getRegion:getRegion"


class ProgramRunner(Protocol):
    """Runs the infra program for ``stack`` under ``mocks`` and returns its resolved outputs."""

    def __call__(self, stack: str, mocks: pulumi.runtime.Mocks, repo_root: Path) -> dict[str, Any]: ...


OnApplied = Callable[[LedgerEntry], None]


class ApplyingMocks(pulumi.runtime.Mocks):
    """Mocks that apply what the program declares (one class per cloud); the errors their handlers raised."""

    errors: list[MlopsError]

    def close(self) -> None:
        """Ignore registrations from here on (see :meth:`EmulatorMocks.close`)."""
        raise NotImplementedError


class EmulatorMocks(ApplyingMocks):
    """Pulumi mocks that apply every declared resource to the emulator through its type's handler."""

    def __init__(self, context: HandlerContext, ledger: Ledger, on_applied: OnApplied | None = None) -> None:
        self.context = context
        self.ledger = ledger
        self.on_applied = on_applied
        self._lock = threading.Lock()
        self.errors: list[MlopsError] = []
        self.closed = False

    def close(self) -> None:
        """Ignore registrations from here on: after a failed run the SDK's event loop still holds the run's
        pending registrations and would deliver them to these mocks during the next run in the process."""
        self.closed = True

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.closed or not args.custom or args.typ.startswith("pulumi:providers:"):
            # Components and provider instances have no AWS counterpart; they only group or configure.
            return None, dict(args.inputs)
        started = time.monotonic()
        try:
            handler = handler_for(args.typ, args.name)
            result = handler(self.context, args.name, revealed(dict(args.inputs)))
        except MlopsError as exc:
            self._fail(exc)
            raise
        except (ClientError, BotoCoreError) as exc:
            error = LocalApplyError(f"{args.typ} {args.name!r}: {exc}")
            self._fail(error)
            raise error from exc
        entry = LedgerEntry(args.typ, args.name, result.physical_id, result.outcome, time.monotonic() - started)
        self.ledger.record(entry)
        if self.on_applied is not None:
            self.on_applied(entry)
        return result.physical_id, result.state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The two invokes the program may use, answered from the emulator's STS and region."""
        if args.token == CALLER_IDENTITY:
            return {
                "accountId": self.context.account_id,
                "arn": f"arn:aws:iam::{self.context.account_id}:root",
                "userId": self.context.account_id,
                "id": self.context.account_id,
            }, []
        if args.token == GET_REGION:
            region = self.context.region
            return {
                "name": region,
                "region": region,
                "id": region,
                "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            }, []
        error = LocalApplyError(
            f"the program calls invoke {args.token!r}; the local apply answers only "
            f"{CALLER_IDENTITY} and {GET_REGION} (build policy documents with json.dumps)"
        )
        self._fail(error)
        raise error

    def _fail(self, error: MlopsError) -> None:
        with self._lock:
            self.errors.append(error)


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did: outputs written, ledger written, counts per outcome, wall time."""

    stack: str
    outputs: dict[str, Any]
    outputs_file: Path
    ledger_file: Path
    counts: dict[str, int]
    seconds: float

    @property
    def resource_count(self) -> int:
        return sum(self.counts.values())


def handler_context(settings: Settings, clients: ClientFactory) -> HandlerContext:
    """The emulator's account (asked from its STS) and region, and the absolute state dir."""
    try:
        account_id = str(clients.client("sts").get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise LocalApplyError(f"cannot read the emulator's account id from STS: {exc}") from exc
    return HandlerContext(clients, account_id, settings.region, settings.state_dir.resolve())


def _clear_sdk_leftovers() -> None:
    with pulumi_settings.SETTINGS.lock:
        pulumi_settings.SETTINGS.outputs.clear()
    pulumi_settings.SETTINGS.rpc_manager.clear()


def outputs_under_mocks(runner: ProgramRunner, stack: str, mocks: ApplyingMocks, repo_root: Path) -> dict[str, Any]:
    """The program's outputs for ``stack`` run under ``mocks``; the first handler error is raised as itself.

    The SDK keeps a failed run's exception and its pending output tasks process-wide and re-raises them from the
    next run in the same process: start clean, and leave clean after a failure. It re-raises a handler's error
    from its own frames, sometimes wrapped: the handler's own is reported."""
    _clear_sdk_leftovers()
    try:
        outputs = runner(stack, mocks, repo_root)
    except Exception as exc:
        mocks.close()
        _clear_sdk_leftovers()
        if mocks.errors and exc is not mocks.errors[0]:
            raise mocks.errors[0] from exc
        raise
    if mocks.errors:
        raise mocks.errors[0]
    return outputs


def _run_deferred(context: HandlerContext) -> None:
    for description, action in context.deferred.drain():
        try:
            action()
        except (ClientError, BotoCoreError) as exc:
            raise LocalApplyError(f"{description}: {exc}") from exc


def apply_stack(
    settings: Settings,
    clients: ClientFactory,
    repo_root: Path,
    *,
    runner: ProgramRunner,
    on_applied: OnApplied | None = None,
) -> ApplyResult:
    """Apply the program for ``settings.stack_name`` to the emulator; write the outputs file and the ledger.

    ``runner`` runs the program under the given mocks (``infra.runner.run_program``; the core does not import
    the program itself: the CLI and the tests hand it in).

    The first handler error is raised as is (it names the resource and its type); the outputs file is
    written only when every resource applied.
    """
    if not clients.is_emulated:
        raise LocalApplyError(
            f"the local apply acts on an emulator only, not target {settings.target!r}; use `pulumi up` for AWS"
        )
    started = time.monotonic()
    ledger = Ledger()
    mocks = EmulatorMocks(handler_context(settings, clients), ledger, on_applied)
    outputs = outputs_under_mocks(runner, settings.stack_name, mocks, repo_root)
    _run_deferred(mocks.context)
    outputs_file = settings.resolved_outputs_file
    write_outputs(outputs_file, outputs)
    ledger_file = ledger_path(outputs_file)
    ledger.write(ledger_file, settings.stack_name, clients.endpoint_url)
    return ApplyResult(
        stack=settings.stack_name,
        outputs=outputs,
        outputs_file=outputs_file,
        ledger_file=ledger_file,
        counts=ledger.counts(),
        seconds=time.monotonic() - started,
    )


def provision_platform(settings: Settings, repo_root: Path, *, runner: ProgramRunner) -> Platform:
    """Apply the program for ``settings.stack_name`` and return the platform as pipeline code sees it.

    This is what the test session's ``platform`` fixture and ``mlops local up`` share: the outputs are
    loaded back through :func:`mlops.outputs.load_outputs`, so a program whose outputs break the contract
    fails here, naming the output.
    """
    from mlops.wiring import build_platform, client_factory

    result = apply_stack(settings, client_factory(settings), repo_root, runner=runner)
    outputs = load_outputs(result.outputs_file, result.stack)
    return build_platform(settings, outputs)


def find_repo_root(start: Path | None = None) -> Path:
    """The directory holding ``infra/Pulumi.yaml``: the working directory or one above it, else the kit's checkout."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "infra" / "Pulumi.yaml").is_file():
            return candidate
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "infra" / "Pulumi.yaml").is_file():
        return checkout
    raise LocalApplyError(f"no infra/Pulumi.yaml in {here} or any parent: run the command inside the project")
