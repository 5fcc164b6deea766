"""``mlops mlflow ui``: MLflow's UI on loopback, pointed at the model registry's tracking store and artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import cli_context, console

app = typer.Typer(help="MLflow experiment tracking.", no_args_is_help=True)


@app.command()
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start `mlflow ui` on 127.0.0.1 with the registry's tracking URI and artifact store; Ctrl-C stops it."""
    env = cli_context(ctx).platform().services.model_registry.environment()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_bin), "ui", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", env["MLFLOW_TRACKING_URI"]]
    console.print(f"MLflow UI on http://127.0.0.1:{port} (tracking {env['MLFLOW_TRACKING_URI']}); Ctrl-C stops it")
    process = subprocess.Popen(command, env={**os.environ, **env, "PATH": f"{mlflow_bin.parent}:{os.environ['PATH']}"})
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
