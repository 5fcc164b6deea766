"""``mlops monitor data-quality | model-quality | ground-truth | run | schedule | report``: the Model Monitor
style jobs (:mod:`monitoring.modelmonitor`). Registered on the ``monitor`` app by :func:`register`."""

from __future__ import annotations

import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from mlops.cli.context import cli_context, console, emit_json

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
EndpointOption = Annotated[str | None, typer.Option(help="Endpoint whose capture to read; default: the stack's.")]
ScheduleOption = Annotated[
    str | None, typer.Option("--schedule", help="rate(...) or cron(...); default hourly, Model Monitor's.")
]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _print_data_quality(report: dict[str, Any]) -> None:
    table = Table("feature", "kind", "PSI", "JS", "distance", "status", title=f"data quality of {report['dataset']}")
    for f in report["features"]:
        status = f["status"] + (" (excluded)" if f["excluded"] else "")
        table.add_row(f["feature"], f["kind"], f"{f['psi']:.3f}", f"{f['js']:.3f}", f"{f['distance']:.3f}", status)
    console.print(table)
    console.print(
        f"{report['rows']} rows, drift score {report['drift_score']:.3f}, {report['violations']} violation(s) "
        f"-> {escape(report['report_uri'])}"
    )


def _print_model_quality(report: dict[str, Any]) -> None:
    table = Table("window end", "rows", "positives", report["metric"], "interval", "drop", "degraded")
    for w in report["windows"]:
        table.add_row(
            str(w["end"])[:19],
            str(w["rows"]),
            str(w["positives"]),
            f"{w['value']:.4f}",
            f"[{w['low']:.4f}, {w['high']:.4f}]",
            f"{w['drop']:.4f}",
            "yes" if w["degraded"] else "",
        )
    console.print(table)
    console.print(f"{report['labelled_rows']} labelled rows; validation {report['validation_metric']:.4f}")


def _print_tick(result: dict[str, Any]) -> None:
    for job in ("model_quality", "data_quality"):
        outcome = result[job]
        if "skipped" in outcome:
            console.print(f"[yellow]{job}: skipped: {escape(outcome['skipped'])}[/]")
        elif job == "data_quality":
            _print_data_quality(outcome)
        else:
            _print_model_quality(outcome)


