"""Entry point of the ``mlops`` command."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Annotated, ClassVar

import typer

from mlops.cli.lazy import Entry, LazyGroup
from mlops.contracts import with_local_threads
from mlops.errors import MlopsError

_SERVING = "mlops.cli.deploy"


class Root(LazyGroup):
    """``mlops``: each command's module is imported when that command runs (mlops.cli.lazy)."""

    entries: ClassVar[Mapping[str, Entry]] = {
        "local": Entry("mlops.cli.local", "Run the platform here: emulators, apply, snapshots."),
        "infra": Entry("mlops.cli.infra", "Inspect the infrastructure program: plan, cost."),
        "data": Entry("mlops.cli.data", "The batch data path: generate, ingest, validate, schema."),
        "job": Entry("mlops.cli.job", "Run the stack's batch jobs (one per script in jobs/)."),
        "features": Entry("mlops.cli.features", "The feature store: materialize offline to online."),
        "train": Entry("mlops.cli.train", "Train a dataset's model through the training pipeline."),
        "model": Entry("mlops.cli.model", "The model registry: list, promote, roll back."),
        "mlflow": Entry("mlops.cli.mlflow_ui", "MLflow experiment tracking: the UI."),
        "deploy": Entry(_SERVING, "Deploy a registered model version to the endpoint.", "deploy"),
        "predict": Entry(_SERVING, "Score a payload on the stack's endpoint.", "predict"),
        "batch-predict": Entry(_SERVING, "Score a dataset's feature table into predictions.", "batch-predict"),
        "endpoint": Entry(_SERVING, "What the stack's endpoint serves; stopping it.", "endpoint"),
        "monitor": Entry("mlops.cli.monitor", "Monitoring: drift, performance, data quality, alarms."),
        "stream": Entry("mlops.cli.stream", "The streaming path: produce events, consume features."),
        "release": Entry("mlops.cli.release", "Ship the kit: images, gates, smoke tests, promotion."),
    }


# Plain help (click's formatter): rich's help renderer costs ~0.2 s to import and render, two thirds of what this
# command may take (issue 15: `mlops --help` in <= 0.3 s). The groups' own help stays rich.
app = typer.Typer(
    cls=Root,
    help=(
        "mlops-kit: a production ML platform on AWS, defined as code.\n\n"
        "The Pulumi program in infra/ declares every resource (data lake, streams, Glue jobs, feature store, "
        "SageMaker training/registry/endpoints, MLflow, monitoring, CI/CD roles). Pipeline code finds them "
        "through the stack's outputs. Locally, `mlops local up` runs the same program against an embedded "
        "AWS emulator and the kit plays AWS's data plane (Glue, training, hosting, alarms) itself.\n\n"
        "Choose where commands act with --target (moto | localstack | aws) and --env (local | dev | staging | "
        "prod), or the MLOPS_TARGET / MLOPS_ENVIRONMENT variables. `mlops COMMAND --help` explains a command."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option(help="moto (embedded emulator, default), localstack or aws. Env: MLOPS_TARGET.")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="local, dev, staging or prod. Env: MLOPS_ENVIRONMENT.")
    ] = None,
    stack: Annotated[str | None, typer.Option(help="Pulumi stack to read outputs of (default: --env).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region. Env: MLOPS_REGION.")] = None,
) -> None:
    from mlops.cli.context import CliContext  # with rich's console: not needed to list the commands

    ctx.obj = CliContext(overrides={"target": target, "environment": env, "stack": stack, "region": region})


def main() -> None:
    """Run the CLI; the kit's own errors print as one clear message and exit with status 2."""
    # Before any model library loads: this command and every process it starts (entry points, endpoints)
    # share the machine's cores with the local stack (mlops.contracts.LOCAL_THREAD_ENV).
    os.environ.update(with_local_threads(dict(os.environ)))
    sys.exit(run())


def run(prog_name: str | None = None) -> int:
    """The command of ``sys.argv`` in this process; its exit status (what a forked warm command runs, with the
    name its client was started by)."""
    try:
        app(prog_name=prog_name)
    except MlopsError as exc:
        from rich.markup import escape

        from mlops.cli.context import console

        console.print(f"[red]error:[/] {escape(str(exc))}")  # a message's [...] is text, not markup
        return 2
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("message"): printed as the interpreter would
            print(exc.code, file=sys.stderr)
            return 1
        return int(exc.code or 0)
    return 0
