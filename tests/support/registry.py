"""Models as a training job leaves them (an MLflow model directory) and registration requests for them, so the
registry's tests register real models without running a training job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.modeling.spec import ModelSpec
from mlops.ports.model_registry import RegistrationRequest
from pipelines.training import steps
from pipelines.training.entry_point import save_model
from pipelines.training.hyperparameters import parse_hyperparameters, to_strings
from tests.unit.training.synthetic import definition, feature_frame

IMAGE = "mlops-kit/training:test"


@dataclass(frozen=True)
class JobModel:
    """A fitted model saved like the training entry point saves it, with the data it saw."""

    definition: DatasetDefinition
    model_dir: Path
    train: pd.DataFrame
    holdout: pd.DataFrame
    hyperparameters: dict[str, str]


def job_model(
    directory: Path, name: str, task: str = "binary", max_iter: int = 15, *, shuffled: bool = False
) -> JobModel:
    """Fit a small model on synthetic features and save it as ``<directory>/mlflow_model``.

    ``shuffled`` trains on permuted labels: a model that learned nothing, which any real model beats.
    """
    spec_definition = definition(name, task)
    spec = ModelSpec.from_definition(spec_definition)
    strings = to_strings(spec, {"max_iter": str(max_iter)})
    params = parse_hyperparameters(strings)
    split = steps.time_split(feature_frame(600, task), spec, 0.25)
    train = split.train
    if shuffled:
        train = train.assign(**{spec.label: train[spec.label].sample(frac=1.0, random_state=3).to_numpy()})
    model = steps.fit(steps.build_model(spec, params), train, spec)
    save_model(directory, model, split.train, spec, params)
    return JobModel(spec_definition, directory / "mlflow_model", split.train, split.validation, strings)


def registration(
    job: JobModel,
    job_name: str,
    *,
    dataset: str | None = None,
    holdout_uri: str = "memory://models/holdout/",
    metrics: dict[str, float] | None = None,
    lineage: dict[str, str] | None = None,
) -> RegistrationRequest:
    """The request both training runners would send for ``job``."""
    return RegistrationRequest(
        dataset=dataset or job.definition.name,
        job_name=job_name,
        job_arn=f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{job_name}",
        model_dir=job.model_dir,
        model_artifact=f"s3://models/training-jobs/{job_name}/output/model.tar.gz",
        image=IMAGE,
        hyperparameters=job.hyperparameters,
        metrics=metrics or {"validation:pr_auc": 0.8, "validation:roc_auc": 0.85},
        summary={"best_params": {"learning_rate": 0.1}, "validation": {"pr_auc": 0.8}},
        lineage={
            "dataset_version": "3",
            "training_job": job_name,
            "code_version": "abc123",
            "holdout_uri": holdout_uri,
            "model_artifact": f"s3://models/training-jobs/{job_name}/output/model.tar.gz",
            **(lineage or {}),
        },
    )
