"""``mlops release``: the steps CI runs to ship the kit (see docs/release.md and .github/workflows/).

Each command is one step of a workflow, so a workflow stays a list of commands tested here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import console, emit_json

app = typer.Typer(
    help=(
        "Ship the kit: build the images' contexts and compute their immutable tags (the Dockerfiles are in "
        "docker/; CI builds them), preview stacks for pull requests, smoke-test an endpoint, gate a promotion."
    ),
    no_args_is_help=True,
)

RepoRoot = Annotated[
    Path | None, typer.Option(help="Repository holding docker/, pyproject.toml and uv.lock (default: the kit's).")
]


def _repo(repo_root: Path | None) -> Path:
    from infra.config import REPO_ROOT

    return repo_root or REPO_ROOT


@app.command()
def context(
    image: Annotated[str, typer.Argument(help="training or serving")],
    out: Annotated[Path, typer.Option(help="Directory to write the build context to (replaced).")],
    repo_root: RepoRoot = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the context's path, tag and counts as JSON.")] = False,
) -> None:
    """Write IMAGE's build context: `docker build OUT -t REPO:TAG` then builds exactly what the tests ran."""
    from mlops.release.images import build_context, image_spec

    built = build_context(image_spec(image), _repo(repo_root), out)
    if json_out:
        emit_json(
            {
                "image": built.image,
                "path": str(built.path),
                "tag": built.tag,
                "requirements": built.requirements,
                "files": built.files,
            }
        )
        return
    console.print(
        f"{built.image}: context {built.path} ({built.requirements} distributions, {built.files} files), "
        f"tag {built.tag}"
    )


@app.command()
def tag(
    image: Annotated[str, typer.Argument(help="training or serving")],
    repo_root: RepoRoot = None,
) -> None:
    """Print IMAGE's immutable tag (a digest of its context), the tag the stack's program points at."""
    from mlops.release.images import image_spec, image_tag

    typer.echo(image_tag(image_spec(image), _repo(repo_root)))


@app.command()
def preview(
    stack: Annotated[str, typer.Option(help="Stack to preview: dev, staging or prod.")],
    out: Annotated[Path, typer.Option(help="Markdown file to write the pull-request comment to.")],
    policy_pack: Annotated[Path | None, typer.Option(help="Run the CrossGuard pack too (infra/policypack).")] = None,
    repo_root: RepoRoot = None,
) -> None:
    """Run `pulumi preview --diff` of STACK (the Pulumi CLI, logged in to the state backend) and write the
    comment; exit 1 when the preview or a policy failed."""
    from mlops.release.preview import comment_body, run_preview

    root = _repo(repo_root)
    result = run_preview(stack, root / "infra", policy_pack.resolve() if policy_pack else None)
    out.write_text(comment_body(result))
    console.print(f"preview of {stack}: exit {result.exit_code}; comment written to {out}")
    if not result.succeeded:
        raise typer.Exit(1)


@app.command()
def comment(
    body: Annotated[Path, typer.Option("--file", help="The comment (its first line is its marker).")],
    pull_request: Annotated[int, typer.Option("--pr", help="Pull request number.")],
    repository: Annotated[str, typer.Option(envvar="GITHUB_REPOSITORY", help="owner/name.")],
    token: Annotated[str, typer.Option(envvar="GITHUB_TOKEN", help="The workflow's token.", show_default=False)],
    api_url: Annotated[str, typer.Option(envvar="GITHUB_API_URL")] = "https://api.github.com",
) -> None:
    """Create or update the pull request's comment carrying FILE's marker."""
    from mlops.release.preview import github_client, upsert_comment

    with github_client(token, api_url) as client:
        posted = upsert_comment(client, repository, pull_request, body.read_text())
    console.print(f"comment {posted.get('html_url', posted.get('id'))}")


def _github_output(**values: object) -> None:
    """Step outputs for the workflow (``$GITHUB_OUTPUT``), when run in one."""
    import os

    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            for key, value in values.items():
                handle.write(f"{key}={str(value).lower() if isinstance(value, bool) else value}\n")


