"""``mlops local``: the embedded emulator (moto's server, out of process) and the platform applied to it."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlops.cli import local_data
from mlops.cli.context import CliContext, cli_context, console, emit_json, out
from mlops.errors import ConfigError, StalePidfileError

if TYPE_CHECKING:
    from mlops.local.apply.engine import ApplyResult
    from mlops.local.apply.ledger import LedgerEntry
    from mlops.settings import Settings

app = typer.Typer(
    help=(
        "Run the platform on your machine: `up` starts moto's server on a free loopback port (pidfile and "
        "log under .mlops/emulator), reuses it on a second call, and applies the infra program to it "
        "(outputs in .mlops/outputs/STACK.json); `down` stops exactly that process. With cloud gcp "
        "(MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators, stack gcp-local) the same commands run Google's emulators "
        "(GCS, Pub/Sub, Firestore) under .mlops/gcp-emulators and apply the GCP program to them."
    ),
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        help="Stack to apply or inspect (dev, staging, prod, local...; default: the global --stack/--env). Stacks "
        "coexist in one emulator under their own names; outputs and ledger are kept per stack.",
    ),
]


def _for_stack(ctx: typer.Context, stack: str | None) -> CliContext:
    """The command's context, on ``stack`` when given (``mlops local up --stack staging``)."""
    context = cli_context(ctx)
    return context if stack is None else CliContext(overrides={**context.overrides, "stack": stack})


@app.command()
def up(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Listen on this port instead of a free one.")] = None,
    no_apply: Annotated[
        bool, typer.Option("--no-apply", help="Only start the emulator; no apply, no Spark Connect server.")
    ] = False,
    json_out: JsonFlag = False,
    stack: StackOption = None,
) -> None:
    """Start the embedded emulator (or reuse the running one), then apply the infra program to it.

    Every resource the program declares is created in the emulator, or reused when an earlier `up` made
    it: a second `up` changes nothing. The stack outputs pipeline code reads are written to
    `<state_dir>/outputs/<stack>.json`, the list of applied resources next to it (`<stack>.resources.json`).
    A Spark Connect server starts meanwhile (pid and log under `<state_dir>/spark`): local Glue job runs use
    it instead of a JVM each (off: `MLOPS_LOCAL_SPARK__ENABLED=false`); `down` stops it.
    Apply dev, staging and prod side by side with `--stack`: each gets its own names, key, network and registry.
    """
    from mlops.local import emulator, spark_connect, tracking_stores  # httpx, psutil: not for `--help`
    from mlops.local.state import applied_stacks

    context = _for_stack(ctx, stack)
    settings = context.settings
    # The warm command server imports the commands' libraries while the platform comes up (docs/local.md).
    warm_cli = start_warm_cli(settings, quiet=json_out) if not no_apply else None
    if settings.cloud == "gcp":  # Google's emulators and the GCP program (docs/gcp.md)
        from mlops.cli import local_gcp

        local_gcp.up(context, no_apply=no_apply, json_out=json_out)
        return
    before = emulator.status(settings.emulator_dir)
    if before.health == "stale":
        console.print(f"[yellow]stale emulator record:[/] {before.detail}")
    started_at = time.monotonic()
    with console.status("starting moto server..."):
        state, started = emulator.up(settings.emulator_dir, port=port)
    lost = emulator.lost_emulator(before, state, applied_stacks(settings.resolved_outputs_file.parent))
    if lost:
        console.print(f"[red]the emulator was restarted:[/] {escape(lost)}")
    # A new (or wiped) emulator holds no model package: a tracking store found now names ones that are gone (a
    # `down` retires them itself; this catches an emulator that died, and stores an older kit left behind).
    retired = tracking_stores.retire(settings.state_dir) if started or lost else []
    verb = "started" if started else "reused"
    if not json_out:
        console.print(
            f"[green]{verb}[/] moto server pid {state.pid} at {state.endpoint_url}; endpoint URL {state.public_url} "
            f"({time.monotonic() - started_at:.1f}s)"
        )
        print_retired(retired)
    # The warm Spark (local Glue job runs) starts its JVM while the program is applied: both mostly wait.
    with ThreadPoolExecutor(max_workers=1) as pool:
        spark = None if no_apply else pool.submit(spark_connect.up_for, settings.state_dir, settings.local_spark)
        result = None if no_apply else _apply_with_progress(context, quiet=json_out)
        warm = spark.result() if spark else None
    if json_out:
        payload: dict[str, Any] = {
            "emulator": verb,
            "pid": state.pid,
            "endpoint_url": state.public_url,  # the front door: the one URL for every client
            "moto_url": state.endpoint_url,
            "retired_tracking_stores": [str(path) for path in retired],
        }
        payload["spark_connect"] = {"pid": warm[0].pid, "url": warm[0].remote_url} if warm else None
        payload["warm_cli"] = {"pid": warm_cli} if warm_cli else None
        if result is not None:
            payload["apply"] = _apply_summary(result)
        emit_json(payload)
        return
    if warm:
        console.print(
            f"[green]{'started' if warm[1] else 'reused'}[/] Spark Connect server pid {warm[0].pid} at "
            f"{warm[0].remote_url} (local job runs use it; off: MLOPS_LOCAL_SPARK__ENABLED=false)"
        )
    if result is not None:
        counts = result.counts
        console.print(
            f"[green]applied[/] stack {result.stack!r}: {result.resource_count} resources "
            f"({counts['created']} created, {counts['reused']} reused, {counts['updated']} updated, "
            f"{counts['skipped']} not sent: moto cannot honour them) "
            f"in {result.seconds:.1f}s; outputs in {result.outputs_file}"
        )


