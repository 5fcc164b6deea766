"""Train -> register on local Google Cloud: the training pipeline's definition run by the kit's executor with its
Training step played as a Vertex custom job (the entry point under the ``AIP_*`` contract reading and writing the
GCS emulator through the object-store port), and the model registered in MLflow with its package kept in the
Firestore emulator; a second process (the wiring built again from the settings) sees the same registry."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from infra.pipeline_definition import bind_parameter_defaults
from mlops.contracts import CHALLENGER
from mlops.local.vertex_training import deploy_definition
from mlops.modeling.spec import ModelSpec, features_of
from mlops.platform import Platform
from mlops.settings import Settings
from mlops.wiring import container_platform
from pipelines.training.workflow import train_dataset
from tests.integration.training.support import publish_dataset
from tests.unit.training.synthetic import definition, end_time, feature_frame

pytestmark = pytest.mark.server

FAST = {"max_iter": "30", "search_learning_rate": "0.2", "search_max_leaf_nodes": "15"}
DEFINITION = Path(__file__).parents[3] / "pipelines" / "training" / "pipeline_definition.json"
ZONES = ("raw", "curated", "features", "models", "monitoring", "quarantine", "artifacts")


def _bound_definition(outputs: dict[str, str]) -> str:
    """The committed definition with the stack's values bound as the GCP program binds them, in ``gs://``: the
    tracking URI is the program's location (the local stack's outputs name a sqlite store, which the executor
    binds) and the region is Google's (the steps' settings keep theirs)."""
    features, models = outputs["features_bucket"], outputs["models_bucket"]
    values = {
        "ExecutionRoleArn": "vertex-training@mlops-local.iam.gserviceaccount.com",
        "TrainingImage": "local",
        "InferenceImage": "local",
        "TrainUri": f"gs://{features}/training/train/",
        "ValidationUri": f"gs://{features}/training/validation/",
        "ModelOutputUri": f"gs://{models}/training/output/",
        "EvaluationUri": f"gs://{models}/training/reports/",
        "FeatureTableUri": f"gs://{features}/tables/unset/",
        "DatasetDefinitionUri": outputs["dataset_definitions_uri"],
        "ModelPackageGroup": outputs["model_package_group"],
        "MlflowTrackingUri": f"gs://{models}/mlflow",  # what the program binds; the stack's outputs say sqlite
        "ModelsBucket": models,
        "Region": "us-central1",
    }
    security = dict.fromkeys(("VolumeKmsKeyId", "OutputKmsKeyId", "SubnetIdA", "SubnetIdB", "SecurityGroupId"), "")
    return bind_parameter_defaults(DEFINITION.read_text(), values, source=str(DEFINITION), extra=security)


@pytest.fixture
def gcp_training_platform(gcp_settings: Settings, tmp_path: Path) -> Platform:
    """A local GCP stack: its buckets in the GCS emulator, a sqlite MLflow, the definition deployed."""
    suffix = secrets.token_hex(4)
    outputs = {f"{zone}_bucket": f"{zone}-{suffix}" for zone in ZONES}
    outputs |= {
        "stack": "local",
        "model_package_group": f"model-{suffix}",
        "training_pipeline_name": f"training-{suffix}",
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "dataset_definitions_uri": f"gs://{outputs['artifacts_bucket']}/datasets/",
    }
    settings = gcp_settings.model_copy(update={"state_dir": tmp_path / "state"})
    platform = container_platform(settings, **outputs)
    storage = platform.services.gcp_clients.storage()  # type: ignore[attr-defined]
    for zone in ZONES:  # what the infra program would create
        storage.create_bucket(outputs[f"{zone}_bucket"])
    deploy_definition(
        platform.services.object_store,
        outputs["artifacts_bucket"],
        outputs["training_pipeline_name"],
        _bound_definition(outputs),
    )
    return platform


def test_the_pipeline_trains_as_a_vertex_custom_job_and_registers_on_the_emulators(
    gcp_training_platform: Platform,
) -> None:
    platform = gcp_training_platform
    spec = definition(f"vertex_{secrets.token_hex(3)}")
    frame = feature_frame(800)
    publish_dataset(platform, spec, frame)

    run = train_dataset(platform, spec, hyperparameters=FAST, cutoff=end_time(frame))
    execution = run.execution
    assert execution.status == "Succeeded", execution.failure_reason
    assert [s.name for s in execution.steps] == ["Prepare", "Train", "Evaluate", "QualityBar", "Register"]
    assert execution.arn.startswith(f"projects/{platform.settings.gcp.project}/locations/")
    assert platform.services.training.describe(execution.arn) == execution

    job_name = execution.step("Train").metadata["TrainingJob"]["Arn"]  # type: ignore[union-attr]
    assert "/customJobs/" in job_name
    challenger = platform.services.model_registry.version(spec.name, CHALLENGER)
    assert challenger.tags["pipeline_execution"] == execution.arn
    artifact = challenger.tags["model_artifact"]
    model_dir = artifact.removesuffix("model.tar.gz")
    assert artifact.startswith(f"gs://{platform.outputs.models_bucket}/training/output/")
    assert model_dir.endswith("/model/")  # AIP_MODEL_DIR: the model as files and as the archive later steps read
    store, models = platform.services.object_store, platform.outputs.models_bucket
    prefix = model_dir.removeprefix(f"gs://{models}/")
    keys = store.list_keys(models, prefix)
    assert {f"{prefix}mlflow_model/MLmodel", f"{prefix}metrics.json", f"{prefix}model.tar.gz"} <= set(keys)
    summary = json.loads(store.get(models, f"{prefix}metrics.json"))
    assert summary["hyperparameters"]["max_iter"] == "30"  # the --max_iter=30 argument reached the entry point
    assert challenger.metrics["validation_pr_auc"] == pytest.approx(summary["job_metrics"]["validation:pr_auc"])
    assert (challenger.approval, challenger.package_stage) == ("PendingManualApproval", "Staging")
    assert challenger.model_package_arn.endswith(f"/models/{platform.outputs.model_package_group}@1")

    # another process of the stack (the wiring built again from the settings) sees the same registry and packages
    again = container_platform(platform.settings, **platform.outputs.model_dump())
    promoted = again.services.model_registry
    promoted.set_champion(spec.name, challenger.version, note="first champion")
    assert platform.services.model_registry.version(spec.name, "champion").package_stage == "Production"
    model = promoted.load_model(spec.name, "champion")  # the model's artifacts come back from the GCS emulator
    assert model.predict_proba(features_of(frame.head(5), ModelSpec.from_definition(spec))).shape == (5, 2)