@app.command()
def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset whose training pipeline runs.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the execution to finish.")] = 4 * 3600,
    poll: Annotated[float, typer.Option(help="Seconds between two looks at the execution.")] = 30,
) -> None:
    """Start the stack's training pipeline for DATASET and wait for its end; exit 1 unless it succeeded."""
    from mlops.cli.context import cli_context
    from mlops.datasets import find_definition
    from mlops.release.promotion import wait_for_execution
    from pipelines.training.workflow import train_dataset

    context = cli_context(ctx)
    platform = context.platform()
    started = train_dataset(platform, find_definition(dataset, context.settings.datasets_dir))
    execution = wait_for_execution(
        platform.services.training, started.execution, timeout_seconds=timeout, poll_seconds=poll
    )
    emit_json({"dataset": dataset, "execution_arn": execution.arn, "status": execution.status})
    _github_output(execution_arn=execution.arn, status=execution.status)
    if execution.status != "Succeeded":
        console.print(f"[red]training pipeline {execution.status}[/]: {execution.failure_reason}")
        raise typer.Exit(1)


@app.command()
def gate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset (= registered model) name.")],
    margin: Annotated[float, typer.Option(help="Improvement the challenger needs over the champion.")] = 0.01,
) -> None:
    """The model gate: promote the challenger if it beats the champion; fail if no champion is left to serve.
    Sets the step output `deploy` (true when a new champion must go to the endpoint)."""
    from dataclasses import asdict

    from mlops.cli.context import cli_context
    from mlops.datasets import find_definition
    from mlops.release.promotion import model_gate
    from pipelines.registry.promotion import promote

    context = cli_context(ctx)
    platform = context.platform()
    definition = find_definition(dataset, context.settings.datasets_dir)
    outcome = model_gate(platform.services.model_registry, dataset, lambda: promote(platform, definition, margin))
    emit_json({**asdict(outcome), "deploy": outcome.deploy})
    _github_output(decision=outcome.decision, deploy=outcome.deploy, champion_version=outcome.champion_version)


@app.command()
def smoke(
    ctx: typer.Context,
    payload: Annotated[Path, typer.Argument(help="MLflow JSON payload (dataframe_records or dataframe_split).")],
) -> None:
    """Invoke the stack's endpoint with PAYLOAD: one prediction per row, or exit 1."""
    from dataclasses import asdict

    from mlops.cli.context import cli_context
    from mlops.release.promotion import smoke_test

    platform = cli_context(ctx).platform()
    result = smoke_test(platform.services.endpoint, platform.outputs.endpoint_name, payload.read_bytes())
    emit_json(asdict(result))


@app.command("destroy-args")
def destroy_args(
    stack: Annotated[str, typer.Option(help="Stack about to be destroyed (never prod).")],
    repo_root: RepoRoot = None,
) -> None:
    """Print `pulumi destroy`'s arguments that keep the deploy identity (one `--exclude URN` each, a line each);
    exit 1 for a protected stack (prod). The destroy workflow runs this before `pulumi destroy`."""
    from infra.config import PROJECT
    from infra.plan import plan_stack
    from mlops.release.destroy import destroy_excludes

    arguments = destroy_excludes(stack, PROJECT, plan_stack(stack, _repo(repo_root)).resources)
    typer.echo("\n".join(arguments))


@app.command("promote")
def promote_across(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset (= registered model) name.")],
    from_stack: Annotated[str, typer.Option("--from-stack", help="The stack whose gate passed the version.")],
    from_outputs: Annotated[
        Path | None,
        typer.Option(
            help="That stack's outputs (`pulumi stack output --json`; default <state_dir>/outputs/STACK.json)."
        ),
    ] = None,
    alias: Annotated[str, typer.Option(help="Which version of the source stack to hand over.")] = "champion",
) -> None:
    """Promote DATASET's version from the previous environment: copy its artifact and holdout into this stack's
    buckets and register it in this stack's registry and model package group as challenger (the gate, next,
    decides). Handing the same version over twice registers nothing new."""
    from dataclasses import asdict

    from mlops.cli.context import cli_context
    from mlops.outputs import load_outputs
    from mlops.settings import load_settings
    from mlops.wiring import promotion_source_platform
    from pipelines.registry.handover import hand_over

    context = cli_context(ctx)
    target = context.platform()
    source_settings = load_settings(**{**context.overrides, "stack": from_stack, "outputs_file": from_outputs})
    source_outputs = load_outputs(source_settings.resolved_outputs_file, from_stack)
    # through the source stack's promotion reader role when its outputs name one (mlops/wiring.py)
    source = promotion_source_platform(source_settings, source_outputs, reader=target.outputs.stack)
    handed = hand_over(source, target, dataset, alias)
    emit_json(asdict(handed))
    _github_output(version=handed.target_version, registered=handed.registered)


