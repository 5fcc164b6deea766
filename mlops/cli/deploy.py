"""``mlops deploy``, ``mlops predict``, ``mlops batch-predict`` and ``mlops endpoint``: serving a registered model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json
from mlops.local.platform import Platform

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Dataset = Annotated[str, typer.Argument(help="Dataset name = registered model name (e.g. card_transactions).")]
Version = Annotated[
    str | None, typer.Option("--version", help="Registered model version (default: the `champion` alias).")
]

endpoint_app = typer.Typer(help="The local endpoint process started by `mlops deploy` on the emulator.")


def deploy(  # noqa: PLR0917 (typer passes options positionally)
    ctx: typer.Context,
    dataset: Dataset,
    version: Version = None,
    image_uri: Annotated[str | None, typer.Option(help="Serving image in ECR (AWS only).")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the local endpoint instead of deploying.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Deploy a registered model version to the stack's endpoint.

    On AWS: creates the version's SageMaker model and endpoint config and creates the endpoint or updates it
    blue/green with automatic rollback on the endpoint alarms. Locally: starts the serving process on a new
    port, health-checks it, then switches the route and stops the previous process.
    """
    platform = cli_context(ctx).platform()
    if stop:
        _stop(platform, json_out)
        return
    if platform.settings.target == "aws":
        from serving.deploy import deploy_version

        with console.status(f"deploying {dataset} to SageMaker..."):
            result = deploy_version(platform, dataset, version, image_uri)
    else:
        from mlops.local import endpoint_runner
        from serving.local_hosting import hosting_spec

        with console.status(f"starting the serving process for {dataset} and waiting for /ping..."):
            route = endpoint_runner.deploy(platform, hosting_spec(platform, dataset, version))
        result = {"endpoint": route.endpoint, "version": route.version, "url": route.url, "pid": str(route.pid)}
    if json_out:
        emit_json(result)
    else:
        console.print(f"[green]deployed[/] {dataset} version {result['version']} to {result['endpoint']}")


def predict(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Payload file (CSV, JSON lines or MLflow JSON); '-' reads stdin.")],
    content_type: Annotated[str, typer.Option(help="Content type of the payload.")] = "application/json",
    accept: Annotated[str, typer.Option(help="Response type: application/json or text/csv.")] = "application/json",
) -> None:
    """Score a payload on the stack's endpoint (SageMaker runtime on AWS, the local process otherwise)."""
    from mlops.adapters.endpoint import endpoint_for

    body = sys.stdin.buffer.read() if str(data) == "-" else data.read_bytes()
    answer = endpoint_for(cli_context(ctx).platform()).invoke(body, content_type, accept)
    sys.stdout.write(answer.body.decode() + ("" if answer.body.endswith(b"\n") else "\n"))


def batch_predict(
    ctx: typer.Context,
    dataset: Dataset,
    version: Version = None,
    data_version: Annotated[
        int | None, typer.Option(help="Version of the feature Delta table to score (default: latest).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Score the dataset's feature table into a predictions dataset (batch transform contract)."""
    from mlops.datasets import find_definition
    from serving.batch import batch_predict as run

    platform = cli_context(ctx).platform()
    definition = find_definition(dataset, platform.settings.datasets_dir)
    with console.status(f"scoring {dataset} features..."):
        result = run(platform, definition, version, data_version)
    if json_out:
        emit_json(result.__dict__)
    elif result.rows is None:
        console.print(f"[green]started[/] transform job {result.job} ({result.transform_job_arn})")
    else:
        console.print(
            f"[green]scored[/] {result.rows} rows with version {result.model_version}: {result.predictions_uri}"
        )


def _stop(platform: Platform, json_out: bool) -> None:
    from mlops.local import endpoint_runner

    stopped = endpoint_runner.stop(platform)
    if json_out:
        emit_json({"stopped": stopped.pid if stopped else None})
    elif stopped is None:
        console.print("no local endpoint was running")
    else:
        console.print(f"[green]stopped[/] endpoint process pid {stopped.pid} (version {stopped.version})")


@endpoint_app.command("stop")
def stop_endpoint(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Stop the local endpoint process (only the one recorded in the pidfile)."""
    _stop(cli_context(ctx).platform(), json_out)


@endpoint_app.command("status")
def endpoint_status(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Show the local endpoint's route: process, port and model version."""
    from mlops.local import endpoint_runner

    route = endpoint_runner.read_route(cli_context(ctx).platform())
    if json_out:
        emit_json(route.__dict__ if route else None)
    elif route is None:
        console.print("no local endpoint is deployed")
    else:
        console.print(f"{route.endpoint}: pid {route.pid} at {route.url}, model {route.model_uri}")


def register(app: typer.Typer) -> None:
    """Add the serving commands to the root CLI."""
    app.command("deploy")(deploy)
    app.command("predict")(predict)
    app.command("batch-predict")(batch_predict)
    app.add_typer(endpoint_app, name="endpoint")
