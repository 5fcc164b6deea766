"""Training entry point honouring the SageMaker training contract.

Run as ``python -m pipelines.training.entry_point`` (the training step's container entry point, on SageMaker or
in the local training runner; as a Vertex AI custom job, or in the local Vertex runner, under the Vertex
contract: :mod:`pipelines.training.vertex_contract`, chosen when ``AIP_MODEL_DIR`` is set).

Contract (paths under ``$MLOPS_SM_ROOT``, default ``/opt/ml``):

- input channels ``input/data/train`` and ``input/data/validation``: Parquet files (searched recursively);
- hyperparameters ``input/config/hyperparameters.json``: a JSON object whose values are all strings; the
  model spec (``task``, ``label``, ``event_time``, ``features``, ``categorical``) travels there too;
- the model is written to ``model/``: an MLflow model directory ``model/mlflow_model`` plus ``metrics.json`` (task
  metrics, the job's metrics by SageMaker name, the hyperparameters read, the search);
- metrics are printed one per line as ``<name>=<value>;`` (see :data:`METRIC_DEFINITIONS` for the regexes);
- on error the reason is written to ``output/failure`` and the process exits with status 1.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.errors import MlopsError, TrainingDataError
from mlops.modeling.scoring import json_ready, positive_index
from mlops.modeling.spec import ModelSpec, features_of
from pipelines.training import steps, vertex_contract
from pipelines.training.hyperparameters import Hyperparameters, parse_hyperparameters, parse_spec

ROOT_ENV = "MLOPS_SM_ROOT"
DEFAULT_ROOT = "/opt/ml"
CHANNELS = ("train", "validation")
METRIC_NAMES = (
    "validation:pr_auc",
    "validation:roc_auc",
    "validation:recall_at_precision",
    "validation:rmse",
    "validation:mae",
    "validation:r2",
    "validation:log_loss",
    "validation:f1_macro",
    "validation:f1_weighted",
    "validation:accuracy",
    "train:rows",
    "validation:rows",
    "train:seconds",
)
# SageMaker metric definitions: one regex per metric, the value in the first group.
METRIC_DEFINITIONS = [{"Name": name, "Regex": f"{name}=([-+0-9.eE]+|nan|inf);"} for name in METRIC_NAMES]


def sm_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def read_channel(root: Path, channel: str) -> pd.DataFrame:
    """All Parquet files of a channel as one frame; a missing or empty channel names itself."""
    directory = root / "input" / "data" / channel
    if not directory.is_dir():
        raise TrainingDataError(f"input channel {channel!r} is missing (no directory {directory})")
    files = sorted(p for p in directory.rglob("*.parquet") if p.is_file())
    if not files:
        raise TrainingDataError(f"input channel {channel!r} holds no Parquet files under {directory}")
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def read_hyperparameters(root: Path) -> dict[str, str]:
    path = root / "input" / "config" / "hyperparameters.json"
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise TrainingDataError(f"{path} must hold a JSON object")
    return {str(k): str(v) for k, v in raw.items()}


def emit_metric(name: str, value: float) -> None:
    """One line SageMaker's metric regexes (:data:`METRIC_DEFINITIONS`) can parse."""
    print(f"{name}={value:.6g};", flush=True)


def job_metrics(metrics: dict[str, float], train_rows: int, seconds: float) -> dict[str, float]:
    """The job's metrics by their SageMaker names (``validation:pr_auc``...): printed for the metric regexes and
    kept in ``metrics.json``, so whoever registers the model reads the same figures on every runner."""
    return {
        **{f"validation:{name}": value for name, value in metrics.items()},
        "train:rows": float(train_rows),
        "train:seconds": seconds,
    }


