"""``mlops monitor``: data drift, model performance, and the stack's alarms through the alarms port."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from mlops.cli.context import cli_context, console, emit_json, out

if TYPE_CHECKING:
    from mlops.platform import Platform

app = typer.Typer(
    help=(
        "Monitoring: `drift` compares recent feature values with the training reference (PSI, KS), "
        "`performance` scores the champion on labelled windows (degradation, concept drift), `alarms` "
        "shows the stack's alarms (on the moto emulator the kit evaluates them like CloudWatch would and performs "
        "their actions), `alarm-history` their state changes, `status` the actions alarms ran. Reports go to the "
        "monitoring zone under "
        "`reports/DATASET/KIND/`; figures to the stack's metrics namespace."
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
    from mlops.datasets import find_definition

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
    window: Annotated[
        str | None,
        typer.Option(help="Length of each labelled window, e.g. 7d, 24h (default: 7d, widened on small data)."),
    ] = None,
    precision: Annotated[float, typer.Option(help="Precision at which recall is reported.")] = 0.9,
    json_out: JsonOption = False,
) -> None:
    """Champion quality per labelled window; publishes ModelQualityDrop and ConceptDriftScore."""
    from monitoring.runs import run_performance

    platform = cli_context(ctx).platform()
    from mlops.datasets import find_definition, parse_duration

    definition = find_definition(dataset, platform.settings.datasets_dir)
    with _spinner(f"performance of {dataset}"):
        span = parse_duration(window) if window else None
        report = run_performance(platform, definition, window=span, precision=precision)
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


def _alarm_names(platform: Platform, keys: list[str] | None) -> dict[str, str]:
    """Alarm name -> key (``data_drift``, ...) of the given keys, or of every alarm the stack declares."""
    wanted = keys or sorted(platform.outputs.alarm_names)
    return {platform.outputs.alarm(key): key for key in wanted}


def _since(moment: str | None) -> str:
    return moment[:19].replace("T", " ") if moment else ""


@app.command()
def alarms(
    ctx: typer.Context,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Write changed states and perform the alarms' actions (local runner).")
    ] = False,
    key: Annotated[list[str] | None, typer.Option(help="Alarm key (repeatable); default: every alarm.")] = None,
    json_out: JsonOption = False,
) -> None:
    """The stack's alarms: their state and why. Where the emulator only stores alarms (moto), the kit evaluates
    them with CloudWatch's semantics (a dry run unless --evaluate); where CloudWatch evaluates (AWS, LocalStack),
    the state it holds is shown."""
    platform = cli_context(ctx).platform()
    names = _alarm_names(platform, key)
    with _spinner("evaluating alarms"):
        evaluations = platform.services.alarms.evaluate(list(names), apply=evaluate)
    follow = _follow_through(platform, evaluations) if evaluate else []
    payload: list[dict[str, Any]] = [
        {"key": names[e.alarm], **e.to_dict(), "follow_through": [a.to_dict() for a in follow if a.alarm == e.alarm]}
        for e in evaluations
    ]
    if json_out:
        emit_json(payload)
        return
    table = Table("alarm", "was", "now", "since", "applied", "notified", "matched targets", title="alarms")
    for o in payload:
        matched = ", ".join(f"{t['rule']}/{t['target_id']}" for t in o["event_targets"])
        table.add_row(
            o["key"],
            o["previous_state"],
            o["state"],
            _since(o["state_since"]),
            "yes" if o["applied"] else "",
            str(len(o["notified"])),
            matched,
        )
    console.print(table)
    for o in payload:
        console.print(f"[bold]{o['key']}:[/] {escape(o['reason'])}")  # reasons hold "[0.5, missing]"
        for note in o["notes"]:
            console.print(f"  [yellow]{escape(note)}[/]")
    if any(o["actions"] or o["follow_through"] for o in payload):
        _print_actions([a for o in payload for a in (*o["actions"], *o["follow_through"])])


def _follow_through(platform: Platform, evaluations: list[Any]) -> list[Any]:
    """Gate, promote and deploy what the retrain actions trained; roll back when the stack opted in."""
    from pipelines.registry.retraining import definitions_in, follow_through

    if not any(e.actions for e in evaluations) and not platform.outputs.rollback_on_degradation:
        return []
    with _spinner("gating and deploying the retrained model"):
        return follow_through(platform, definitions_in(platform.settings.datasets_dir), evaluations)


def _print_actions(actions: list[dict[str, Any]]) -> None:
    table = Table("when", "alarm", "action", "ran", "outcome", "detail", title="alarm actions")
    for a in actions:
        table.add_row(
            _since(a["started_at"]), a["alarm"], a["kind"], escape(a["ran"]), a["outcome"], escape(a["detail"])
        )
    console.print(table)


@app.command()
def status(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Actions to show, newest first.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """What the alarms' state changes ran (pipeline runs, gates, deployments, rollbacks) and how each ended,
    newest first, from the records in the monitoring zone."""
    from mlops.alarm_actions import read_actions

    platform = cli_context(ctx).platform()
    actions = read_actions(platform.services.object_store, platform.layout.bucket("monitoring"), limit)
    if json_out:
        emit_json([a.to_dict() for a in actions])
        return
    if not actions:
        console.print("no alarm has run an action yet")
        return
    _print_actions([a.to_dict() for a in actions])


@app.command()
def recovery(
    ctx: typer.Context, dataset: Annotated[str, typer.Argument(help="Dataset name.")], json_out: JsonOption = False
) -> None:
    """How much of its released quality the retrained champion won back: the previous champion on its own
    holdout (pre-drift), then the previous and the new champion on the new champion's holdout (the present)."""
    from mlops.datasets import find_definition
    from pipelines.registry.retraining import recovery as measure

    platform = cli_context(ctx).platform()
    figure = measure(platform, find_definition(dataset, platform.settings.datasets_dir))
    if json_out:
        emit_json(figure.to_dict())
        return
    out.print(  # the figure is the command's answer: stdout, where the demo and scripts read it
        f"{dataset} {figure.metric}: pre-drift {figure.pre_drift:.4f} (v{figure.previous_version} on its holdout); "
        f"on {figure.holdout_rows} post-drift rows ({figure.holdout_start[:10]} to {figure.holdout_end[:10]}) "
        f"before {figure.before:.4f} (v{figure.previous_version}), after {figure.after:.4f} "
        f"(v{figure.champion_version}): recovered to {figure.ratio:.0%} of the pre-drift level",
        soft_wrap=True,  # one line, whatever the terminal's width: the figure is read from logs
    )


@app.command("alarm-history")
def alarm_history(
    ctx: typer.Context,
    key: Annotated[list[str] | None, typer.Option(help="Alarm key (repeatable); default: every alarm.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="State changes per alarm, newest first.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """The alarms' latest state changes (CloudWatch's history; the local runner's on the emulator)."""
    platform = cli_context(ctx).platform()
    names = _alarm_names(platform, key)
    service = platform.services.alarms
    items = [(names[name], item) for name in names for item in service.history(name, limit)]
    if json_out:
        emit_json(
            [
                {
                    "key": k,
                    "alarm": i.alarm,
                    "timestamp": i.timestamp.isoformat(),
                    "previous_state": i.previous_state,
                    "state": i.state,
                    "reason": i.reason,
                }
                for k, i in items
            ]
        )
        return
    table = Table("alarm", "when", "from", "to", "reason", title="alarm history")
    for k, i in items:
        table.add_row(k, i.timestamp.isoformat(timespec="seconds"), i.previous_state, i.state, escape(i.reason))
    console.print(table)


# The Model Monitor style jobs (data-quality, model-quality, ground-truth, run, schedule, report).
from mlops.cli.model_monitor import register as _register_model_monitor  # noqa: E402

_register_model_monitor(app)