def start_warm_cli(settings: Settings, *, quiet: bool) -> int | None:
    """Start (or reuse) the warm command server of the state dir unless the settings turn it off; its pid.
    (`local up` and `release rehearse`: the commands, endpoints and pipeline steps after it fork from it.)"""
    if not settings.local_cli.enabled:
        return None
    from mlops.local import warm_cli

    pid, started = warm_cli.up(settings.state_dir, os.environ)
    if not quiet:
        console.print(
            f"[green]{'started' if started else 'reused'}[/] warm command server pid {pid}: `mlops` commands fork "
            "from it with their libraries imported (off: MLOPS_LOCAL_CLI__ENABLED=false)"
        )
    return pid


def _apply_with_progress(context: CliContext, *, quiet: bool) -> ApplyResult:
    # Imported here: the Pulumi SDK and the program cost ~2 s to import, which other commands need not pay.
    from mlops.local.apply.engine import apply_stack, find_repo_root

    settings = context.settings
    repo_root = find_repo_root()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task(f"applying stack {settings.stack_name!r}...", total=None)
        applied = 0

        def on_applied(entry: LedgerEntry) -> None:
            nonlocal applied
            applied += 1
            progress.update(
                task, description=f"applied {applied} resources (last: {entry.type.split(':')[-1]} {entry.name})"
            )

        from infra.runner import run_program  # the program pulls in pulumi_aws (~2 s): only when applying

        return apply_stack(settings, context.clients, repo_root, runner=run_program, on_applied=on_applied)


def _apply_summary(result: ApplyResult) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "resources": result.resource_count,
        "counts": result.counts,
        "seconds": round(result.seconds, 3),
        "outputs_file": str(result.outputs_file),
        "ledger_file": str(result.ledger_file),
    }


