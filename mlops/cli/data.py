"""``mlops data``: produce dataset files, ingest them into the raw zone, validate ingested batches."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import cli_context, console, emit_json
from mlops.errors import ConfigError

app = typer.Typer(
    help=(
        "The batch data path: `generate` writes a shipped dataset (synthetic card transactions, or scikit-learn's "
        "diabetes data) to a file; `ingest` stores files in the raw zone once each, with a manifest; `validate` "
        "checks ingested batches against the dataset definition, quarantining bad rows with a reason; `init` "
        "drafts a definition from a sample file; `schema` prints the definition format (JSON Schema or Markdown)."
    ),
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not an ISO 8601 time like 2024-03-01 or 2024-03-01T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def generate(
    name: Annotated[str, typer.Argument(help="card_transactions (synthetic) or diabetes (real, 442 rows).")],
    *,
    rows: Annotated[int, typer.Option(help="Rows to produce (diabetes: capped at 442).")] = 10_000,
    out: Annotated[Path, typer.Option(help="File to write.")] = Path("data.csv"),
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or parquet (default: from the suffix of --out).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives identical rows.")] = 0,
    start: Annotated[str | None, typer.Option(help="ISO time of the first event (default 2024-01-01).")] = None,
    drift_start: Annotated[str | None, typer.Option(help="ISO time from which drift applies.")] = None,
    drift: Annotated[
        list[str] | None,
        typer.Option(help="Drift kind, repeatable: amount_shift, new_category, fraud_pattern (card_transactions)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Write a shipped dataset to a file, seeded and optionally with drift from a given time."""
    from pipelines.generate.produce import GenerateRequest
    from pipelines.generate.produce import generate as produce
    from pipelines.ingest.formats import format_of

    request = GenerateRequest(
        dataset=name,
        rows=rows,
        out=out,
        file_format=format_of(out, file_format),
        seed=seed,
        start=_time(start, "--start"),
        drift_start=_time(drift_start, "--drift-start"),
        drift=tuple(drift or ()),
    )
    with console.status(f"generating {name}..."):
        result = produce(request)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    if json_out:
        emit_json(
            {
                "dataset": result.dataset,
                "rows": result.rows,
                "path": str(result.path),
                "format": result.file_format.value,
                "produce_seconds": round(result.produce_seconds, 3),
                "write_seconds": round(result.write_seconds, 3),
                "notes": result.notes,
            }
        )
        return
    rate = result.rows / result.produce_seconds if result.produce_seconds else 0.0
    console.print(
        f"[green]wrote[/] {result.rows} {result.dataset} rows to {result.path} "
        f"(produced in {result.produce_seconds:.2f}s, {rate:,.0f} rows/s; written in {result.write_seconds:.2f}s)"
    )


@app.command()
def ingest(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (a definition in the datasets directory).")],
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON lines or Parquet files.")],
    file_format: Annotated[str | None, typer.Option("--format", help="Override the format the suffix implies.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Store files in the raw zone (partitioned by ingestion date) with a manifest; a file seen before is skipped."""
    from pipelines.ingest.batch import ingest as ingest_files

    platform = cli_context(ctx).platform()
    with console.status(f"ingesting {len(files)} file(s) into {dataset}..."):
        outcomes = ingest_files(platform, dataset, files, file_format)
    if json_out:
        emit_json([{"status": o.status, **o.manifest.__dict__} for o in outcomes])
        return
    for outcome in outcomes:
        m = outcome.manifest
        if outcome.status == "already_ingested":
            console.print(f"[yellow]already ingested[/] {m.source} as batch {m.batch_id} ({m.ingested_at})")
        else:
            console.print(f"[green]ingested[/] {m.source}: batch {m.batch_id}, {m.row_count} rows -> {m.key}")


@app.command()
def validate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    batch: Annotated[str | None, typer.Option("--batch", help="Batch id to validate (again).")] = None,
    all_pending: Annotated[bool, typer.Option("--all-pending", help="Validate every batch without a result.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Check batches against the definition; bad rows go to quarantine with a reason. Exits 2 when a batch fails."""
    from pipelines.validation.run import raise_for_failures
    from pipelines.validation.run import validate as validate_batches

    platform = cli_context(ctx).platform()
    with console.status(f"validating {dataset}..."):
        results = validate_batches(platform, dataset, batch, all_pending)
    if json_out:
        emit_json([r.to_dict() for r in results])
    else:
        if not results:
            console.print(f"no pending batches for {dataset}")
        for r in results:
            verdict = "[green]passed[/]" if r.success else "[red]failed[/]"
            console.print(
                f"{verdict} {r.dataset} batch {r.batch_id}: {r.rows_in} rows in, {r.rows_valid} valid, "
                f"{r.rows_quarantined} quarantined ({r.bad_fraction:.2%})"
            )
            for warning in r.warnings:
                console.print(f"  [yellow]warning:[/] {warning}")
    raise_for_failures(results)


@app.command()
def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new dataset (lower snake case).")],
    *,
    sample: Annotated[Path, typer.Option("--from", help="Sample file: CSV, JSON lines or Parquet.")],
    label: Annotated[str | None, typer.Option(help="The label column (default: guessed from the names).")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default: <datasets dir>/<name>.yaml).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing definition file.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Draft a definition from a sample: types, nullability, ranges, categories, keys, time, label and task.

    The draft loads through the same loader as every command; review it (ranges and categories are the
    sample's), then `mlops local up` deploys it with the stack.
    """
    from mlops.dataset_draft import draft, read_sample

    target = out or cli_context(ctx).settings.datasets_dir / f"{name}.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists: pass --force to overwrite it, or --out another file")
    drafted = draft(name, read_sample(sample), label)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(drafted.to_yaml(str(sample)))
    if json_out:
        emit_json({"dataset": name, "path": str(target), "definition": drafted.raw, "guesses": list(drafted.guesses)})
        return
    console.print(f"[green]drafted[/] {name} ({drafted.definition.task}) -> {target}", highlight=False)
    for note in drafted.guesses:
        console.print(f"  review: {note}", markup=False, highlight=False)


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The reference (Markdown) instead of JSON Schema.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="File to write (default: print).")] = None,
) -> None:
    """The dataset definition format, generated from the model: JSON Schema (editors) or the Markdown reference.

    The committed copies are docs/dataset.schema.json and docs/dataset-reference.md.
    """
    from mlops.dataset_reference import render_json_schema, render_markdown, write

    if out is not None:
        write("markdown" if markdown else "json", out)
        console.print(f"[green]wrote[/] {out}", highlight=False)
        return
    sys.stdout.write(render_markdown() if markdown else render_json_schema())
