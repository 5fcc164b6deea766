"""The Google Cloud program's pure logic, without mocks: names, schedules, lifecycle, alert conditions, config."""

from __future__ import annotations

import base64
import json

import pytest

from infra.config import load_stack_config
from infra.gcp import naming as gcp_naming
from infra.gcp.components.datalake import gcs_lifecycle_rules
from infra.gcp.components.monitoring import condition, metric_filter
from infra.gcp.components.processing import batch_request, unix_cron
from infra.lifecycle import Retention
from infra.thresholds import Thresholds, alarm_specs
from mlops.errors import ConfigError

RETENTION = Retention(
    noncurrent_version_expiration_days=30,
    raw_expiration_days=365,
    quarantine_expiration_days=14,
    access_log_expiration_days=90,
    infrequent_access_after_days=30,
)
LIMITS = Thresholds(
    latency_p99_ms=250.0,
    server_errors=1.0,
    data_drift=0.2,
    concept_drift=0.2,
    model_degradation=0.05,
    evaluation_periods=2,
)


def test_names_are_derived_and_checked() -> None:
    assert gcp_naming.bucket_name("mlops-kit", "prod", "raw", "acme-ml") == "mlops-kit-prod-raw-acme-ml"
    assert gcp_naming.service_account_id("mlops-kit", "staging", "scheduler") == "mlops-kit-staging-scheduler"
    assert gcp_naming.batch_name("mlops-kit", "dev", "build_features") == "mlops-kit-dev-build-features"
    assert gcp_naming.script_key("curate", "ab" * 32) == f"dataproc/scripts/{'ab' * 8}/curate.py"
    assert gcp_naming.dataset_id("mlops-kit", "dev") == "mlops_kit_dev"
    assert gcp_naming.partition_topic("mlops-kit-dev-events", 12) == "mlops-kit-dev-events.partition-0012"
    with pytest.raises(ConfigError, match="unknown data-lake zone 'gold'"):
        gcp_naming.bucket_name("mlops-kit", "prod", "gold", "acme-ml")
    with pytest.raises(ConfigError, match="service account name 'a-very-long-project-name-prod-dataproc'"):
        gcp_naming.service_account_id("a-very-long-project-name", "prod", "dataproc")
    with pytest.raises(ConfigError, match=r"jobs/BuildFeatures\.py"):
        gcp_naming.batch_name("mlops-kit", "dev", "BuildFeatures")


def test_endpoint_id_is_numeric_stable_and_per_stack() -> None:
    dev = gcp_naming.vertex_endpoint_id("mlops-kit", "dev")
    assert dev == gcp_naming.vertex_endpoint_id("mlops-kit", "dev")
    assert dev != gcp_naming.vertex_endpoint_id("mlops-kit", "prod")
    assert dev.isdigit() and len(dev) == 10 and not dev.startswith("0")


def test_federation_names_one_subject_of_one_environment() -> None:
    principal = gcp_naming.github_principal("123456", "mlops-kit-dev-github", "o/r", "dev")
    assert principal == (
        "principal://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/mlops-kit-dev-github/"
        "subject/repo:o/r:environment:dev"
    )
    assert gcp_naming.service_agent("pubsub", "42") == "serviceAccount:service-42@gcp-sa-pubsub.iam.gserviceaccount.com"
    with pytest.raises(ConfigError, match="unknown service agent 'spanner'"):
        gcp_naming.service_agent("spanner", "42")


def test_schedules_become_five_field_crons() -> None:
    assert unix_cron("cron(0 3 * * ? *)") == "0 3 * * *"
    assert unix_cron("cron(30 4 ? * MON-FRI *)") == "30 4 * * MON-FRI"
    assert unix_cron("15 2 * * *") == "15 2 * * *"
    with pytest.raises(ConfigError, match="six fields"):
        unix_cron("cron(0 3 * *)")
    with pytest.raises(ConfigError, match="neither cron"):
        unix_cron("rate(1 day)")


def test_batch_request_is_the_base64_json_cloud_scheduler_posts() -> None:
    assert json.loads(base64.b64decode(batch_request({"b": 1, "a": [2]}))) == {"a": [2], "b": 1}


def test_lifecycle_follows_the_aws_rules_per_zone() -> None:
    raw = gcs_lifecycle_rules("raw", RETENTION)
    assert {"action": {"type": "Delete"}, "condition": {"age": 365, "with_state": "LIVE"}} in raw
    assert {
        "action": {"type": "Delete"},
        "condition": {"days_since_noncurrent_time": 30, "with_state": "ARCHIVED"},
    } in raw
    features = gcs_lifecycle_rules("features", RETENTION)
    assert not [r for r in features if r["action"] == {"type": "Delete"} and r["condition"].get("with_state") == "LIVE"]
    assert {"type": "SetStorageClass", "storage_class": "NEARLINE"} in [r["action"] for r in features]
    models = gcs_lifecycle_rules("models", RETENTION)
    assert [r["action"]["type"] for r in models] == ["Delete", "AbortIncompleteMultipartUpload"]


def test_alert_conditions_match_the_cloudwatch_alarms() -> None:
    specs = alarm_specs(LIMITS)
    latency = condition(specs["endpoint_latency"], "prod", "1234567890")["condition_threshold"]
    assert latency["threshold_value"] == 250.0  # Vertex reports milliseconds; SageMaker's spec is in microseconds
    assert latency["duration"] == "120s"
    assert latency["aggregations"][0]["per_series_aligner"] == "ALIGN_PERCENTILE_99"
    assert 'resource.label.endpoint_id="1234567890"' in latency["filter"]
    quality = condition(specs["data_quality"], "prod", "1")["condition_threshold"]
    assert quality["comparison"] == "COMPARISON_GE"
    assert metric_filter(specs["data_drift"], "prod", "1") == (
        'metric.type="custom.googleapis.com/MLOpsKit/prod/DataDriftScore" AND resource.type="global"'
    )


def test_gcp_region_wins_whatever_the_key_order() -> None:
    raw = {"gcp:region": "europe-west4", "aws:region": "us-east-1", "mlops-kit:environment": "dev"}
    gcp = {"mlops-kit:cloud": "gcp", "gcp:project": "acme-ml", "mlops-kit:gcpProjectNumber": "123456"}
    assert load_stack_config("gcp-dev", {**raw, **gcp}).region == "europe-west4"
    assert load_stack_config("gcp-dev", {**dict(reversed(list(raw.items()))), **gcp}).region == "europe-west4"
    assert load_stack_config("dev", {"aws:region": "eu-west-1"}).region == "eu-west-1"


def test_cloud_is_named_when_wrong_and_gcp_needs_project_and_number() -> None:
    with pytest.raises(ConfigError, match="mlops-kit:cloud"):
        load_stack_config("x", {"mlops-kit:cloud": "azure", "mlops-kit:environment": "dev"})
    with pytest.raises(ConfigError, match="gcpProjectNumber"):
        load_stack_config("x", {"mlops-kit:cloud": "gcp", "gcp:project": "acme-ml", "mlops-kit:environment": "dev"})
    with pytest.raises(ConfigError, match="mlops-kit:gcpProject"):
        load_stack_config("x", {"mlops-kit:gcpProject": "Bad_Project", "mlops-kit:environment": "dev"})
