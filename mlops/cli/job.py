"""``mlops job``: run the stack's Glue jobs. Locally the kit runs the script itself (moto runs nothing)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json, key_value_pairs

app = typer.Typer(
    help=(
        "Glue jobs of the stack (one per script in jobs/). `run` executes a job's script with local PySpark, "
        "the way Glue would: job arguments from the job's DefaultArguments overridden by --arg, log streamed "
        "here and to CloudWatch Logs, run record in `s3://<monitoring>/glue-runs/<job>/<run_id>.json`."
    ),
    no_args_is_help=True,
)


def parse_arguments(pairs: list[str]) -> dict[str, str]:
    """``["dataset=card_transactions", "--source_version=3"]`` -> ``{"--dataset": ..., "--source_version": "3"}``."""
    # Glue's own spelling (``--key=value``) is accepted too: the prefix goes before the key is checked.
    stripped = [pair.strip().removeprefix("--") for pair in pairs]
    parsed = key_value_pairs(stripped, "--arg", "KEY=VALUE (e.g. --arg dataset=card_transactions)")
    return {f"--{key}": value for key, value in parsed.items()}


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job key: the script's file stem in jobs/ (curate, build_features).")],
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", help="Run argument KEY=VALUE, repeatable; overrides the job's default argument."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run record as JSON on stdout.")] = False,
) -> None:
    """Run a Glue job locally and record the run; exits 1 when the job fails."""
    from dataclasses import asdict

    from mlops.local.glue_runner import run_job

    context = cli_context(ctx)
    arguments = parse_arguments(arg or [])
    platform = context.platform()

    def show(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    record = run_job(platform, name, arguments, on_line=show)
    if json_out:
        emit_json(asdict(record))
    colour = "green" if record.succeeded else "red"
    console.print(
        f"[{colour}]{record.state}[/] {record.job_name} run {record.run_id} in {record.duration_seconds:.1f}s; "
        f"record {record.record_uri}"
    )
    if record.counts:
        console.print(" ".join(f"{k}={v}" for k, v in sorted(record.counts.items()) if not isinstance(v, list)))
    if not record.succeeded:
        console.print(f"[red]error:[/] {record.error}", markup=True)
        raise typer.Exit(1)
