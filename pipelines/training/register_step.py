"""Processing entry point ``Register``: the model that passed the quality bar, registered through the model registry
service (``platform.services.model_registry``) - the one registration every runner performs.

Run as ``python -m pipelines.training.register_step`` in the kit's image: by SageMaker on AWS, by the local pipeline
executor against the emulator. The step builds its platform through :mod:`mlops.wiring` from the environment
(``MLOPS_TARGET``, ``MLOPS_REGION``: the definition sets them to AWS, the local executor points them at the
emulator) and from the stack values its arguments carry; a registration therefore needs no stack outputs file in
the container.

Contract (paths under ``$MLOPS_PROCESSING_ROOT``, default ``/opt/ml/processing``):

- ``input/model/model.tar.gz``: the training job's artifact (``mlflow_model/`` + ``metrics.json``);
- ``input/split/split.json``: Prepare's lineage (``dataset``, ``dataset_version``);
- ``input/evaluation/evaluation.json``: Evaluate's report (kept with the registration's summary);
- ``input/evaluation/statistics.json``, ``constraints.json``: the drift-check baseline (stored with the version);
- ``output/registration/registration.json``: where the model was registered (MLflow version, model package).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlops.errors import TrainingDataError
from mlops.platform import Platform
from mlops.ports.model_registry import ModelRegistry, Registration, RegistrationRequest
from mlops.settings import Settings
from monitoring.baseline import read_baseline
from pipelines.training.processing import input_dir, output_dir, run_step

ARTIFACT = "model.tar.gz"
REPORT = "registration.json"


def _read_json(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    if not path.is_file():
        raise TrainingDataError(f"processing input {directory.name!r} holds no {name} under {directory}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def unpack_model(directory: Path, into: Path) -> tuple[Path, dict[str, Any]]:
    """Unpack the training job's archive; returns the MLflow model directory and the job's ``metrics.json``."""
    archive = directory / ARTIFACT
    if not archive.is_file():
        raise TrainingDataError(f"processing input 'model' holds no {ARTIFACT} under {directory}")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    if not (into / "mlflow_model" / "MLmodel").is_file():
        raise TrainingDataError(f"{archive} holds no mlflow_model/MLmodel: not a model of the training entry point")
    return into / "mlflow_model", _read_json(into, "metrics.json")


def registration_request(root: Path, arguments: argparse.Namespace, model_into: Path) -> RegistrationRequest:
    """What the registry needs, from the step's inputs and arguments (identical for every runner)."""
    model_dir, summary = unpack_model(input_dir(root, "model"), model_into)
    split = _read_json(input_dir(root, "split"), "split.json")
    evaluation = _read_json(input_dir(root, "evaluation"), "evaluation.json")
    for key in ("job_metrics", "hyperparameters"):
        if key not in summary:
            raise TrainingDataError(f"the model's metrics.json has no {key!r}: retrain with the current entry point")
    return RegistrationRequest(
        dataset=str(split["dataset"]),
        job_name=arguments.training_job,
        job_arn=arguments.training_job_arn,
        model_dir=model_dir,
        model_artifact=arguments.model_artifact,
        image=arguments.image,
        hyperparameters={str(k): str(v) for k, v in summary["hyperparameters"].items()},
        metrics={str(k): float(v) for k, v in summary["job_metrics"].items()},
        summary={**summary, "evaluation": evaluation},
        baseline=read_baseline(input_dir(root, "evaluation")),
        lineage={
            "dataset_version": str(split["dataset_version"]),
            "training_job": arguments.training_job,
            "code_version": arguments.code_version,
            "holdout_uri": arguments.holdout_uri,
            "model_artifact": arguments.model_artifact,
            "pipeline_execution": arguments.pipeline_execution,
        },
    )


def register(root: Path, arguments: argparse.Namespace, registry: ModelRegistry) -> Registration:
    """Register the model through ``registry`` and write ``output/registration/registration.json``."""
    with tempfile.TemporaryDirectory() as tmp:
        registration = registry.register(registration_request(root, arguments, Path(tmp)))
    report = {**asdict(registration), "dataset": registration.model_name}
    (output_dir(root, "registration") / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return registration


def step_platform(settings: Settings, arguments: argparse.Namespace) -> Platform:
    """The platform of the step: the environment's settings and the stack values the arguments carry (only the
    outputs the registry reads are known; reading another fails with its name)."""
    from mlops.wiring import container_platform

    return container_platform(
        settings,
        stack=settings.stack_name,
        region=settings.region,
        models_bucket=arguments.models_bucket,
        model_package_group=arguments.model_package_group,
        mlflow_tracking_uri=arguments.mlflow_tracking_uri,
    )


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.training.register_step", description=__doc__.split("\n")[0]
    )
    for name, text in (
        ("training-job", "Name of the training job that produced the model."),
        ("training-job-arn", "Its ARN (the model package's lineage)."),
        ("model-artifact", "Object URI of the job's model.tar.gz."),
        ("holdout-uri", "Object URI of the holdout the model was evaluated on."),
        ("image", "Inference image of the model package."),
        ("pipeline-execution", "ARN of the pipeline execution (lineage)."),
        ("model-package-group", "The stack's model package group."),
        ("mlflow-tracking-uri", "The stack's MLflow tracking URI."),
        ("models-bucket", "The stack's models bucket."),
    ):
        parser.add_argument(f"--{name}", required=True, help=text)
    parser.add_argument("--code-version", default="unknown", help="Commit of the code that trained the model.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, build the platform and register; exit 0, or 1 with the reason on stderr."""
    arguments = parse_arguments(argv)

    def body(root: Path) -> object:
        from mlops.settings import load_settings

        platform = step_platform(load_settings(), arguments)
        registration = register(root, arguments, platform.services.model_registry)
        print(json.dumps(asdict(registration), sort_keys=True), flush=True)
        return registration

    return run_step("register", body)


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    sys.exit(main())
