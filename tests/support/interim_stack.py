"""Interim provisioning for the ``platform`` fixture until the local apply of the infra program lands.

Creates, with direct boto3 calls, the resources pipeline tests touch, under names shaped like the infra's, and
writes the stack outputs file. To be replaced by the real local apply (same fixture, same Platform fields).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.clients import ClientFactory
from mlops.outputs import write_outputs

ZONES = ("raw", "curated", "features", "models", "monitoring", "quarantine", "artifacts", "access_logs")


def provision(clients: ClientFactory, state_dir: Path, outputs_file: Path) -> None:
    prefix = "mlops-kit-local"
    account = "123456789012"
    region = clients.settings.region
    s3 = clients.client("s3")
    buckets = {zone: f"{prefix}-{zone.replace('_', '-')}-{account}" for zone in ZONES}
    for name in buckets.values():
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    clients.client("glue").create_database(DatabaseInput={"Name": "mlops_kit_local"})
    kinesis = clients.client("kinesis")
    kinesis.create_stream(StreamName=f"{prefix}-events", ShardCount=1)
    dynamodb = clients.client("dynamodb")
    for table, key in ((f"{prefix}-stream-checkpoints", "shard_id"), (f"{prefix}-online-features", "entity_id")):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    clients.client("sagemaker").create_model_package_group(ModelPackageGroupName=f"{prefix}-models")
    topic = clients.client("sns").create_topic(Name=f"{prefix}-alarms")["TopicArn"]
    mlflow_dir = state_dir / "mlflow"
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    arn = f"arn:aws:iam::{account}:role"
    outputs: dict[str, Any] = {
        "stack": "local",
        "environment": "local",
        "region": region,
        "project": "mlops-kit",
        "kms_key_arn": f"arn:aws:kms:{region}:{account}:key/interim",
        "kms_key_id": "interim",
        **{f"{zone}_bucket": name for zone, name in buckets.items()},
        "glue_database": "mlops_kit_local",
        "stream_name": f"{prefix}-events",
        "stream_arn": f"arn:aws:kinesis:{region}:{account}:stream/{prefix}-events",
        "firehose_name": f"{prefix}-raw-delivery",
        "checkpoint_table": f"{prefix}-stream-checkpoints",
        "glue_role_arn": f"{arn}/{prefix}-glue",
        "glue_jobs": {},
        "offline_feature_table": "features",
        "online_feature_table": f"{prefix}-online-features",
        "sagemaker_role_arn": f"{arn}/{prefix}-sagemaker",
        "model_package_group": f"{prefix}-models",
        "training_pipeline_name": f"{prefix}-training",
        "mlflow_tracking_uri": f"sqlite:///{(mlflow_dir / 'mlflow.db').resolve()}",
        "endpoint_name": f"{prefix}-endpoint",
        "endpoint_config_name": f"{prefix}-endpoint-config",
        "sagemaker_model_name": f"{prefix}-model",
        "data_capture_prefix": f"s3://{buckets['monitoring']}/data-capture",
        "alarm_topic_arn": topic,
        "metrics_namespace": "MLOpsKit/local",
        "dashboard_name": f"{prefix}-overview",
        "alarm_names": {
            key: f"{prefix}-{key.replace('_', '-')}"
            for key in (
                "endpoint_errors",
                "endpoint_latency",
                "data_quality",
                "data_drift",
                "concept_drift",
                "model_degradation",
            )
        },
        "log_groups": {key: f"/mlops-kit/local/{key}" for key in ("glue", "training", "endpoint", "monitoring")},
        "retrain_rule_name": f"{prefix}-retrain",
        "deploy_role_arn": f"{arn}/{prefix}-deploy",
    }
    write_outputs(outputs_file, outputs)
