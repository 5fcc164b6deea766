"""``mlops monitor``: data drift, model performance and the local CloudWatch alarm runner."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from mlops.cli.context import cli_context, console, emit_json
from mlops.datasets import find_definition, parse_duration

app = typer.Typer(
    help=(
        "Monitoring: `drift` compares recent feature values with the training reference (PSI, KS), "
        "`performance` scores the champion on labelled windows (degradation, concept drift), `alarms` "
        "evaluates the stack's CloudWatch alarms like CloudWatch would and performs their actions locally. "
        "Reports go to `s3://MONITORING_BUCKET/reports/DATASET/KIND/`; figures to the stack's metrics namespace."
    ),
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _spinner(text: str) -> Progress:
    progress = Progress(SpinnerColumn(), TextColumn(text), console=console, transient=True)
    progress.add_task(text, total=None)
    return progress


@app.command()
def drift(  # noqa: PLR0917 (typer passes options positionally)
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    reference_version: Annotated[
        int | None, typer.Option(help="Feature table version of the reference; default: the champion's.")
    ] = None,
    current_version: Annotated[int | None, typer.Option(help="Feature table version to read; default latest.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Current window starts after this time; default: after the reference.")
    ] = None,
    psi_threshold: Annotated[float, typer.Option(help="PSI above which a feature counts as drifted.")] = 0.2,
    json_out: JsonOption = False,
) -> None:
    """Per-feature PSI/KS of the current window vs the reference; publishes DataDriftScore."""
    from monitoring.runs import run_drift

    platform = cli_context(ctx).platform()
    definition = find_definition(dataset, platform.settings.datasets_dir)
    with _spinner(f"drift of {dataset}"):
        report = run_drift(
            platform,
            definition,
            reference_version=reference_version,
            current_version=current_version,
            since=since,
            psi_threshold=psi_threshold,
        )
    if json_out:
        emit_json(report)
        return
    table = Table("feature", "kind", "PSI", "KS", "unseen", "drifted", title=f"drift of {dataset}")
    for f in report["features"]:
        ks = "" if f["ks"] is None else f"{f['ks']:.3f}"
        unseen = "" if f["unseen_share"] is None else f"{f['unseen_share']:.3f}"
        table.add_row(f["feature"], f["kind"], f"{f['psi']:.3f}", ks, unseen, "yes" if f["drifted"] else "")
    console.print(table)
    console.print(f"drift score {report['drift_score']:.3f} -> {report['report_uri']}")


@app.command()
def performance(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    window: Annotated[str, typer.Option(help="Length of each labelled window, e.g. 7d, 24h.")] = "7d",
    precision: Annotated[float, typer.Option(help="Precision at which recall is reported.")] = 0.9,
    json_out: JsonOption = False,
) -> None:
    """Champion quality per labelled window; publishes ModelQualityDrop and ConceptDriftScore."""
    from monitoring.runs import run_performance

    platform = cli_context(ctx).platform()
    definition = find_definition(dataset, platform.settings.datasets_dir)
    with _spinner(f"performance of {dataset}"):
        report = run_performance(platform, definition, window=parse_duration(window), precision=precision)
    if json_out:
        emit_json(report)
        return
    table = Table("window start", "rows", *report["windows"][0]["metrics"], title=f"{dataset} champion quality")
    for w in report["windows"]:
        table.add_row(w["start"], str(w["rows"]), *(f"{v:.4f}" for v in w["metrics"].values()))
    console.print(table)
    console.print(
        f"quality drop {report['model_quality_drop']:.4f}, concept drift {report['concept_drift']['score']:.4f} "
        f"-> {report['report_uri']}"
    )


@app.command()
def alarms(
    ctx: typer.Context,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Set changed states in the emulator and perform the alarm actions.")
    ] = False,
    key: Annotated[list[str] | None, typer.Option(help="Alarm key (repeatable); default: every alarm.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Evaluate the stack's alarms with CloudWatch's semantics (dry run unless --evaluate)."""
    from mlops.local.alarm_runner import run_alarms

    platform = cli_context(ctx).platform()
    with _spinner("evaluating alarms"):
        outcomes = run_alarms(platform, keys=key, apply=evaluate)
    payload: list[dict[str, Any]] = [o.to_dict() for o in outcomes]
    if json_out:
        emit_json(payload)
        return
    table = Table("alarm", "was", "now", "applied", "notified", "would fire", title="alarms")
    for o in payload:
        fired = ", ".join(f"{f['rule']}/{f['target_id']}" for f in o["fired"])
        table.add_row(
            o["key"],
            o["previous_state"],
            o["state"],
            "yes" if o["applied"] else "",
            str(len(o["notified_topics"])),
            fired,
        )
    console.print(table)
    for o in payload:
        if o["event_skipped"]:
            console.print(f"[yellow]{o['key']}:[/] {o['event_skipped']}")