def register(app: typer.Typer) -> None:  # noqa: PLR0915 (one closure per command, wiring only)
    """Add the commands to ``app`` (the ``monitor`` group)."""

    @app.command("data-quality")
    def data_quality(  # noqa: PLR0917
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        source: Annotated[
            str, typer.Option(help="endpoint: its data capture; batch: the newest batch predictions.")
        ] = "endpoint",
        endpoint: EndpointOption = None,
        since: Annotated[datetime | None, typer.Option(help="Capture from this time (UTC).")] = None,
        until: Annotated[datetime | None, typer.Option(help="Capture up to this time (UTC); default now.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Statistics, constraint violations and per-feature drift against the champion's baseline."""
        from monitoring.modelmonitor.job import batch_rows, capture_rows, run_data_quality

        platform = cli_context(ctx).platform()
        from mlops.datasets import find_definition  # pydantic, yaml: not for `--help`

        definition = find_definition(dataset, platform.settings.datasets_dir)
        kind: Literal["endpoint", "batch"] = "batch" if source == "batch" else "endpoint"
        if kind == "batch":
            rows, uri = batch_rows(platform, definition)
        else:
            name = endpoint or platform.outputs.endpoint_name
            end = _utc(until) or datetime.now(UTC)
            start = _utc(since) or datetime(1970, 1, 1, tzinfo=UTC)
            rows, uri = capture_rows(platform, definition, name, start, end), f"capture of {name}"
        report = run_data_quality(platform, definition, rows, source=kind, input_uri=uri, endpoint=endpoint)
        if json_out:
            emit_json(report)
        else:
            _print_data_quality(report)

    @app.command("model-quality")
    def model_quality(  # noqa: PLR0917
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        endpoint: EndpointOption = None,
        days: Annotated[int, typer.Option(min=1, help="Capture of the last N days to merge labels with.")] = 90,
        threshold: Annotated[float, typer.Option(help="Quality drop the interval must clear to alarm.")] = 0.05,
        json_out: JsonOption = False,
    ) -> None:
        """Champion quality on captured inferences with ground truth: evidence windows with bootstrap intervals;
        publishes ModelQualityDrop (the interval's lower bound)."""
        from datetime import timedelta

        from mlops.datasets import find_definition
        from monitoring.modelmonitor.job import capture_rows
        from monitoring.modelmonitor.quality_job import run_model_quality

        platform = cli_context(ctx).platform()
        definition = find_definition(dataset, platform.settings.datasets_dir)
        end = datetime.now(UTC)
        name = endpoint or platform.outputs.endpoint_name
        served = capture_rows(platform, definition, name, end - timedelta(days=days), end)
        report = run_model_quality(platform, definition, served, threshold=threshold)
        if json_out:
            emit_json(report)
        else:
            _print_model_quality(report)

    @app.command("ground-truth")
    def ground_truth(
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        file: Annotated[Path, typer.Argument(help="JSON Lines in Model Monitor's ground-truth shape.", exists=True)],
    ) -> None:
        """Upload labels (``groundTruthData`` / ``eventMetadata.eventId``) to the monitoring zone."""
        from monitoring.ground_truth import parse_ground_truth, upload_ground_truth

        platform = cli_context(ctx).platform()
        labels = dict(parse_ground_truth(file.read_bytes(), str(file)))
        uri = upload_ground_truth(platform, dataset, labels, file.stem)
        console.print(f"{len(labels)} label(s) -> {escape(uri)}")

    @app.command("run")
    def run(  # noqa: PLR0917
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        endpoint: EndpointOption = None,
        schedule: ScheduleOption = None,
        at: Annotated[
            datetime | None, typer.Option(help="Judge the period ending at the last tick before this.")
        ] = None,
        json_out: JsonOption = False,
    ) -> None:
        """One scheduled run, as a scheduler starts it: model quality, then data quality of the last period."""
        from monitoring.modelmonitor.runner import run_tick
        from monitoring.schedule import DEFAULT_SCHEDULE, parse_schedule

        platform = cli_context(ctx).platform()
        from mlops.datasets import find_definition  # pydantic, yaml: not for `--help`

        definition = find_definition(dataset, platform.settings.datasets_dir)
        plan = parse_schedule(schedule or DEFAULT_SCHEDULE)
        moment = _utc(at) or datetime.now(UTC)
        start, end = plan.period_before(plan.last_tick(moment))
        result = run_tick(platform, definition, start, end, endpoint=endpoint)
        if json_out:
            emit_json(result)
        else:
            _print_tick(result)

    @app.command("schedule")
    def schedule_command(
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        endpoint: EndpointOption = None,
        schedule: ScheduleOption = None,
        runs: Annotated[
            int | None, typer.Option(min=1, help="Stop after this many runs; default: run forever.")
        ] = None,
    ) -> None:
        """Run the monitoring jobs at every tick of the schedule (Ctrl-C stops)."""
        from monitoring.modelmonitor.runner import run_tick
        from monitoring.schedule import DEFAULT_SCHEDULE, parse_schedule, run_on_schedule

        platform = cli_context(ctx).platform()
        from mlops.datasets import find_definition  # pydantic, yaml: not for `--help`

        definition = find_definition(dataset, platform.settings.datasets_dir)
        plan = parse_schedule(schedule or DEFAULT_SCHEDULE)
        console.print(f"monitoring {dataset} on {plan.expression}; next run {plan.next_tick(datetime.now(UTC))}")

        def tick(start: datetime, end: datetime) -> None:
            console.print(f"[bold]run for {start:%Y-%m-%d %H:%M} - {end:%H:%M} UTC[/]")
            _print_tick(run_tick(platform, definition, start, end, endpoint=endpoint))

        run_on_schedule(plan, tick, runs=runs)

    @app.command("report")
    def report(
        ctx: typer.Context,
        dataset: Annotated[str, typer.Argument(help="Dataset name.")],
        output: Annotated[
            Path | None, typer.Option(help="Where to save the page; default ./<dataset>-monitoring.html")
        ] = None,
        open_page: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    ) -> None:
        """Save the newest monitoring run's HTML report locally (and open it)."""
        from monitoring.modelmonitor.job import latest_report

        platform = cli_context(ctx).platform()
        uri, html = latest_report(platform, dataset)
        target = output or Path(f"{dataset}-monitoring.html")
        target.write_bytes(html)
        console.print(f"{escape(uri)} -> {target}")
        if open_page:
            webbrowser.open(target.resolve().as_uri())
