"""Apply the Google Cloud program to Google's emulators: the AWS local apply's method (:mod:`mlops.local.apply.engine`)
with the GCP handlers.

The Pulumi SDK runs the program under :class:`GcpEmulatorMocks`; each declared resource whose type an emulator can
hold goes to its handler (:mod:`mlops.local.gcp_apply.handlers`), which creates it there or finds it; every other
type is declared but not sent, recorded ``skipped`` with its reason and answered with the ids ``mlops infra plan``
shows (the ``declared`` mocks the caller hands in: the core does not import the program's planner). The outputs
file is written when every resource applied, so later commands find the stack's resources from its outputs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pulumi
from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.errors import LocalApplyError, MlopsError
from mlops.local.apply.base import revealed
from mlops.local.apply.engine import ApplyingMocks, ApplyResult, OnApplied, ProgramRunner, outputs_under_mocks
from mlops.local.apply.ledger import Ledger, LedgerEntry, ledger_path
from mlops.local.gcp_apply.handlers import (
    EMULATOR_DROPS,
    HANDLERS,
    GcpHandlerContext,
    is_tracking_server,
    not_sent_reason,
)
from mlops.local.tracking_stores import store_path
from mlops.outputs import write_outputs
from mlops.registry.sqlite_store import create_store
from mlops.settings import Settings


class GcpEmulatorMocks(ApplyingMocks):
    """Pulumi mocks that create each resource an emulator can hold and record the rest as not sent."""

    def __init__(
        self,
        context: GcpHandlerContext,
        ledger: Ledger,
        declared: pulumi.runtime.Mocks,
        on_applied: OnApplied | None = None,
    ) -> None:
        self.context = context
        self.ledger = ledger
        self.declared = declared
        self.on_applied = on_applied
        self.notes: dict[str, str] = {}
        self.errors: list[MlopsError] = []
        self._lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        """Ignore registrations from here on (a failed run's pending ones reach the next run's mocks)."""
        self.closed = True

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.closed or not args.custom or args.typ.startswith("pulumi:providers:"):
            return None, dict(args.inputs)  # components and providers only group or configure
        started = time.monotonic()
        try:
            physical, state, outcome = self._apply(args)
        except MlopsError as exc:
            self._fail(exc)
            raise
        except google_errors.GoogleAPIError as exc:
            error = LocalApplyError(f"{args.typ} {args.name!r}: {exc}")
            self._fail(error)
            raise error from exc
        entry = LedgerEntry(args.typ, args.name, physical, outcome, time.monotonic() - started)
        self.ledger.record(entry)
        if self.on_applied is not None:
            self.on_applied(entry)
        return physical, state

    def _apply(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any], Any]:
        handler = HANDLERS.get(args.typ)
        if handler is not None:
            result = handler(self.context, args.name, revealed(dict(args.inputs)))
            if args.typ in EMULATOR_DROPS:
                self._note(args.typ, EMULATOR_DROPS[args.typ])
            return result.physical_id, result.state, result.outcome
        self._note(args.typ, not_sent_reason(args.typ, args.name))
        physical, state = self.declared.new_resource(args)
        return str(physical), state, "skipped"

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self.declared.call(args)

    def _note(self, type_token: str, reason: str) -> None:
        with self._lock:
            self.notes[type_token] = reason

    def _fail(self, error: MlopsError) -> None:
        with self._lock:
            self.errors.append(error)


def apply_gcp_stack(
    settings: Settings,
    clients: GcpClients,
    repo_root: Path,
    *,
    runner: ProgramRunner,
    declared: pulumi.runtime.Mocks,
    on_applied: OnApplied | None = None,
) -> ApplyResult:
    """Apply the ``cloud: gcp`` program of ``settings.stack_name`` to the emulators ``clients`` reach; write the
    outputs file and the ledger (with each not-sent or partly kept type's reason under ``notes``).

    The first handler error is raised as is (it names the resource and its type); the outputs file is written only
    when every resource applied.
    """
    if not clients.is_emulated:
        raise LocalApplyError(
            f"the local apply acts on Google's emulators only, not target {settings.target!r}; use `pulumi up`"
        )
    started = time.monotonic()
    ledger = Ledger()
    tracking_uri = local_tracking_uri(settings)
    mocks = GcpEmulatorMocks(GcpHandlerContext(clients, tracking_uri), ledger, declared, on_applied)
    outputs = outputs_under_mocks(runner, settings.stack_name, mocks, repo_root)
    if outputs.get("cloud") != "gcp":
        raise LocalApplyError(
            f"stack {settings.stack_name!r} is not a cloud: gcp stack (its outputs say cloud "
            f"{outputs.get('cloud', 'aws')!r}); the Google emulators take the GCP program only"
        )
    outputs = _local_tracking_store(tracking_uri, outputs, mocks.notes)
    outputs_file = settings.resolved_outputs_file
    write_outputs(outputs_file, outputs)
    ledger_file = ledger_path(outputs_file)
    ledger.write(ledger_file, settings.stack_name, clients.hosts.storage, notes=dict(sorted(mocks.notes.items())))
    return ApplyResult(
        stack=settings.stack_name,
        outputs=outputs,
        outputs_file=outputs_file,
        ledger_file=ledger_file,
        counts=ledger.counts(),
        seconds=time.monotonic() - started,
    )


TRACKING_NOTE = "outputs.mlflow_tracking_uri"


def local_tracking_uri(settings: Settings) -> str:
    """The sqlite tracking store that plays the stack's MLflow server locally (one per stack, as on AWS)."""
    database = store_path(settings.state_dir, settings.stack_name)
    create_store(database)  # the migrated empty store (nothing when it exists)
    return f"sqlite:///{database}"


def _on_cloud_run(uri: str) -> bool:
    """A Cloud Run service's URL (``https://<name>-<hash>-<region>.a.run.app``)."""
    return uri.startswith("https://") and uri.split("/", 3)[2].endswith(".run.app")


def _local_tracking_store(tracking_uri: str, outputs: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """The program exports its Cloud Run MLflow server's URL (the server, its Cloud SQL database and secret are not
    sent locally), or, from an older program, a Cloud Storage path, where MLflow keeps artifacts only; so locally a
    sqlite store per stack plays the tracking server, as the AWS local apply plays SageMaker's managed MLflow; the
    deployed training pipeline's Register step gets the same URI
    (:func:`~mlops.local.gcp_apply.handlers.with_tracking_uri`). Artifacts stay in the models bucket."""
    declared = str(outputs.get("mlflow_tracking_uri", ""))
    if _on_cloud_run(declared):  # the program's own server (tracking.py): Cloud Run and Cloud SQL are not sent
        notes[TRACKING_NOTE] = f"declared {declared!r}, a Cloud Run service not run locally: played by {tracking_uri}"
        return {**outputs, "mlflow_tracking_uri": tracking_uri}
    if is_tracking_server(declared):
        return outputs
    notes[TRACKING_NOTE] = f"declared {declared!r}; MLflow keeps no tracking store there: played by {tracking_uri}"
    return {**outputs, "mlflow_tracking_uri": tracking_uri}
