"""Entry point of the ``mlops`` command."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from mlops.cli import data, features, infra, job, local, local_data, mlflow_ui, model, release, train
from mlops.cli import deploy as serving_cli
from mlops.cli import monitor as monitor_cli
from mlops.cli import stream as stream_cli
from mlops.cli.context import CliContext, console
from mlops.contracts import with_local_threads
from mlops.errors import MlopsError

app = typer.Typer(
    help=(
        "mlops-kit: a production ML platform on AWS, defined as code.\n\n"
        "The Pulumi program in infra/ declares every resource (data lake, streams, Glue jobs, feature store, "
        "SageMaker training/registry/endpoints, MLflow, monitoring, CI/CD roles). Pipeline code finds them "
        "through the stack's outputs. Locally, `mlops local up` runs the same program against an embedded "
        "AWS emulator and the kit plays AWS's data plane (Glue, training, hosting, alarms) itself.\n\n"
        "Choose where commands act with --target (moto | localstack | aws) and --env (local | dev | staging | "
        "prod), or the MLOPS_TARGET / MLOPS_ENVIRONMENT variables."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(local.app, name="local")
app.add_typer(infra.app, name="infra")
app.add_typer(job.app, name="job")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(train.app, name="train")
app.add_typer(model.app, name="model")
app.add_typer(mlflow_ui.app, name="mlflow")
serving_cli.register(app)  # deploy, predict, batch-predict, endpoint
local_data.register(local.app)  # local snapshot, local restore
app.add_typer(monitor_cli.app, name="monitor")
app.add_typer(stream_cli.app, name="stream")
app.add_typer(release.app, name="release")


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
        console.print(f"[red]error:[/] {escape(str(exc))}")  # a message's [...] is text, not markup
        return 2
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("message"): printed as the interpreter would
            print(exc.code, file=sys.stderr)
            return 1
        return int(exc.code or 0)
    return 0
