"""Register a trained model: MLflow run + version with alias ``challenger``, and a SageMaker model package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.registry import SageMakerModelPackages
from mlops.contracts import CHALLENGER
from mlops.local.platform import Platform
from mlops.local.training_runner import LOCAL_IMAGE, TrainingJobRecord
from pipelines.registry.mlflow_models import PACKAGE_TAG, STAGE_TAG
from pipelines.training.entry_point import model_requirements
from pipelines.training.tracking import ensure_experiment


@dataclass(frozen=True)
class Registration:
    """Where a trained model was registered."""

    model_name: str
    model_version: int
    run_id: str
    model_package_arn: str
    model_package_version: int


def metric_key(name: str) -> str:
    """SageMaker metric names (``validation:pr_auc``) as MLflow metric keys (``validation_pr_auc``)."""
    return name.replace(":", "_")


def register_challenger(
    platform: Platform,
    client: Any,
    dataset: str,
    record: TrainingJobRecord,
    *,
    model_dir: Path,
    summary: dict[str, Any],
    lineage: dict[str, str],
) -> Registration:
    """Log the job's params, metrics, lineage and model to MLflow; alias it ``challenger``; add a package.

    Must run inside :func:`pipelines.training.tracking.mlflow_session`.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import Model

    experiment_id = ensure_experiment(client, platform, dataset)
    saved = Model.load(str(model_dir))
    sk_model = mlflow.sklearn.load_model(str(model_dir))
    with mlflow.start_run(experiment_id=experiment_id, run_name=record.job_name) as run:
        mlflow.log_params({f"hp_{k}": v for k, v in sorted(record.hyperparameters.items()) if k != "features"})
        mlflow.log_params({f"best_{k}": v for k, v in sorted(summary["best_params"].items())})
        mlflow.log_metrics({metric_key(k): v for k, v in record.metrics.items()})
        mlflow.set_tags({"dataset": dataset, **lineage})
        mlflow.log_dict(summary, "evaluation/metrics.json")
        info = mlflow.sklearn.log_model(
            sk_model,
            name="model",
            signature=saved.signature,
            serialization_format="cloudpickle",
            pyfunc_predict_fn=saved.flavors["python_function"].get("predict_fn", "predict"),
            registered_model_name=dataset,
            pip_requirements=model_requirements(),
        )
    version = int(info.registered_model_version)
    client.set_registered_model_alias(dataset, CHALLENGER, str(version))
    for key, value in {**lineage, STAGE_TAG: "Staging"}.items():
        client.set_model_version_tag(dataset, str(version), key, value)

    packages = SageMakerModelPackages(platform.clients, platform.outputs.model_package_group)
    metrics_url = _upload_metrics(platform, record.job_name, summary)
    package = packages.create(
        model_data_url=record.model_artifact,
        image=LOCAL_IMAGE,
        metadata={
            "mlflow_model": dataset,
            "mlflow_version": str(version),
            **{k: v for k, v in lineage.items() if k in ("dataset_version", "training_job", "code_version")},
            **{metric_key(k): f"{v:.6g}" for k, v in record.metrics.items() if k.startswith("validation:")},
        },
        description=f"{dataset} v{version} from training job {record.job_name}",
        metrics_url=metrics_url,
        lineage={"CommitId": lineage.get("code_version", ""), "GeneratedBy": record.job_arn},
    )
    client.set_model_version_tag(dataset, str(version), PACKAGE_TAG, package.arn)
    return Registration(dataset, version, run.info.run_id, package.arn, package.version)


def _upload_metrics(platform: Platform, job_name: str, summary: dict[str, Any]) -> str:
    bucket = platform.outputs.bucket_for_zone("models")
    key = f"training-jobs/{job_name}/output/evaluation.json"
    platform.clients.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(summary, sort_keys=True).encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"
