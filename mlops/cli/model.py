"""``mlops model``: list registered versions, promote the challenger through the gate, roll back."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlops.cli.context import cli_context, console, emit_json, out

app = typer.Typer(
    help=(
        "The model registry: MLflow versions with `challenger`/`champion` aliases, kept in step with the cloud's "
        "model packages (approval status; stage Staging/Production/Archived)."
    ),
    no_args_is_help=True,
)


@app.command("list")
def list_versions(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset (= registered model) name.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Versions with aliases, stages, validation metrics and lineage."""
    from pipelines.registry.promotion import list_models

    rows = list_models(cli_context(ctx).platform(), dataset)
    if json_out:
        emit_json(rows)
        return
    table = Table("version", "aliases", "stage", "approval", "metrics", "dataset v", "job", "code")
    for row in rows:
        metrics = ", ".join(f"{k.removeprefix('validation_')}={v:.4f}" for k, v in row["metrics"].items())
        table.add_row(
            str(row["version"]), ",".join(row["aliases"]), row["stage"], row["approval"], metrics,
            row["dataset_version"], row["training_job"], row["code_version"][:10],
        )  # fmt: skip
    out.print(table)


@app.command()
def promote(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset (= registered model) name.")],
    *,
    margin: Annotated[
        float, typer.Option(help="Required improvement of the primary metric (PR-AUC up / RMSE down), absolute.")
    ] = 0.01,
    force: Annotated[bool, typer.Option(help="Promote even if the gate fails (needs --reason).")] = False,
    reason: Annotated[str, typer.Option(help="Why the gate is overridden (recorded on the version).")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Make the challenger champion if it beats the champion on the challenger's holdout by --margin."""
    from dataclasses import asdict

    from pipelines.registry.promotion import promote as run_promotion

    context = cli_context(ctx)
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    with console.status("evaluating challenger and champion on the holdout..."):
        decision = run_promotion(context.platform(), definition, margin, force=force, reason=reason)
    if json_out:
        emit_json(asdict(decision))
        return
    console.print(
        f"[green]promoted[/] {dataset} v{decision.challenger_version} to champion "
        f"({decision.metric}={decision.challenger_score:.4f}; previous champion "
        f"{'v' + str(decision.champion_version) if decision.champion_version else 'none'})"
    )


@app.command()
def rollback(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset (= registered model) name.")],
) -> None:
    """Restore the previous champion; the current one is archived and its package rejected."""
    from pipelines.registry.promotion import rollback as run_rollback

    context = cli_context(ctx)
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    old, restored = run_rollback(context.platform(), definition)
    console.print(f"[green]rolled back[/] {dataset}: champion v{old} -> v{restored}")
