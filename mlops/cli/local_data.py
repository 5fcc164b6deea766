"""``mlops local snapshot | restore``: the emulator's data kept on disk and put back (moto keeps it in memory:
an emulator that dies takes it along). The work is in :mod:`mlops.local.snapshot`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json

Directory = Annotated[Path, typer.Argument(help="Directory of the snapshot.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def snapshot(ctx: typer.Context, directory: Directory, json_out: JsonFlag = False) -> None:
    """Save the stack's buckets and online-store table from the running emulator to DIRECTORY (not the Kinesis
    stream nor its checkpoints: see docs/local.md)."""
    from mlops.local import snapshot as snapshots
    from mlops.local.clients import clients_of

    platform = cli_context(ctx).platform()
    buckets, tables = snapshots.stack_data(platform.outputs)
    summary = snapshots.snapshot(clients_of(platform), directory, buckets=buckets, tables=tables)
    if json_out:
        emit_json({"directory": str(directory), "objects": summary.objects, "items": summary.items})
        return
    console.print(
        f"[green]saved[/] {summary.objects} objects of {len(buckets)} buckets and {summary.items} items of "
        f"{', '.join(tables)} to {directory}"
    )


def restore(ctx: typer.Context, directory: Directory, json_out: JsonFlag = False) -> None:
    """Put a snapshot back into the running emulator (after `mlops local up` re-created the stack)."""
    from mlops.local import snapshot as snapshots
    from mlops.local.clients import clients_of

    summary = snapshots.restore(clients_of(cli_context(ctx).platform()), directory)
    if json_out:
        emit_json({"directory": str(directory), "objects": summary.objects, "items": summary.items})
        return
    console.print(f"[green]restored[/] {summary.objects} objects and {summary.items} items from {directory}")


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` and ``restore`` to ``mlops local``."""
    app.command("snapshot")(snapshot)
    app.command("restore")(restore)
