"""The handover of a gated version to the next stack (pipelines/registry/handover.py) between two in-memory
stacks, each with its own registry, package group and buckets: artifact and holdout copied to the target's
buckets, a challenger registered there with its origin, nothing registered twice, errors naming what is missing."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlops.contracts import CHALLENGER
from mlops.errors import RegistryError
from mlops.layout import split_uri
from mlops.outputs import parse_outputs
from mlops.platform import Platform
from mlops.registry.service import BASELINE_TAGS
from mlops.settings import ServiceChoices, Settings, load_settings
from mlops.wiring import WiredServices, build_platform, client_factory, promotion_source_platform
from pipelines.registry.handover import PROMOTED_FROM_TAG, SOURCE_PACKAGE_TAG, hand_over
from tests.support.registry import JobModel, registration
from tests.unit.test_outputs import complete_outputs

MEMORY = ServiceChoices.model_validate({"object_store": {"type": "memory"}, "model_registry": {"type": "memory"}})
ARTIFACT_KEY = "training/output/job-1/output/model.tar.gz"
HOLDOUT_KEY = "training/validation/job-1/"
BASELINE: dict[str, dict[str, Any]] = {
    "statistics.json": {"dataset": {"item_count": 3}},
    "constraints.json": {"features": []},
}


def _stack(name: str) -> Platform:
    raw: dict[str, Any] = {**complete_outputs(), "stack": name, "environment": name}
    for key in list(raw):
        if key.endswith("_bucket"):
            raw[key] = f"mlops-kit-{name}-{key.removesuffix('_bucket')}"
    raw["model_package_group"] = f"mlops-kit-{name}-models"
    raw["image_uris"] = {"serving": f"ecr/mlops-kit-{name}/serving:1"}
    return build_platform(load_settings(target="moto", services=MEMORY), parse_outputs(raw, name))


def _archive(job: JobModel) -> bytes:
    """The training job's model.tar.gz: ``mlflow_model/`` and ``metrics.json``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(job.model_dir, arcname="mlflow_model")
        summary = json.dumps({"hyperparameters": job.hyperparameters, "job_metrics": {"validation:pr_auc": 0.8}})
        info = tarfile.TarInfo("metrics.json")
        info.size = len(summary)
        tar.addfile(info, io.BytesIO(summary.encode()))
    return buffer.getvalue()


@pytest.fixture
def dev(job: JobModel) -> Platform:
    """A dev stack whose champion is a trained model, its artifact and holdout in dev's buckets."""
    platform = _stack("dev")
    objects, layout = platform.services.object_store, platform.layout
    objects.put(layout.bucket("models"), ARTIFACT_KEY, _archive(job))
    objects.put(layout.bucket("features"), f"{HOLDOUT_KEY}part-0.parquet", job.holdout.to_parquet())
    request = replace(
        registration(
            job,
            "job-1",
            holdout_uri=layout.zone_uri("features", HOLDOUT_KEY),
            lineage={"model_artifact": layout.zone_uri("models", ARTIFACT_KEY)},
        ),
        baseline=BASELINE,
    )
    registry = platform.services.model_registry
    registered = registry.register(request)
    registry.set_champion(registered.model_name, registered.model_version, note="dev's gate")
    return platform


def test_the_champion_is_copied_and_registered_as_the_next_stacks_challenger(dev: Platform, job: JobModel) -> None:
    staging = _stack("staging")
    handed = hand_over(dev, staging, job.definition.name)
    assert handed.registered and (handed.source_stack, handed.target_stack) == ("dev", "staging")
    models, features = staging.layout.bucket("models"), staging.layout.bucket("features")
    assert handed.model_artifact == staging.layout.uri(models, ARTIFACT_KEY)
    assert handed.holdout_uri == staging.layout.uri(features, HOLDOUT_KEY)
    copied = staging.services.object_store.get(models, ARTIFACT_KEY)
    assert copied == dev.services.object_store.get(dev.layout.bucket("models"), ARTIFACT_KEY)
    assert staging.services.object_store.list_keys(features, HOLDOUT_KEY) == [f"{HOLDOUT_KEY}part-0.parquet"]
    challenger = staging.services.model_registry.version(job.definition.name, CHALLENGER)
    assert challenger.version == handed.target_version == 1
    assert challenger.tags[PROMOTED_FROM_TAG] == "dev/v1"
    assert challenger.tags[SOURCE_PACKAGE_TAG] == handed.source_package_arn
    assert challenger.tags["training_job"] == "job-1" and challenger.tags["dataset_version"] == "3"
    assert "mlops-kit-staging-models" in challenger.model_package_arn
    assert challenger.approval == "PendingManualApproval", "the target's gate decides, not the handover"
    for name, tag in BASELINE_TAGS.items():
        _, bucket, key = split_uri(challenger.tags[tag])
        assert bucket == models, f"the {name} baseline is in staging's bucket"
        assert json.loads(staging.services.object_store.get(bucket, key)) == BASELINE[f"{name}.json"]
    loaded = staging.services.model_registry.load_model(job.definition.name, "1")
    assert len(loaded.predict(job.holdout[[c for c in job.holdout.columns if c in job.train.columns]])) > 0


def test_handing_the_same_version_over_twice_registers_nothing(dev: Platform, job: JobModel) -> None:
    staging = _stack("staging")
    first = hand_over(dev, staging, job.definition.name)
    again = hand_over(dev, staging, job.definition.name)
    assert not again.registered and again.target_version == first.target_version
    assert [v.version for v in staging.services.model_registry.versions(job.definition.name)] == [1]


def test_a_version_without_its_holdout_or_a_stack_to_itself_is_refused(job: JobModel, tmp_path: Path) -> None:
    dev = _stack("dev")
    dev.services.object_store.put(dev.layout.bucket("models"), ARTIFACT_KEY, _archive(job))
    request = registration(job, "job-2", holdout_uri="", lineage={"model_artifact": "memory://elsewhere/model.tar.gz"})
    dev.services.model_registry.register(request)
    with pytest.raises(RegistryError, match="to itself"):
        hand_over(dev, dev, job.definition.name, CHALLENGER)
    with pytest.raises(RegistryError, match="bucket 'elsewhere' is none of stack 'dev'"):
        hand_over(dev, _stack("prod"), job.definition.name, CHALLENGER)


def test_the_source_stack_is_read_through_its_promotion_reader_when_its_outputs_name_one(
    emulated_settings: Settings,
) -> None:
    """On moto (STS and IAM): the source platform's clients act as the reader role its outputs name, a temporary
    session of its own; without that output they are the caller's."""
    iam = client_factory(emulated_settings).client("iam")
    role_name = f"mlops-kit-dev-promotion-reader-role-{uuid.uuid4().hex[:6]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    raw = {**complete_outputs(), "stack": "dev", "environment": "dev", "promotion_reader_role_arn": None}

    source = promotion_source_platform(
        emulated_settings, parse_outputs({**raw, "promotion_reader_role_arn": role_arn}, "dev"), reader="staging"
    )
    same_account = promotion_source_platform(emulated_settings, parse_outputs(raw, "dev"), reader="staging")

    assert isinstance(source.services, WiredServices) and isinstance(same_account.services, WiredServices)
    caller = source.services.clients.client("sts").get_caller_identity()["Arn"]
    account = role_arn.split(":")[4]
    assert caller == f"arn:aws:sts::{account}:assumed-role/{role_name}/promotion-dev-to-staging"
    assert "session_token" in source.services.clients.credentials()
    assert "assumed-role" not in same_account.services.clients.client("sts").get_caller_identity()["Arn"]
