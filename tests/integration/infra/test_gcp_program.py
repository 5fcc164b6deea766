"""The Google Cloud program under recording mocks: gcp-dev, gcp-staging and gcp-prod render the ten components,
pass the GCP guardrails, export the outputs contract, and declare the properties that matter."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.components.processing import discover_job_scripts
from infra.config import REPO_ROOT, load_stack_config
from infra.gcp.naming import partition_topic
from infra.gcp.resource_types import GCP_RESOURCE_TYPES
from infra.guardrails import check_all, stack_cloud
from infra.plan import Plan, PlannedResource, plan_stack
from mlops.cli.main import app
from mlops.errors import ConfigError
from mlops.outputs import StackOutputs, parse_outputs

pytestmark = pytest.mark.pulumi

STACKS = ("gcp-dev", "gcp-staging", "gcp-prod")
COMPONENTS = {
    "mlops:security:SecurityBase",
    "mlops:network:Network",
    "mlops:datalake:DataLake",
    "mlops:streaming:Streaming",
    "mlops:processing:Processing",
    "mlops:featurestore:FeatureStore",
    "mlops:images:Images",
    "mlops:training:Training",
    "mlops:serving:Serving",
    "mlops:monitoring:Monitoring",
    "mlops:cicd:CicdIdentity",
    "mlops:tracking:Tracking",
}
"""The ten capabilities (images split out of training as in the AWS program), without the AWS-only boundary, and
MLflow's tracking server (Google manages none; SageMaker's managed MLflow is in the AWS training component)."""


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {stack: plan_stack(stack, REPO_ROOT) for stack in STACKS}


def _of(plan: Plan, type_token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_token]


def _named(plan: Plan, name: str) -> PlannedResource:
    return next(r for r in plan.resources if r.name == name)


@pytest.mark.parametrize("stack", STACKS)
def test_every_component_only_listed_types_and_no_violation(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    types = {r.type for r in plan.resources}
    assert {t for t in types if t.startswith("mlops:")} == COMPONENTS
    assert {t for t in types if not t.startswith("mlops:")} <= set(GCP_RESOURCE_TYPES)
    assert not any(t.startswith("aws:") for t in types)
    assert stack_cloud(plan.resources) == "gcp"
    assert [str(v) for v in check_all(plan.resources)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_satisfy_the_stack_outputs_contract(plans: dict[str, Plan], stack: str) -> None:
    raw = plans[stack].outputs
    environment = stack.removeprefix("gcp-")
    # every output pipeline code requires; optional AWS-only ones (a promotion's reader role) may be absent
    assert {name for name, field in StackOutputs.model_fields.items() if field.is_required()} <= set(raw)
    assert {"image_uris", "rollback_on_degradation"} <= set(raw)
    outputs = parse_outputs(raw, stack)
    assert outputs.environment == environment
    assert outputs.raw_bucket == f"mlops-kit-{environment}-raw-mlops-kit-{environment}"
    assert outputs.glue_jobs == {
        stem: f"mlops-kit-{environment}-{stem.replace('_', '-')}" for stem in discover_job_scripts(REPO_ROOT / "jobs")
    }
    assert {"build_features", "curate"} <= set(outputs.glue_jobs)
    assert set(outputs.alarm_names) == {
        "endpoint_errors",
        "endpoint_latency",
        "data_quality",
        "data_drift",
        "data_constraints",
        "concept_drift",
        "model_degradation",
        "pipeline_failures",
    }
    assert raw["cloud"] == "gcp"
    assert raw["gcp_project"] == f"mlops-kit-{environment}"
    assert raw["pubsub_topics"][0] == f"mlops-kit-{environment}-events.partition-0000"
    assert raw["firestore_database"] == f"mlops-kit-{environment}-online"
    assert (
        raw["vertex_service_account"]
        == f"mlops-kit-{environment}-vertex@mlops-kit-{environment}.iam.gserviceaccount.com"
    )
    assert raw["image_uris"]["serving"].startswith(
        f"us-central1-docker.pkg.dev/mlops-kit-{environment}/mlops-kit-{environment}-serving/serving"
    )
    assert (
        outputs.data_capture_prefix == f"gs://{outputs.monitoring_bucket}/data-capture/mlops-kit-{environment}-endpoint"
    )


def test_buckets_are_private_encrypted_versioned_and_logged(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-prod"]
    buckets = _of(plan, "gcp:storage/bucket:Bucket")
    assert len(buckets) == 8
    storage_key = plan.outputs["kms_keys"]["storage"]
    for bucket in buckets:
        assert bucket.inputs["encryption"] == {"defaultKmsKeyName": storage_key}
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "enforced"
        assert bucket.inputs["versioning"] == {"enabled": True}
        assert bucket.inputs["forceDestroy"] is False
        if bucket.name != "datalake-access-logs":
            assert bucket.inputs["logging"]["logBucket"] == plan.outputs["access_logs_bucket"]
    raw = _named(plan, "datalake-raw")
    assert {"action": {"type": "Delete"}, "condition": {"age": 730, "withState": "LIVE"}} in [
        json.loads(json.dumps(rule).replace(".0", "")) for rule in raw.inputs["lifecycleRules"]
    ]


def test_keys_rotate_and_only_service_agents_use_them(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-dev"]
    keys = _of(plan, "gcp:kms/cryptoKey:CryptoKey")
    assert {k.inputs["name"] for k in keys} == {
        "storage",
        "pubsub",
        "bigquery",
        "firestore",
        "vertex",
        "artifacts",
        "dataproc",
        "sql",
        "secrets",
    }
    assert {k.inputs["rotationPeriod"] for k in keys} == {"7776000s"}
    grants = _of(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert {g.inputs["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    assert all(
        g.inputs["member"].startswith(("serviceAccount:service-100000000001@", "serviceAccount:bq-100000000001@"))
        for g in grants
    )


def test_streaming_sinks_every_partition_into_raw_and_dead_letters(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-prod"]
    assert plan.outputs["pubsub_topics"] == [f"mlops-kit-prod-events.partition-{n:04d}" for n in range(4)]
    dead_letter_topic = f"projects/mlops-kit-prod/topics/{plan.outputs['pubsub_dead_letter_topic']}"
    sinks = [r for r in _of(plan, "gcp:pubsub/subscription:Subscription") if r.name.endswith("raw-sink")]
    assert [s.inputs["name"] for s in sinks] == plan.outputs["pubsub_sink_subscriptions"]
    for number, sink in enumerate(sinks):
        assert sink.inputs["topic"] == f"projects/mlops-kit-prod/topics/mlops-kit-prod-events.partition-{number:04d}"
        assert sink.inputs["cloudStorageConfig"]["bucket"] == plan.outputs["raw_bucket"]
        assert sink.inputs["cloudStorageConfig"]["filenamePrefix"] == f"events/partition-{number:04d}/"
        assert sink.inputs["deadLetterPolicy"] == {"deadLetterTopic": dead_letter_topic, "maxDeliveryAttempts": 5}
    assert len(plans["gcp-dev"].outputs["pubsub_topics"]) == 1


def test_partition_topics_are_named_as_the_event_stream_adapter_finds_them() -> None:
    pubsub = pytest.importorskip("mlops.adapters.gcp.pubsub")
    assert partition_topic("s", 3) == f"s.{pubsub.partition_name(3)}"


def _request(job: PlannedResource) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(job.inputs["httpTarget"]["body"]))
    return decoded


def test_batches_run_the_uploaded_scripts_privately_on_schedule(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-dev"]
    jobs = {j.name: j for j in _of(plan, "gcp:cloudscheduler/job:Job")}
    job = jobs["processing-schedule-build_features-card_transactions"]
    assert job.inputs["schedule"] == "0 3 * * *"
    request = _request(job)
    digest = hashlib.sha256((REPO_ROOT / "jobs" / "build_features.py").read_bytes()).hexdigest()[:16]
    artifacts = plan.outputs["artifacts_bucket"]
    assert (
        request["pysparkBatch"]["mainPythonFileUri"] == f"gs://{artifacts}/dataproc/scripts/{digest}/build_features.py"
    )
    assert request["pysparkBatch"]["pythonFileUris"][0].startswith(f"gs://{artifacts}/dataproc/packages/")
    # the same arguments the Glue jobs get, as jobs/_glue_args.py parses them
    assert request["pysparkBatch"]["args"][:2] == [
        "--JOB_NAME=mlops-kit-dev-build-features",
        "--dataset=card_transactions",
    ]
    execution = request["environmentConfig"]["executionConfig"]
    assert execution["subnetworkUri"] == plan.outputs["dataproc_subnetwork"]
    assert execution["serviceAccount"] == plan.outputs["dataproc_service_account"]
    assert execution["kmsKey"] == plan.outputs["kms_keys"]["dataproc"]
    uploads = {o.inputs["name"] for o in _of(plan, "gcp:storage/bucketObject:BucketObject")}
    assert f"dataproc/scripts/{digest}/build_features.py" in uploads
    assert _named(plan, "network-subnet").inputs["privateIpGoogleAccess"] is True
    peering = _named(plan, "network-vertex-peering")
    assert peering.inputs["reservedPeeringRanges"] == ["mlops-kit-dev-vertex-peering"]
    assert plan.outputs["vertex_network"] == "projects/100000000001/global/networks/mlops-kit-dev-vpc"


def test_federation_admits_only_the_stacks_environment(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        environment = stack.removeprefix("gcp-")
        provider = _named(plan, "cicd-provider")
        assert (
            provider.inputs["attributeCondition"]
            == f"assertion.sub == 'repo:example-org/mlops-kit:environment:{environment}'"
        )
        impersonation = _named(plan, "cicd-github-impersonates")
        assert impersonation.inputs["member"].endswith(f"/subject/repo:example-org/mlops-kit:environment:{environment}")
        roles = {r.inputs["role"] for r in plan.resources if "role" in r.inputs and r.type.startswith("gcp:")}
        assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}


def test_alerts_endpoint_and_images(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-prod"]
    latency = _named(plan, "monitoring-endpoint-latency")
    condition = latency.inputs["conditions"][0]["conditionThreshold"]
    assert condition["thresholdValue"] == 250.0  # milliseconds, as Vertex reports latency
    assert f'resource.label.endpoint_id="{plan.outputs["vertex_endpoint_id"]}"' in condition["filter"]
    drift = _named(plan, "monitoring-data-drift")
    assert (
        "custom.googleapis.com/MLOpsKit/prod/DataDriftScore"
        in drift.inputs["conditions"][0]["conditionThreshold"]["filter"]
    )
    endpoint = _named(plan, "serving-endpoint")
    assert endpoint.inputs["encryptionSpec"] == {"kmsKeyName": plan.outputs["kms_keys"]["vertex"]}
    assert "trafficSplit" not in endpoint.inputs  # the deploy step owns the split
    capture = endpoint.inputs["predictRequestResponseLoggingConfig"]
    assert capture["bigqueryDestination"] == {"outputUri": "bq://mlops-kit-prod.mlops_kit_prod.predictions_log"}
    assert (
        _named(plan, "serving-capture-writer").inputs["member"].endswith("@gcp-sa-aiplatform.iam.gserviceaccount.com")
    )
    assert len(_of(plan, "docker-build:index:Image")) == 2  # gcp-prod builds its images (dockerBuild)
    assert not _of(plans["gcp-dev"], "docker-build:index:Image")
    assert plan.outputs["image_uris"]["serving"].split("@")[1].startswith("sha256:")


def test_cloud_is_validated_and_gcp_needs_its_project() -> None:
    with pytest.raises(ConfigError, match="mlops-kit:cloud"):
        load_stack_config("x", {"mlops-kit:cloud": "azure", "mlops-kit:environment": "dev"})
    with pytest.raises(ConfigError, match="gcpProject"):
        load_stack_config("x", {"mlops-kit:cloud": "gcp", "mlops-kit:environment": "dev"})
    assert load_stack_config("dev", {}).cloud == "aws"


def test_cli_plan_lists_the_gcp_resources() -> None:
    result = CliRunner().invoke(app, ["infra", "plan", "--stack", "gcp-dev", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stack"] == "gcp-dev"
    assert {r["component"] for r in document["resources"] if r["component"]} == {
        "security",
        "network",
        "datalake",
        "streaming",
        "processing",
        "featurestore",
        "images",
        "training",
        "serving",
        "monitoring",
        "cicd",
        "tracking",
    }
    assert document["counts"]["gcp:storage/bucket:Bucket"] == 8


def test_cost_estimate_refuses_a_gcp_stack_by_name() -> None:
    result = CliRunner().invoke(app, ["infra", "cost", "--stack", "gcp-dev"])
    assert isinstance(result.exception, ConfigError)
    assert "stack 'gcp-dev' is cloud: gcp" in str(result.exception)


def test_a_job_run_submits_the_batch_the_schedule_posts(plans: dict[str, Plan]) -> None:
    """The Dataproc job runner builds its request from the exported template: for the same dataset it is the body
    Cloud Scheduler posts, plus the run's id and the job's driver environment."""
    dataproc_batch = pytest.importorskip("mlops.adapters.gcp.dataproc_batch")
    plan = plans["gcp-dev"]
    jobs = {j.name: j for j in _of(plan, "gcp:cloudscheduler/job:Job")}
    scheduled = _request(jobs["processing-schedule-curate-card_transactions"])
    template = plan.outputs["dataproc_batches"]["curate"]
    sent = dataproc_batch.batch_request(
        template, batch="b-1", arguments={"dataset": "card_transactions"}, driver_env={"MLOPS_CLOUD": "gcp"}
    )
    args = dataproc_batch.parse_arguments
    assert args(sent["pysparkBatch"].pop("args")) == {
        **args(scheduled["pysparkBatch"].pop("args")),
        "--JOB_RUN_ID": "b-1",
    }
    assert sent["runtimeConfig"].pop("properties") == {"spark.dataproc.driverEnv.MLOPS_CLOUD": "gcp"}
    assert sent == scheduled


def test_mlflow_tracking_server_is_private_encrypted_and_called_by_the_vertex_account_only(
    plans: dict[str, Plan],
) -> None:
    plan = plans["gcp-prod"]
    database = _named(plan, "tracking-database")
    assert database.inputs["encryptionKeyName"] == plan.outputs["kms_keys"]["sql"]
    assert database.inputs["deletionProtection"] is True
    settings = database.inputs["settings"]
    assert settings["ipConfiguration"] == {
        "ipv4Enabled": False,
        "privateNetwork": _named(plan, "network-vpc").id,
        "sslMode": "ENCRYPTED_ONLY",
    }
    assert settings["backupConfiguration"]["enabled"] is True
    assert settings["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert "password" not in _named(plan, "tracking-database-user").inputs  # the operator sets it
    secret = _named(plan, "tracking-db-password")
    replica = secret.inputs["replication"]["userManaged"]["replicas"][0]
    assert replica["customerManagedEncryption"] == {"kmsKeyName": plan.outputs["kms_keys"]["secrets"]}

    service = _named(plan, "tracking-server")
    assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    template = service.inputs["template"]
    server_account = plan.outputs["mlflow_service_account"]
    assert template["serviceAccount"] == server_account
    assert template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"
    (container,) = template["containers"]
    assert container["image"] == plan.outputs["image_uris"]["training"]
    assert container["commands"] == ["mlflow"]
    models = plan.outputs["models_bucket"]
    assert container["args"][:7] == [
        "server",
        "--backend-store-uri",
        "postgresql://mlflow:$(MLFLOW_DB_PASSWORD)@10.100.0.3:5432/mlflow",
        "--artifacts-destination",
        f"gs://{models}/mlflow",
        "--serve-artifacts",
        "--host",
    ]
    assert container["envs"] == [
        {
            "name": "MLFLOW_DB_PASSWORD",
            "valueSource": {"secretKeyRef": {"secret": secret.inputs["secretId"], "version": "latest"}},
        }
    ]
    assert plan.outputs["mlflow_tracking_uri"].startswith("https://mlops-kit-prod-mlflow-")

    grants = {r.name: r.inputs for r in plan.resources if r.name.startswith("tracking-") and "role" in r.inputs}
    server = f"serviceAccount:{server_account}"
    assert {(g["role"], g["member"]) for g in grants.values()} == {
        ("roles/run.invoker", f"serviceAccount:{plan.outputs['vertex_service_account']}"),
        ("roles/cloudsql.client", server),
        ("roles/secretmanager.secretAccessor", server),
        ("roles/storage.objectUser", server),
    }
    assert grants["tracking-server-writes-models"]["bucket"] == models


def test_a_stack_may_run_its_own_mlflow_image_and_drop_the_databases_deletion_protection(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.integration.release.program_support import plan_with, stack_repo

    image = "us-central1-docker.pkg.dev/mlops-kit-dev/tools/mlflow-postgres@sha256:" + "0" * 64
    plan = plan_with(
        stack_repo(tmp_path_factory.mktemp("repo")),
        "gcp-dev",
        {"mlflowImageUri": image, "mlflowDatabaseDeletionProtection": False},
    )
    database = _named(plan, "tracking-database").inputs
    assert (database["deletionProtection"], database["settings"]["deletionProtectionEnabled"]) == (False, False)
    service = _named(plan, "tracking-server").inputs
    assert service["deletionProtection"] is False
    assert service["template"]["containers"][0]["image"] == image
