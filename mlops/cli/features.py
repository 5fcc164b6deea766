"""``mlops features``: load the online feature store from the offline feature table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.progress import Progress

from mlops.cli.context import cli_context, console, emit_json

app = typer.Typer(
    help=(
        "The feature store: the offline store is the Delta table tables/<dataset> in the features bucket (written by "
        "the build_features job, catalogued as <dataset>_features); `materialize` loads the latest row per entity "
        "into the online store (DynamoDB on AWS)."
    ),
    no_args_is_help=True,
)


@app.command()
def materialize(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[int | None, typer.Option(help="Feature table version; default: latest.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Write the latest feature row of every entity to the online store."""
    from pipelines.feature_store.materialize import materialize as run

    context = cli_context(ctx)
    platform = context.platform()
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"materializing {dataset}", total=None)
        result = run(
            platform,
            definition,
            version,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if json_out:
        emit_json(asdict(result))
        return
    console.print(
        f"[green]materialized[/] {result.entities} entities of {dataset} (feature table v{result.table_version}) "
        f"into {result.online_table}"
    )
