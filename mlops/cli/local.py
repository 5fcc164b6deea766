"""``mlops local``: the embedded emulator (moto's server, out of process) and the platform applied to it."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json
from mlops.errors import StalePidfileError
from mlops.local import emulator

app = typer.Typer(
    help=(
        "Run the platform on your machine: `up` starts moto's server on a free loopback port (pidfile and "
        "log under .mlops/emulator) and reuses it on a second call; `down` stops exactly that process."
    ),
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@app.command()
def up(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Listen on this port instead of a free one.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Start the embedded emulator, or reuse the healthy one already running."""
    settings = cli_context(ctx).settings
    before = emulator.status(settings.emulator_dir)
    if before.health == "stale":
        console.print(f"[yellow]stale emulator record:[/] {before.detail}; starting a fresh server")
    started_at = time.monotonic()
    with console.status("starting moto server..."):
        state, started = emulator.up(settings.emulator_dir, port=port)
    verb = "started" if started else "reused"
    if json_out:
        emit_json({"emulator": verb, "pid": state.pid, "endpoint_url": state.endpoint_url})
        return
    console.print(
        f"[green]{verb}[/] moto server pid {state.pid} at {state.endpoint_url} ({time.monotonic() - started_at:.1f}s)"
    )


@app.command()
def down(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Stop the emulator this project started (and nothing else). Its in-memory resources are gone."""
    settings = cli_context(ctx).settings
    before = emulator.down(settings.emulator_dir)
    if json_out:
        emit_json({"was": before.health, "pid": before.state.pid if before.state else None})
        return
    if before.state is None:
        console.print("no emulator was running")
    elif before.health == "stale":
        console.print(f"[yellow]cleared stale record:[/] {before.detail}")
    else:
        console.print(f"[green]stopped[/] moto server pid {before.state.pid}")


@app.command()
def status(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Report whether the emulator runs, where, and since when. Exits 1 when it is not running."""
    settings = cli_context(ctx).settings
    current = emulator.status(settings.emulator_dir)
    if json_out:
        emit_json(
            {
                "health": current.health,
                "detail": current.detail,
                "pid": current.state.pid if current.state else None,
                "endpoint_url": current.endpoint_url,
            }
        )
    elif current.health == "running" and current.state is not None:
        uptime = time.time() - current.state.started_at
        console.print(f"[green]running[/] {current.detail} (up {uptime:.0f}s)")
    else:
        colour = "yellow" if current.health == "stale" else "red"
        console.print(f"[{colour}]{current.health}[/] {current.detail}")
    if current.health != "running":
        raise typer.Exit(1)


@app.command()
def reset(ctx: typer.Context) -> None:
    """Drop every resource in the running emulator (the process keeps running)."""
    settings = cli_context(ctx).settings
    try:
        state = emulator.reset(settings.emulator_dir)
    except StalePidfileError:
        console.print("[yellow]the emulator record is stale[/]; run `mlops local down` then `mlops local up`")
        raise
    settings.resolved_outputs_file.unlink(missing_ok=True)
    console.print(f"[green]reset[/] moto server pid {state.pid}: all resources removed")
