"""``mlops train``: start the training pipeline for a dataset (through the wiring's runner), or render its
definition."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import Context
from typer.core import TyperGroup

from mlops.cli.context import cli_context, console, emit_json, key_value_pairs
from mlops.contracts import CHALLENGER

if TYPE_CHECKING:
    from mlops.platform import Platform
    from mlops.ports.model_registry import ModelVersionInfo
    from mlops.ports.training import PipelineExecution, StepExecution


class _DatasetFirstGroup(TyperGroup):
    """``mlops train DATASET`` runs ``mlops train run DATASET``; named subcommands keep working."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DatasetFirstGroup,
    help=(
        "Train a dataset's model: `mlops train DATASET` starts the stack's training pipeline for the dataset "
        "(prepare -> train -> evaluate -> quality bar -> register). On AWS SageMaker Pipelines runs it; on the "
        "emulator the kit's local pipeline executor runs the same definition here. A model that passes the quality "
        "bar is registered as `challenger` (MLflow version + model package, PendingManualApproval). "
        "`mlops train pipeline-definition` renders the pipeline definition JSON the infra program deploys."
    ),
    no_args_is_help=True,
)


def _hyperparameters(pairs: list[str]) -> dict[str, str]:
    return {key: value.strip() for key, value in key_value_pairs(pairs, "--hp", "name=value").items()}


def _step_line(step: StepExecution) -> str:
    outcome = step.metadata.get("Condition", {}).get("Outcome")
    detail = f" (outcome {outcome})" if outcome else (f": {step.failure_reason}" if step.failure_reason else "")
    colour = {"Succeeded": "green", "Failed": "red"}.get(step.status, "yellow")
    return f"  [{colour}]{step.status:<9}[/] {step.name}{detail}"


@app.command("run")
def run(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (a definition in the datasets directory).")],
    *,
    version: Annotated[int | None, typer.Option(help="Feature table (Delta) version; default: latest.")] = None,
    hp: Annotated[
        list[str] | None, typer.Option("--hp", help="Hyperparameter override name=value, repeatable.")
    ] = None,
    min_skill: Annotated[
        float | None, typer.Option(help="Quality bar: the least `quality.skill` a model needs to be registered.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Start the training pipeline for DATASET; a model passing the quality bar becomes challenger.

    Where the pipeline runs is the wiring's choice (`services.training`): the local pipeline executor on the
    emulator (the command returns when the execution has finished; exit 1 if it failed), SageMaker Pipelines on
    AWS (the command prints the execution ARN and returns while it runs).
    """
    from pipelines.training.workflow import train_dataset

    context = cli_context(ctx)
    platform = context.platform()
    from mlops.datasets import find_definition

    definition = find_definition(dataset, context.settings.datasets_dir)
    with console.status(f"running the training pipeline for {dataset}..."):
        started = train_dataset(
            platform, definition, version=version, hyperparameters=_hyperparameters(hp or []), min_skill=min_skill
        )
    execution = started.execution
    summary: dict[str, Any] = {
        "dataset": dataset,
        "pipeline": execution.pipeline,
        "execution_arn": execution.arn,
        "status": execution.status,
        "failure_reason": execution.failure_reason,
        "parameters": started.parameters,
        "steps": [asdict(step) for step in execution.steps],
    }
    challenger = _challenger(platform, dataset, execution)
    if challenger is not None:
        summary.update(
            mlflow_version=challenger.version,
            model_package_arn=challenger.model_package_arn,
            metrics=challenger.metrics,
            training_job=challenger.tags.get("training_job", ""),
        )
    if json_out:
        emit_json(summary)
    else:
        _report(dataset, execution, challenger)
    if execution.status in ("Failed", "Stopped"):
        raise typer.Exit(1)


def _challenger(platform: Platform, dataset: str, execution: PipelineExecution) -> ModelVersionInfo | None:
    """The version this execution registered (the challenger whose lineage names the execution)."""
    if execution.status != "Succeeded":
        return None
    found = platform.services.model_registry.find(dataset, CHALLENGER)
    return found if found is not None and found.tags.get("pipeline_execution") == execution.arn else None


def _report(dataset: str, execution: PipelineExecution, challenger: ModelVersionInfo | None) -> None:
    if not execution.finished:
        console.print(f"[green]started[/] pipeline {execution.pipeline} for {dataset}: {execution.arn}")
        console.print(
            "  follow it with `aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn "
            f"{execution.arn}`; a model that passes the quality bar is registered as challenger"
        )
        return
    for step in execution.steps:
        console.print(_step_line(step))
    if execution.status != "Succeeded":
        console.print(f"[red]{execution.status.lower()}[/] {dataset}: {execution.failure_reason}")
        return
    if challenger is None:
        console.print(f"[green]succeeded[/] {dataset}: {execution.arn}")
        return
    console.print(
        f"[green]trained[/] {dataset} v{challenger.version} (challenger), job {challenger.tags.get('training_job', '')}"
    )
    for name, value in sorted(challenger.metrics.items()):
        console.print(f"  {name} = {value:.4f}")


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
