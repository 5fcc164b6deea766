"""The training pipeline the GCP program deploys: the committed definition bound with the stack's ``gs://``
locations, account, images and key (every parameter a stack must bind is bound), and the executor's control plane
reading it back with the tracking URI the running stack's outputs name."""

from __future__ import annotations

import json
from typing import Any

from infra.components.training import read_pipeline_definition
from infra.config import REPO_ROOT
from infra.gcp.components.base import GcpIdentity
from infra.gcp.components.training import GcpTrainingArgs, _bind
from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.contracts import UNBOUND
from mlops.local.vertex_training import StoredControlPlane, deploy_definition

IDENTITY = GcpIdentity("mlops-kit", "dev", "ml-platform", "us-central1", "mlops-kit-dev", "100000000001")


def _defaults(definition: str) -> dict[str, Any]:
    return {p["Name"]: p.get("DefaultValue") for p in json.loads(definition)["Parameters"]}


def test_the_program_binds_every_stack_parameter_in_gs_uris() -> None:
    args = GcpTrainingArgs(
        identity=IDENTITY,
        vertex_key="kms-vertex",  # type: ignore[arg-type]  # resolved values, as .apply hands them
        data_buckets={},
        models_bucket="models-b",  # type: ignore[arg-type]
        artifacts_bucket="artifacts-b",  # type: ignore[arg-type]
        repositories={},
        pipeline_definition=read_pipeline_definition(REPO_ROOT),
    )
    values = ["vertex@p.iam", "features-b", "models-b", "artifacts-b", "train:1", "serve:1", "kms-vertex"]
    defaults = _defaults(_bind(args, "mlops-kit-dev-model", values))

    assert UNBOUND not in defaults.values()
    assert defaults["TrainUri"] == "gs://features-b/training/train/"
    assert defaults["ValidationUri"] == "gs://features-b/training/validation/"
    assert defaults["ModelOutputUri"] == "gs://models-b/training/output/"
    assert defaults["DatasetDefinitionUri"] == "gs://artifacts-b/datasets/card_transactions/"
    assert (defaults["ExecutionRoleArn"], defaults["TrainingImage"], defaults["InferenceImage"]) == (
        "vertex@p.iam",
        "train:1",
        "serve:1",
    )
    assert (defaults["ModelPackageGroup"], defaults["Region"], defaults["VolumeKmsKeyId"]) == (
        "mlops-kit-dev-model",
        "us-central1",
        "kms-vertex",
    )


def test_the_executor_reads_the_deployed_definition_with_the_stacks_tracking_uri() -> None:
    store = MemoryObjectStore(buckets=("artifacts-b",))
    document = {"Parameters": [{"Name": "MlflowTrackingUri", "DefaultValue": "gs://models-b/mlflow"}], "Steps": []}
    uri = deploy_definition(store, "artifacts-b", "mlops-kit-dev-training", json.dumps(document))
    assert uri == "memory://artifacts-b/pipelines/mlops-kit-dev-training/definition.json"

    control = StoredControlPlane(
        store, "artifacts-b", "p", "us-central1", defaults={"MlflowTrackingUri": "sqlite:///s/mlflow.db"}
    )
    assert _defaults(control.definition("mlops-kit-dev-training")) == {"MlflowTrackingUri": "sqlite:///s/mlflow.db"}
    name = control.start_execution("mlops-kit-dev-training", "", {})
    assert name.startswith("projects/p/locations/us-central1/pipelineJobs/mlops-kit-dev-training-")
