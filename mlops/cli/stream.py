"""``mlops stream``: send a dataset file to the event stream; consume the stream into the online store."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from mlops.cli.context import cli_context, console, emit_json

app = typer.Typer(
    help="The streaming path: events into the stack's event stream (Kinesis on AWS), online features out of it.",
    no_args_is_help=True,
)


@app.command()
def produce(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (its definition checks every row).")],
    file: Annotated[Path, typer.Argument(help="CSV, JSON lines or Parquet file, as `mlops data generate` writes.")],
    rate: Annotated[
        float | None, typer.Option(help="At most this many events per second (default: as fast as possible).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Send the file's valid rows as JSON events (partition key: the entity); quarantine the invalid ones."""
    from pipelines.stream.produce import produce as run

    context = cli_context(ctx)
    platform = context.platform()
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"sending {file.name}", total=None)
        result = run(
            platform,
            definition,
            file,
            rate=rate,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if json_out:
        emit_json(asdict(result))
        return
    console.print(
        f"[green]sent[/] {result.sent} of {result.rows_read} rows of {dataset} to {result.stream} "
        f"in {result.seconds:.1f}s ({result.put_calls} put calls, {result.retried} entries retried); "
        f"{result.quarantined} quarantined"
    )
    for key in result.quarantine_keys:
        console.print(f"  quarantine: {key}")


@app.command()
def consume(  # noqa: PLR0917 (typer passes options positionally)
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (its definition gives the features).")],
    max_records: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    idle_seconds: Annotated[float, typer.Option(help="Stop once no record arrived for this long.")] = 5.0,
    seed_from_curated: Annotated[
        bool, typer.Option(help="Warm entity histories from the curated Delta table before reading.")
    ] = False,
    seed_version: Annotated[
        int | None, typer.Option(help="Curated table version to seed from (default: latest).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Compute each event's online features and write them to the online store, resuming from checkpoints.

    The run leases the stream's partitions: a second run for the same dataset reads none of the partitions the
    first one holds (the leases of a run that died expire after 30 s)."""
    from pipelines.stream.consume import consume as run

    context = cli_context(ctx)
    platform = context.platform()
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"consuming {dataset}", total=max_records)
        result = run(
            platform,
            definition,
            max_records=max_records,
            idle_seconds=idle_seconds,
            seed_curated=seed_from_curated,
            seed_version=seed_version,
            progress=lambda done: progress.update(task, completed=done),
        )
    if json_out:
        emit_json(asdict(result))
        return
    console.print(
        f"[green]consumed[/] {result.read} records of {dataset} in {result.seconds:.1f}s: "
        f"{result.written} online items written, {result.quarantined} quarantined"
        + (f", {result.seeded} history rows seeded from curated v{result.seed_version}" if seed_from_curated else "")
        + (f", {result.restored} history rows restored from the last run" if result.restored else "")
    )
    if not result.leased:
        console.print(
            f"[yellow]no partition was free[/]: another owner of consumer {result.consumer} holds every lease "
            "(a run that died releases them when they expire)"
        )
    for partition, counts in sorted(result.partitions.items()):
        console.print(
            f"  {partition}: {counts.records} records ({counts.committed_records} in all), "
            f"checkpoint {counts.checkpoint}, lag {counts.lag_millis} ms"
        )
