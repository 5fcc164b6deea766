"""``mlops job``: run the stack's batch jobs through the platform's job runner (Glue on AWS, Dataproc Serverless on
Google Cloud; on the emulators the kit's local runners, which run the script themselves: neither moto nor Google's
emulators run jobs)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json, key_value_pairs

app = typer.Typer(
    help=(
        "Batch jobs of the stack (one per script in jobs/). `run` starts a job and waits for its end: on AWS a "
        "Glue job run, on Google Cloud a Dataproc Serverless batch; on the emulators the kit runs the script with "
        "local PySpark the way Glue or Dataproc would, and keeps the run record (moto: in the monitoring bucket "
        "under glue-runs/<job>/<run_id>.json; Google's emulators: <state_dir>/dataproc/batches/<batch>.json). Job "
        "arguments are the job's default arguments overridden by --arg; the log is streamed here."
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
    """Run a job to its end and show its record; exits 1 when the run fails."""
    from dataclasses import asdict

    from mlops.ports.jobs import JobRun, JobRunFailedError

    context = cli_context(ctx)
    arguments = parse_arguments(arg or [])
    jobs = context.platform().services.jobs

    def show(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    run: JobRun
    try:
        run = jobs.run(name, arguments, on_line=show)
    except JobRunFailedError as failed:
        run = failed.run
    if json_out:
        emit_json(asdict(run))
    colour = "green" if run.succeeded else "red"
    where = f"; record {run.record_uri}" if run.record_uri else ""
    logs = f"; log {run.logs}" if run.logs else ""
    console.print(
        f"[{colour}]{run.state}[/] {run.job_name} run {run.run_id} in {run.duration_seconds:.1f}s{where}{logs}"
    )
    if run.counts:
        console.print(" ".join(f"{k}={v}" for k, v in sorted(run.counts.items()) if not isinstance(v, list)))
    if not run.succeeded:
        console.print(f"[red]error:[/] {run.error}", markup=True)
        raise typer.Exit(1)
