"""``mlops local up|down|status`` with ``cloud: gcp``: Google's emulators instead of moto (called by
:mod:`mlops.cli.local`; wires and prints, the work is in :mod:`mlops.local.gcp_stack` and
:mod:`mlops.local.gcp_apply`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlops.cli.context import CliContext, console, emit_json, out
from mlops.errors import ConfigError

if TYPE_CHECKING:
    from mlops.local.apply.engine import ApplyResult
    from mlops.local.apply.ledger import LedgerEntry


def up(context: CliContext, *, no_apply: bool, json_out: bool) -> None:
    """Start (or reuse) the GCS, Pub/Sub and Firestore emulators, then apply the stack's GCP program to them."""
    from mlops.cli.local import print_retired  # this module's caller: loaded
    from mlops.local import gcp_stack, spark_connect, tracking_stores

    settings = context.settings
    started_at = time.monotonic()
    given = gcp_stack.given_hosts(settings)
    processes: dict[str, dict[str, Any]]
    if given is not None:  # emulators started otherwise: apply to them, start and record nothing
        verb, processes = "given", {name: {"pid": None, "host": host} for name, host in given.items()}
    else:
        with console.status("starting Google's emulators (GCS, Pub/Sub, Firestore)..."):
            emulators, started = gcp_stack.up(settings)
        verb = "started" if started else "reused"
        processes = {p.name: {"pid": p.pid, "host": p.host_port} for p in emulators.processes}
    # new emulators hold no model package: a tracking store found now names ones that are gone
    retired = tracking_stores.retire(settings.state_dir) if verb == "started" else []
    if not json_out:
        hosts = ", ".join(f"{name} pid {p['pid']} at {p['host']}" for name, p in processes.items())
        console.print(f"[green]{verb}[/] Google emulators: {hosts} ({time.monotonic() - started_at:.1f}s)")
        print_retired(retired)
    # The warm Spark (local Dataproc batches) starts its JVM while the program is applied, as on AWS.
    with ThreadPoolExecutor(max_workers=1) as pool:
        spark = None if no_apply else pool.submit(spark_connect.up_for, settings.state_dir, settings.local_spark)
        result = None if no_apply else _apply(context, quiet=json_out)
        warm = spark.result() if spark else None
    if json_out:
        payload: dict[str, Any] = {"emulators": verb, "project": settings.gcp.project, "processes": processes}
        payload["retired_tracking_stores"] = [str(path) for path in retired]
        payload["spark_connect"] = {"pid": warm[0].pid, "url": warm[0].remote_url} if warm else None
        if result is not None:
            payload["apply"] = _summary(result)
        emit_json(payload)
        return
    if warm:
        console.print(
            f"[green]{'started' if warm[1] else 'reused'}[/] Spark Connect server pid {warm[0].pid} at "
            f"{warm[0].remote_url} (local Dataproc batches use it; off: MLOPS_LOCAL_SPARK__ENABLED=false)"
        )
    if result is not None:
        counts = result.counts
        console.print(
            f"[green]applied[/] stack {result.stack!r}: {result.resource_count} resources "
            f"({counts['created']} created, {counts['reused']} reused, {counts['updated']} updated, "
            f"{counts['skipped']} declared but not sent: no emulator holds them; reasons in {result.ledger_file}) "
            f"in {result.seconds:.1f}s; outputs in {result.outputs_file}"
        )


def _apply(context: CliContext, *, quiet: bool) -> ApplyResult:
    # The program and the planner's mocks import the Pulumi SDK and pulumi-gcp (~2 s): only when applying.
    from infra.config import read_stack_file
    from infra.plan import RecordingMocks
    from infra.runner import run_program
    from mlops.local.apply.engine import find_repo_root
    from mlops.local.gcp_apply.engine import apply_gcp_stack
    from mlops.wiring import gcp_client_factory

    settings = context.settings
    repo_root = find_repo_root()
    stack = read_stack_file(settings.stack_name, repo_root)
    if stack.cloud != "gcp":
        raise ConfigError(
            f"stack {settings.stack_name!r} is declared for cloud {stack.cloud!r} but the settings say cloud gcp: "
            "apply a cloud: gcp stack (e.g. --stack gcp-local), or unset MLOPS_CLOUD for the AWS emulator"
        )
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"applying stack {settings.stack_name!r}...", total=None)

        def on_applied(entry: LedgerEntry) -> None:
            progress.update(task, description=f"{entry.outcome} {entry.type.split(':')[-1]} {entry.name}")

        return apply_gcp_stack(
            settings,
            gcp_client_factory(settings),
            repo_root,
            runner=run_program,
            declared=RecordingMocks(settings.gcp.location),
            on_applied=on_applied,
        )


def _summary(result: ApplyResult) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "resources": result.resource_count,
        "counts": result.counts,
        "seconds": round(result.seconds, 3),
        "outputs_file": str(result.outputs_file),
        "ledger_file": str(result.ledger_file),
    }


def down(context: CliContext, *, json_out: bool) -> None:
    """Stop the Google emulators this project started, by PID (and the warm Spark server); their data is gone."""
    from mlops.cli.local import print_retired  # this module's caller: loaded
    from mlops.local import gcp_stack, spark_connect, tracking_stores

    spark_connect.down(spark_connect.spark_dir(context.settings.state_dir))
    before = gcp_stack.down(context.settings)
    processes = before.emulators.processes if before.emulators else ()
    # the registry's packages were in the Firestore emulator: the tracking stores naming them go aside
    retired = tracking_stores.retire(context.settings.state_dir) if before.emulators is not None else []
    if json_out:
        emit_json(
            {
                "was": before.health,
                "pids": {p.name: p.pid for p in processes},
                "retired_tracking_stores": [str(path) for path in retired],
            }
        )
        return
    if before.emulators is None:
        console.print("no Google emulators were running")
    else:
        stopped = ", ".join(f"{p.name} pid {p.pid}" for p in processes)
        console.print(f"[green]stopped[/] Google emulators ({before.health} before): {stopped}")
    print_retired(retired)


def status(context: CliContext, *, json_out: bool) -> None:
    """Whether the Google emulators run, the stacks applied to them and the last apply's resources by outcome."""
    from mlops.local import gcp_stack
    from mlops.local.apply.ledger import count_by_type, ledger_path, read_ledger

    settings = context.settings
    current = gcp_stack.status(settings)
    ledger = read_ledger(ledger_path(settings.resolved_outputs_file))
    by_type = count_by_type(ledger["resources"]) if ledger else {}
    outcomes = ledger["counts"] if ledger else {}
    processes = current.emulators.processes if current.emulators else ()
    if json_out:
        emit_json(
            {
                "cloud": "gcp",
                "health": current.health,
                "detail": current.detail,
                "processes": {p.name: {"pid": p.pid, "host": p.host_port} for p in processes},
                "stack": settings.stack_name,
                "outputs_file": str(settings.resolved_outputs_file) if ledger else None,
                "resources": sum(by_type.values()),
                "counts": outcomes,
                "resources_by_type": by_type,
                "notes": ledger.get("notes", {}) if ledger else {},
            }
        )
    else:
        colour = {"running": "green", "stale": "yellow"}.get(current.health, "red")
        out.print(f"[{colour}]{current.health}[/] Google emulators: {current.detail}")
        if ledger:
            out.print(f"stack {settings.stack_name!r}: {sum(by_type.values())} resources {outcomes}")
            out.print(f"outputs: {settings.resolved_outputs_file}")
        else:
            out.print(f"stack {settings.stack_name!r} is not applied: run `mlops local up`")
    if current.health != "running":
        raise typer.Exit(1)