def train(root: Path) -> dict[str, Any]:
    """Train, select, evaluate and save; returns the metrics written to ``model/metrics.json``."""
    raw = read_hyperparameters(root)
    spec = parse_spec(raw)
    params = parse_hyperparameters(raw)
    frames = {channel: read_channel(root, channel) for channel in CHANNELS}
    steps.check_frame(frames["train"], spec, "train", params.min_train_rows)
    steps.check_frame(frames["validation"], spec, "validation", steps.MIN_VALIDATION_ROWS)
    started = time.perf_counter()
    result = steps.search(frames["train"], spec, params)
    model = steps.fit(steps.build_model(spec, params, result.best), frames["train"], spec)
    seconds = time.perf_counter() - started
    metrics = steps.evaluate(model, frames["validation"], spec, params.target_precision)
    reported = job_metrics(metrics, len(frames["train"]), seconds)
    for name, value in reported.items():
        emit_metric(name, value)
    summary = {
        "metrics": metrics,
        "job_metrics": reported,
        "hyperparameters": raw,
        "best_params": result.best,
        "search": [{"params": p, result.metric: s} for p, s in result.scores],
        "train_rows": len(frames["train"]),
        "train_seconds": seconds,
    }
    save_model(root / "model", model, frames["train"], spec, params)
    (root / "model" / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def model_metadata(model: Any, spec: ModelSpec, params: Hyperparameters) -> dict[str, Any]:
    """What the model says about itself in its MLmodel file: the task, the label, and for a classifier its
    classes in their declared type and (binary) the positive class, so a server knows which probability to serve."""
    metadata: dict[str, Any] = {"task": spec.task, "label": spec.label, "seed": params.seed}
    if spec.is_classification:
        classes = json_ready(model.classes_)
        metadata["classes"] = classes
        if spec.task == "binary":
            metadata["positive_class"] = classes[positive_index(classes, spec.positive_class)]
    return metadata


def save_model(directory: Path, model: Any, train: pd.DataFrame, spec: ModelSpec, params: Hyperparameters) -> None:
    """Save as an MLflow sklearn model with its signature (inputs: the features; output: class probabilities
    for classification, the value for regression)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    sample = features_of(train.head(100), spec)
    output = model.predict_proba(sample) if spec.is_classification else model.predict(sample)
    directory.mkdir(parents=True, exist_ok=True)
    mlflow.sklearn.save_model(
        model,
        str(directory / "mlflow_model"),
        serialization_format="cloudpickle",
        signature=infer_signature(sample, output),
        pyfunc_predict_fn="predict_proba" if spec.is_classification else "predict",
        metadata=model_metadata(model, spec, params),
        pip_requirements=model_requirements(),
    )


def model_requirements() -> list[str]:
    """Pinned serving requirements (given explicitly: inferring them exports the whole project, slowly)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "pandas", "numpy", "cloudpickle")]


def train_vertex(contract: vertex_contract.VertexContract, args: list[str]) -> dict[str, Any]:
    """The Vertex contract: stage the data URIs through the object-store port into a SageMaker-shaped root, train
    there, upload the model under ``AIP_MODEL_DIR``. The store is the one the environment's settings wire
    (``MLOPS_CLOUD``, ``MLOPS_TARGET``, ``MLOPS_GCP__*``)."""
    from mlops.settings import load_settings
    from mlops.wiring import container_platform

    store = container_platform(load_settings()).services.object_store
    hyperparameters = vertex_contract.hyperparameters_from_args(args)
    if contract.job_id:
        print(f"vertex custom job {contract.job_id}", flush=True)
    with tempfile.TemporaryDirectory(prefix="vertex-training-") as tmp:
        root = Path(tmp)
        vertex_contract.stage(store, contract, root, CHANNELS)
        config = root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        summary = train(root)
        vertex_contract.upload_model(store, contract, root / "model")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the contract the environment names (Vertex when ``AIP_MODEL_DIR`` is set, else SageMaker's); exit 0 on
    success, 1 with the reason on stderr (and, under SageMaker's contract, in ``output/failure``) on any error."""
    root = sm_root()
    args = sys.argv[1:] if argv is None else argv
    try:
        contract = vertex_contract.from_environment(os.environ)
        if contract is None:
            train(root)
        else:
            train_vertex(contract, args)
    except Exception as exc:  # every failure must reach the job's reason channel
        reason = str(exc) if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
        if vertex_contract.MODEL_DIR_ENV not in os.environ:  # Vertex has no reason file: its log is the channel
            failure = root / "output" / "failure"
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(reason + "\n")
        print(f"training failed: {reason}", file=sys.stderr, flush=True)
        if not isinstance(exc, MlopsError):
            traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    sys.exit(main())
