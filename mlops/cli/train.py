"""``mlops train``: train a dataset's model locally the SageMaker way, or render the SageMaker Pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import Context
from typer.core import TyperGroup

from mlops.cli.context import cli_context, console, emit_json, key_value_pairs
from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import ConfigError
from mlops.local.platform import Platform


class _DatasetFirstGroup(TyperGroup):
    """``mlops train DATASET`` runs ``mlops train run DATASET``; named subcommands keep working."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DatasetFirstGroup,
    help=(
        "Train a dataset's model: `mlops train DATASET` reads the feature table (at --version), splits it by "
        "time, runs the SageMaker-contract entry point as a training job, logs the run to MLflow and registers "
        "the model as `challenger` plus a SageMaker model package (PendingManualApproval). "
        "`mlops train pipeline-definition` renders the SageMaker Pipeline JSON the infra program deploys."
    ),
    no_args_is_help=True,
)


def _hyperparameters(pairs: list[str]) -> dict[str, str]:
    return {key: value.strip() for key, value in key_value_pairs(pairs, "--hp", "name=value").items()}


@app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (a definition in the datasets directory).")],
    *,
    version: Annotated[int | None, typer.Option(help="Feature table (Delta) version; default: latest.")] = None,
    hp: Annotated[
        list[str] | None, typer.Option("--hp", help="Hyperparameter override name=value, repeatable.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Train DATASET and register the model as challenger.

    On the emulator the steps run here (the local training runner plays SageMaker). On AWS (`--target aws`) this
    starts the stack's SageMaker Pipeline for DATASET (prepare, train, evaluate, quality bar, register) and
    prints the execution ARN.
    """
    context = cli_context(ctx)
    platform = context.platform()
    definition = find_definition(dataset, context.settings.datasets_dir)
    if context.settings.target == "aws":
        _start_pipeline(platform, definition, version, hp or [], json_out)
        return
    from pipelines.training.workflow import train_dataset

    with console.status(f"training {dataset}...") as status:
        outcome = train_dataset(
            platform,
            definition,
            version=version,
            hyperparameters=_hyperparameters(hp or []),
            progress=status.update,
        )
    summary: dict[str, Any] = {
        "dataset": dataset,
        "feature_table_version": outcome.table_version,
        "training_job": outcome.job.job_name,
        "status": outcome.job.status,
        "seconds": outcome.job.seconds,
        "metrics": outcome.job.metrics,
        "model_artifact": outcome.job.model_artifact,
        "mlflow_version": outcome.registration.model_version,
        "model_package_arn": outcome.registration.model_package_arn,
        "code_version": outcome.code_version,
    }
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"[green]trained[/] {dataset} v{outcome.registration.model_version} (challenger) in "
        f"{outcome.job.seconds:.1f}s, job {outcome.job.job_name}, feature table v{outcome.table_version}"
    )
    for name, value in sorted(outcome.job.metrics.items()):
        console.print(f"  {name} = {value:.4f}")


def _start_pipeline(
    platform: Platform, definition: DatasetDefinition, version: int | None, hp: list[str], json_out: bool
) -> None:
    from pipelines.training.remote import start_training_pipeline

    if hp:
        raise ConfigError("--hp applies to local training; on AWS the pipeline's Train step uses its own defaults")
    run = start_training_pipeline(platform, definition, version)
    if json_out:
        emit_json({"pipeline": run.pipeline, "execution_arn": run.execution_arn, "parameters": run.parameters})
        return
    console.print(f"[green]started[/] pipeline {run.pipeline} for {definition.name}: {run.execution_arn}")
    console.print(
        "  follow it with `aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn "
        f"{run.execution_arn}`; a model that passes the quality bar is registered PendingManualApproval"
    )


@app.command("pipeline-definition")
def pipeline_definition(
    out: Annotated[Path, typer.Option(help="File to write.")] = Path("pipelines/training/pipeline_definition.json"),
    check: Annotated[bool, typer.Option(help="Only compare with the file; exit 1 if it differs.")] = False,
) -> None:
    """Render the SageMaker Pipeline definition offline (role, bucket, image are pipeline parameters)."""
    from pipelines.training.pipeline_definition import render

    rendered = render()
    if check:
        if not out.is_file() or out.read_text() != rendered:
            console.print(f"[red]{out} is out of date[/]: run `mlops train pipeline-definition`")
            raise typer.Exit(1)
        console.print(f"{out} is up to date")
        return
    out.write_text(rendered)
    console.print(f"wrote {out}")
