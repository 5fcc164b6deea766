"""``mlops infra``: the Pulumi program in infra/, previewed without the Pulumi CLI or an AWS account."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlops.cli.context import cli_context, console, emit_json

app = typer.Typer(
    help=(
        "Inspect the infrastructure program. `plan` runs it in-process under Pulumi mocks (no CLI, engine or "
        "account) and prints every resource it declares: type, logical name, key inputs and dependencies."
    ),
    no_args_is_help=True,
)


@app.command()
def plan(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(help="Stack to plan: local, dev, staging, prod, gcp-dev... (default: the global --env)."),
    ] = None,
    repo_root: Annotated[
        Path | None, typer.Option(help="Repository holding infra/ and jobs/ (default: the installed kit's).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the graph as stable JSON on stdout.")] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help=(
                "With --json: every resource with its complete inputs (policies and definitions unabridged, and "
                "parsed under 'documents'), its id and ARN as the local apply names them, parent and dependencies "
                "per input: for a team's own scanners."
            ),
        ),
    ] = False,
) -> None:
    """Show the resource graph the program declares for a stack, with its would-be outputs."""
    from infra.config import REPO_ROOT
    from infra.plan import plan_stack

    if full and not json_out:
        raise typer.BadParameter("--full describes the JSON document: use it with --json", param_hint="--full")
    chosen = stack or cli_context(ctx).settings.stack_name
    started = time.monotonic()
    with console.status(f"running the infra program for stack {chosen!r} under mocks..."):
        result = plan_stack(chosen, repo_root or REPO_ROOT)
    document = result.to_json(full=full)
    if json_out:
        emit_json(document)
        return
    table = Table(
        title=f"stack {chosen}: {document['resource_count']} resources in {document['component_count']} components"
    )
    for column in ("component", "type", "logical name", "key inputs", "depends on"):
        table.add_column(column, overflow="fold")
    for resource in document["resources"]:
        if resource["component"] is None:
            continue
        shown = ", ".join(
            f"{key}={value}"
            for key, value in resource["key_inputs"].items()
            if isinstance(value, str | int | float)
            and not str(value).startswith("<")
            and key not in ("tags", "description")
        )
        table.add_row(
            resource["component"], resource["type"], resource["name"], shown, ", ".join(resource["dependencies"])
        )
    console.print(table)
    console.print(f"planned in {time.monotonic() - started:.1f}s")


@app.command()
def cost(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Option(help="Stack to estimate (default: the global --env).")] = None,
    prices_as_of: Annotated[
        str | None, typer.Option(help="Date of the price file to use (infra/prices/aws-<date>.yaml; default newest).")
    ] = None,
    repo_root: Annotated[
        Path | None, typer.Option(help="Repository holding infra/ and jobs/ (default: the installed kit's).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON on stdout.")] = False,
) -> None:
    """Estimate the stack's monthly cost from its config and the dated price table in the repository (no
    pricing API is called). Endpoint instances and the managed MLflow server can be switched off per stack."""
    from infra.config import REPO_ROOT, read_stack_file
    from infra.pricing import estimate, footprint_of, load_prices, require_priced_cloud

    root = repo_root or REPO_ROOT
    config = read_stack_file(stack or cli_context(ctx).settings.stack_name, root)
    require_priced_cloud(config)
    result = estimate(config, load_prices(root, config.region, prices_as_of), footprint_of(config))
    if json_out:
        emit_json(result.to_json())
        return
    table = Table(title=f"stack {result.stack} ({result.region}): prices as of {result.as_of}")
    for column in ("item", "quantity", "unit price (USD)", "monthly (USD)"):
        table.add_column(column, overflow="fold")
    for line in result.lines:
        table.add_row(line.item, f"{line.quantity:,.1f} {line.unit}", f"{line.unit_price:g}", f"{line.monthly:,.2f}")
    table.add_row("total", "", "", f"{result.total:,.2f}")
    console.print(table)
    for item in result.switched_off:
        console.print(f"switched off: {item}")
    console.print("not estimated (traffic-driven): " + "; ".join(result.not_estimated))
