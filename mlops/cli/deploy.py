"""``mlops deploy``, ``mlops predict``, ``mlops batch-predict`` and ``mlops endpoint``: serving a registered model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json, out

if TYPE_CHECKING:
    from mlops.platform import Platform
    from mlops.ports.hosting import Deployment

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Dataset = Annotated[str, typer.Argument(help="Dataset name = registered model name (e.g. card_transactions).")]
Version = Annotated[
    str | None, typer.Option("--version", help="Registered model version (default: the `champion` alias).")
]

endpoint_app = typer.Typer(
    help="The stack's endpoint: what it serves, and stopping it (the local process on the emulators, the "
    "SageMaker endpoint on AWS, the Vertex AI endpoint on Google Cloud)."
)


def deploy(  # noqa: PLR0917 (typer passes options positionally)
    ctx: typer.Context,
    dataset: Dataset,
    version: Version = None,
    image_uri: Annotated[
        str | None, typer.Option(help="Serving image (an ECR image on AWS; locally the checkout's server).")
    ] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the stack's endpoint instead of deploying.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Deploy a registered model version to the stack's endpoint.

    On AWS: creates the version's SageMaker model and endpoint config and creates the endpoint or updates it
    blue/green with automatic rollback on the endpoint alarms. Locally: starts the serving process on a new
    port, health-checks it, then switches the route and stops the previous process.
    """
    from serving.deploy import deploy_model

    platform = cli_context(ctx).platform()
    if stop:
        _stop(platform, json_out)
        return
    with console.status(f"deploying {dataset} and waiting until it is healthy and its traffic shifted..."):
        deployment = deploy_model(platform, dataset, version, image_uri)
    rolled_back = deployment.action == "rolled back"
    if json_out:
        emit_json(deployment.as_dict())
    elif rolled_back:
        reason = (deployment.rollout or {}).get("reason", "")
        console.print(
            f"[red]rolled back[/] {dataset}: {deployment.endpoint} still serves version {deployment.version}; {reason}"
        )
    else:
        where = f" at {deployment.url}" if deployment.url else ""
        console.print(
            f"[green]deployed[/] {dataset} version {deployment.version} to {deployment.endpoint}{where} "
            f"({deployment.action}, {deployment.status})"
        )
    if rolled_back:
        raise typer.Exit(1)


# What a payload file holds, by its suffix (the endpoint's content types, serving/payload.py).
SUFFIX_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/jsonlines",
    ".ndjson": "application/jsonlines",
    ".json": "application/json",
}


def predict(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Payload file (CSV, JSON lines or MLflow JSON); '-' reads stdin.")],
    content_type: Annotated[
        str | None,
        typer.Option(help="Content type of the payload (default: from the file's suffix, .csv -> text/csv)."),
    ] = None,
    accept: Annotated[str, typer.Option(help="Response type: application/json or text/csv.")] = "application/json",
) -> None:
    """Score a payload on the stack's endpoint (SageMaker runtime on AWS, the local process otherwise)."""
    body = sys.stdin.buffer.read() if str(data) == "-" else data.read_bytes()
    kind = content_type or SUFFIX_CONTENT_TYPES.get(data.suffix.lower(), "application/json")
    answer = cli_context(ctx).platform().services.endpoint.invoke(body, kind, accept)
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
    stopped = platform.services.hosting.stop(platform.outputs.endpoint_name)
    if json_out:
        emit_json(stopped.as_dict() if stopped else None)
    elif stopped is None:
        console.print(f"nothing was deployed at endpoint {platform.outputs.endpoint_name}")
    else:
        process = f" (process {stopped.pid})" if stopped.pid else ""
        console.print(f"[green]stopped[/] endpoint {stopped.endpoint}{process}, version {stopped.version}")


@endpoint_app.command("stop")
def stop_endpoint(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Stop the stack's endpoint (locally: only the process recorded in the pidfile)."""
    _stop(cli_context(ctx).platform(), json_out)


@endpoint_app.command("status")
def endpoint_status(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Show what the stack's endpoint serves: model version, status and, locally, the process and port."""
    platform = cli_context(ctx).platform()
    deployment = platform.services.hosting.status(platform.outputs.endpoint_name)
    if json_out:
        emit_json(deployment.as_dict() if deployment else None)
    elif deployment is None:
        out.print(f"nothing is deployed at endpoint {platform.outputs.endpoint_name}")
    else:
        where = f", pid {deployment.pid} at {deployment.url}" if deployment.pid else ""
        out.print(f"{deployment.endpoint}: {deployment.status}{where}, model {deployment.model_uri}")
        _print_fleets(deployment)


def _print_fleets(deployment: Deployment) -> None:
    """The processes behind the endpoint with their traffic weights, and the last blue/green deployment."""
    for fleet in deployment.fleets:
        out.print(fleet_line(fleet))
    rollout = deployment.rollout or {}
    if rollout:
        versions = f"{rollout.get('previous_version', '?')} -> {rollout.get('target_version', '?')}"
        routing = rollout.get("traffic_routing", "")
        out.print(f"  last deployment {versions} ({routing}): {rollout.get('stage', '')}")
    if rollout.get("rolled_back"):
        out.print(f"  [red]rolled back[/]: {rollout.get('reason', '')}")


def fleet_line(fleet: dict[str, object]) -> str:
    """One fleet of :attr:`Deployment.fleets` as a line, from the keys it has: each hosting reports what it knows
    (SageMaker: variants and weights; Vertex AI: deployed models and traffic; the local runners: processes too)."""
    name = "/".join(str(fleet[key]) for key in ("variant", "fleet") if fleet.get(key))
    details = [f"version {fleet['version']}"] if fleet.get("version") else []
    weight = fleet.get("weight")
    if isinstance(weight, int | float):
        details.append(f"weight {float(weight):g}")
    if fleet.get("pid"):
        state = "running" if fleet.get("running") else "not running"
        details.append(f"pid {fleet['pid']} at {fleet.get('url')} ({state})")
    return f"  {name}: {', '.join(details)}"


# The root command lists these four by name (mlops.cli.main), so they load together when one of them runs.
app = typer.Typer()
app.command("deploy")(deploy)
app.command("predict")(predict)
app.command("batch-predict")(batch_predict)
app.add_typer(endpoint_app, name="endpoint")
