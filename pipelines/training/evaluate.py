"""Processing entry point ``Evaluate``: the trained model's task metrics on the holdout, and its quality score.

Run as ``python -m pipelines.training.evaluate`` (in a SageMaker processing container, or locally with
``MLOPS_PROCESSING_ROOT`` set). The metrics are :func:`pipelines.training.steps.evaluate`, the function the
training entry point and the promotion gate use.

Contract (paths under ``$MLOPS_PROCESSING_ROOT``, default ``/opt/ml/processing``):

- ``input/model/model.tar.gz``: the training job's artifact (``mlflow_model/`` + ``metrics.json``);
- ``input/validation/``: the holdout Parquet written by ``Prepare``;
- ``output/evaluation/evaluation.json``: ``task``, ``metrics``, ``primary_metric`` and ``quality.skill``, read by
  the pipeline's quality bar (a ``PropertyFile``) and attached to the model package as its quality statistics;
- ``output/evaluation/statistics.json`` and ``constraints.json``: the holdout's drift-check baseline in Model
  Monitor's formats (:mod:`monitoring.baseline`), registered with the model version.

``quality.skill`` puts both tasks on one scale, 0 for a model no better than a constant and 1 for a perfect one:
binary ``(PR-AUC - positive rate) / (1 - positive rate)`` (a random ranking's PR-AUC is the positive
rate), regression R2 (``1 - MSE / variance``, the constant being the holdout mean).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops.errors import TrainingDataError
from mlops.modeling.metrics import primary_metric
from mlops.modeling.metrics import skill as task_skill
from mlops.modeling.spec import ModelSpec
from monitoring.baseline import baseline_of, write_baseline
from pipelines.training import steps
from pipelines.training.hyperparameters import Hyperparameters
from pipelines.training.processing import (
    add_spec_arguments,
    input_dir,
    output_dir,
    read_parquet_dir,
    run_step,
    spec_of,
)

REPORT = "evaluation.json"
ARTIFACT = "model.tar.gz"


def skill(task: str, metrics: Mapping[str, float]) -> float:
    """The primary metric's improvement over a constant model, 0 (no better) to 1 (perfect): per task in
    :func:`mlops.modeling.metrics.skill` (multiclass: ``1 - log loss / log loss of the class frequencies``)."""
    return task_skill(task, metrics)


def load_model(directory: Path, into: Path) -> Any:
    """Unpack the training job's ``model.tar.gz`` into ``into`` and load its MLflow sklearn model."""
    import mlflow.sklearn

    archive = directory / ARTIFACT
    if not archive.is_file():
        raise TrainingDataError(f"processing input 'model' holds no {ARTIFACT} under {directory}")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    if not (into / "mlflow_model" / "MLmodel").is_file():
        raise TrainingDataError(f"{archive} holds no mlflow_model/MLmodel: not a model of the training entry point")
    return mlflow.sklearn.load_model(str(into / "mlflow_model"))


def evaluate(root: Path, spec: ModelSpec, target_precision: float) -> dict[str, Any]:
    """Score the model on the holdout and write ``output/evaluation/evaluation.json``; returns its content."""
    holdout = read_parquet_dir(input_dir(root, "validation"), "validation")
    steps.check_frame(holdout, spec, "validation", steps.MIN_VALIDATION_ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(input_dir(root, "model"), Path(tmp))
        metrics = steps.evaluate(model, holdout, spec, target_precision)
    name, greater = primary_metric(spec.task)
    report = {
        "task": spec.task,
        "metrics": metrics,
        "primary_metric": {"name": name, "value": metrics[name], "greater_is_better": greater},
        "quality": {"skill": skill(spec.task, metrics)},
    }
    (output_dir(root, "evaluation") / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    write_baseline(output_dir(root, "evaluation"), baseline_of(holdout, spec))
    return report


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--target-precision",
        type=float,
        default=Hyperparameters().target_precision,
        help="Precision at which recall_at_precision is reported (classification).",
    )
    add_spec_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the contract; exit 0, or 1 with the reason on stderr."""
    arguments = parse_arguments(argv)

    def body(root: Path) -> object:
        report = evaluate(root, spec_of(arguments), arguments.target_precision)
        print(json.dumps(report, sort_keys=True), flush=True)
        return report

    return run_step("evaluate", body)


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    sys.exit(main())