@app.command()
def down(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Stop the emulator this project started (and nothing else). Its in-memory resources are gone; the stacks'
    MLflow tracking stores, whose model versions name them, are moved to `<state_dir>/mlflow-retired/`."""
    from mlops.local import emulator, spark_connect, tracking_stores, warm_cli  # httpx, psutil: not for `--help`

    settings = cli_context(ctx).settings
    warm_cli.down(settings.state_dir)
    if settings.cloud == "gcp":
        from mlops.cli import local_gcp

        local_gcp.down(cli_context(ctx), json_out=json_out)
        return
    spark_connect.down(spark_connect.spark_dir(settings.state_dir))
    before = emulator.down(settings.emulator_dir)
    # its data is gone (a stale record: gone earlier), and with it what the tracking stores name
    retired = tracking_stores.retire(settings.state_dir) if before.state is not None else []
    if json_out:
        pid = before.state.pid if before.state else None
        emit_json({"was": before.health, "pid": pid, "retired_tracking_stores": [str(path) for path in retired]})
        return
    if before.state is None:
        console.print("no emulator was running")
    elif before.health == "stale":
        console.print(f"[yellow]cleared stale record:[/] {before.detail}")
    else:
        console.print(f"[green]stopped[/] moto server pid {before.state.pid}")
    print_retired(retired)


@app.command()
def status(ctx: typer.Context, json_out: JsonFlag = False, stack: StackOption = None) -> None:
    """Report whether the emulator runs, where and since when, the stacks applied to it, and the resources the
    last `up` of the stack applied (counts per type, outputs file). Exits 1 when the emulator is not running."""
    from mlops.local import emulator, warm_cli
    from mlops.local.apply.ledger import count_by_type, ledger_path, read_ledger  # httpx, psutil: not for `--help`
    from mlops.local.state import applied_stacks

    context = _for_stack(ctx, stack)
    settings = context.settings
    if settings.cloud == "gcp":
        from mlops.cli import local_gcp

        local_gcp.status(context, json_out=json_out)
        return
    current = emulator.status(settings.emulator_dir)
    warm = warm_cli.status(settings.state_dir)
    ledger = read_ledger(ledger_path(settings.resolved_outputs_file))
    by_type = count_by_type(ledger["resources"]) if ledger else {}
    outputs_file = settings.resolved_outputs_file if settings.resolved_outputs_file.is_file() else None
    if json_out:
        emit_json(
            {
                "health": current.health,
                "detail": current.detail,
                "pid": current.state.pid if current.state else None,
                "endpoint_url": current.state.public_url if current.state else None,
                "moto_url": current.endpoint_url,
                "stack": settings.stack_name,
                "applied_stacks": applied_stacks(settings.resolved_outputs_file.parent),
                "outputs_file": str(outputs_file) if outputs_file else None,
                "resources": sum(by_type.values()),
                "resources_by_type": by_type,
                "warm_cli": warm,
            }
        )
    elif current.health == "running" and current.state is not None:
        uptime = time.time() - current.state.started_at
        out.print(f"[green]running[/] {current.detail} (up {uptime:.0f}s)")
        stacks = applied_stacks(settings.resolved_outputs_file.parent)
        out.print(f"stacks applied: {', '.join(stacks) if stacks else 'none'}")
        _print_resources(settings.stack_name, by_type, outputs_file)
    else:
        colour = "yellow" if current.health == "stale" else "red"
        out.print(f"[{colour}]{current.health}[/] {current.detail}")
    if not json_out:
        out.print(_warm_cli_line(warm))
    if current.health != "running":
        raise typer.Exit(1)


def _warm_cli_line(warm: dict[str, Any] | None) -> str:
    if warm is None:
        return "warm command server: not running (commands import their libraries each time)"
    state = "answering" if warm["answers"] else "importing its libraries (commands run cold meanwhile)"
    return f"warm command server: pid {warm['pid']}, {state}"


def _print_resources(stack: str, by_type: dict[str, int], outputs_file: Any) -> None:
    if not by_type:
        out.print(f"stack {stack!r} is not applied: run `mlops local up`")
        return
    table = Table(title=f"stack {stack!r}: {sum(by_type.values())} resources")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_token, count in by_type.items():
        table.add_row(type_token, str(count))
    out.print(table)
    out.print(f"outputs: {outputs_file}")


@app.command()
def reset(ctx: typer.Context) -> None:
    """Drop every resource in the running emulator (the process keeps running), of every stack applied to it;
    their outputs and ledgers are removed, their MLflow tracking stores moved to `<state_dir>/mlflow-retired/`."""
    from mlops.local import emulator, tracking_stores
    from mlops.local.apply.ledger import ledger_path  # httpx, psutil: not for `--help`

    settings = cli_context(ctx).settings
    if settings.cloud == "gcp":  # Google's emulators have no reset: in memory, a restart empties them
        raise ConfigError(
            "mlops local reset empties moto (cloud aws); with cloud gcp run `mlops local down && mlops local up`: "
            "the Google emulators start empty and the stack is applied again"
        )
    try:
        state = emulator.reset(settings.emulator_dir)
    except StalePidfileError:
        console.print("[yellow]the emulator record is stale[/]; run `mlops local down` then `mlops local up`")
        raise
    settings.resolved_outputs_file.unlink(missing_ok=True)
    ledger_path(settings.resolved_outputs_file).unlink(missing_ok=True)
    print_retired(tracking_stores.retire(settings.state_dir))
    from mlops.local.state import forget_applied_stacks

    forgotten = forget_applied_stacks(settings.resolved_outputs_file.parent)
    stacks = f" (stacks {', '.join(forgotten)})" if forgotten else ""
    console.print(f"[green]reset[/] moto server pid {state.pid}: all resources removed{stacks}")


def print_retired(moved: list[Path]) -> None:
    """Say where the tracking stores an emulator's data took along went (:mod:`mlops.local.tracking_stores`)."""
    from mlops.local import tracking_stores

    if moved:
        console.print(f"[yellow]retired[/] {escape(tracking_stores.describe(moved))}")


local_data.register(app)  # snapshot and restore, listed after the commands above