@app.command()
def rehearse(  # noqa: PLR0917 (typer passes options positionally)
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset released (trained, gated, promoted, served).")] = "diabetes",
    stacks: Annotated[str, typer.Option(help="Stacks in promotion order, comma-separated.")] = "dev,staging,prod",
    rows: Annotated[int, typer.Option(help="Rows of generated data the first stack's data holds.")] = 442,
    rollback_stack: Annotated[
        str | None, typer.Option(help="Stack rolled back at the end (default: the last).")
    ] = None,
    smoke_payload: Annotated[Path | None, typer.Option(help="Default: .github/smoke/DATASET.json.")] = None,
    stop_endpoints: Annotated[
        bool, typer.Option("--stop-endpoints", help="Stop the stacks' local endpoints at the end.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the steps and the stacks as JSON.")] = False,
) -> None:
    """Rehearse the whole release on the embedded emulator: the workflows' sequence against dev, staging and prod
    applied side by side - apply each stack, train in the first, gate, promote the model package and artifact to
    the next stack, gate again, deploy, smoke-test; twice (two releases); then roll the last stack back and show
    the previous champion serving. Exit 1 naming the step and stack that failed. The emulator and the warm command
    server it starts (off: MLOPS_LOCAL_CLI__ENABLED=false) keep running: `mlops local down` stops them."""
    from mlops.cli.context import cli_context
    from mlops.cli.local import start_warm_cli
    from mlops.cli.rehearsal import LocalReleaseActions, ReleasePlan, print_result, print_start, print_summary
    from mlops.datasets import find_definition
    from mlops.local import emulator
    from mlops.local.apply.engine import find_repo_root
    from mlops.release.errors import ReleaseError
    from mlops.release.rehearsal import RehearsalStepError, release_steps, run_steps
    from mlops.wiring import resolve

    context = cli_context(ctx)
    order = [name.strip() for name in stacks.split(",") if name.strip()]
    repo_root = find_repo_root()
    payload = smoke_payload or repo_root / ".github" / "smoke" / f"{dataset}.json"
    runners = {capability: resolve(context.settings, capability) for capability in ("training", "endpoint")}
    if set(runners.values()) != {"local"}:
        raise ReleaseError(
            f"mlops release rehearse trains and serves with the kit's local runners; these settings choose {runners} "
            "(use --target moto)"
        )
    state, started = emulator.up(context.settings.emulator_dir)
    verb = "started" if started else "reused"
    console.print(f"emulator: moto server pid {state.pid} at {state.endpoint_url} ({verb})")
    # Seven deploys and two trainings: their endpoints and steps fork from it with their libraries imported
    # (stopped with the emulator by `mlops local down`).
    start_warm_cli(context.settings, quiet=False)
    if context.clients.endpoint_url != state.public_url:
        # the rehearsal applies and deploys stacks: never anywhere but the emulator it just found or started
        raise ReleaseError(
            f"mlops release rehearse runs on the embedded emulator ({state.public_url}) only; the settings point "
            f"the clients at {context.clients.endpoint_url or 'AWS'} (use --target moto, no MLOPS_ENDPOINT_URL)"
        )
    actions = LocalReleaseActions(
        overrides=dict(context.overrides),
        definition=find_definition(dataset, context.settings.datasets_dir),
        repo_root=repo_root,
        smoke_payload=payload.read_bytes(),
        plan=ReleasePlan(rows=rows),
    )
    steps = release_steps(actions, order, dataset, rollback_stack=rollback_stack)
    rehearsal = run_steps(steps, on_result=print_result, on_start=print_start)
    applied = [stack for stack in order if any(r.stack == stack and r.step == "apply" for r in rehearsal.results)]
    summaries = [actions.stack_summary(stack) for stack in applied]
    if stop_endpoints:
        actions.stop_endpoints(applied)
    if json_out:
        emit_json(
            {
                "succeeded": rehearsal.succeeded,
                "seconds": round(rehearsal.seconds, 3),
                "steps": [result.as_dict() for result in rehearsal.results],
                "stacks": summaries,
            }
        )
    else:
        print_summary(rehearsal, summaries)
    if rehearsal.failed is not None:
        console.print(f"[red]rehearsal failed[/]: {RehearsalStepError(rehearsal.failed)}")
        raise typer.Exit(1)
