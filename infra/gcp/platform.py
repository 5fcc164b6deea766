"""The platform on Google Cloud: the ten components wired together, and the stack outputs.

The outputs carry every key of :class:`mlops.outputs.StackOutputs` (the logical names pipeline code reads; values
are the GCP resources playing each part) plus GCP-specific keys (``gcp_*``, ``pubsub_*``...) that the GCP
adapters read where an AWS name does not fit.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra import naming
from infra.components.processing import discover_job_scripts
from infra.components.training import read_pipeline_definition
from infra.config import REPO_ROOT, StackConfig
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity
from infra.gcp.components.cicd import GcpCicd, GcpCicdArgs
from infra.gcp.components.datalake import GcpDataLake, GcpDataLakeArgs
from infra.gcp.components.featurestore import FEATURES_COLLECTION, GcpFeatureStore, GcpFeatureStoreArgs
from infra.gcp.components.images import GcpImages, GcpImagesArgs
from infra.gcp.components.monitoring import GcpMonitoring, GcpMonitoringArgs
from infra.gcp.components.network import GcpNetwork, GcpNetworkArgs
from infra.gcp.components.processing import GcpProcessing, GcpProcessingArgs
from infra.gcp.components.security import GcpSecurity, GcpSecurityArgs
from infra.gcp.components.serving import GcpServing, GcpServingArgs
from infra.gcp.components.streaming import CHECKPOINT_COLLECTION, GcpStreaming, GcpStreamingArgs
from infra.gcp.components.tracking import GcpTracking, GcpTrackingArgs
from infra.gcp.components.training import GcpTraining, GcpTrainingArgs
from mlops.datasets import stack_definitions
from mlops.release.wheel import kit_wheel

PlatformOutputs = dict[str, pulumi.Output[Any] | Any]


def define_gcp_platform(config: StackConfig) -> PlatformOutputs:
    """Declare every component of a ``cloud: gcp`` stack and return its outputs."""
    if config.gcp_project is None or config.gcp_project_number is None:  # the config model rejects this first
        raise ValueError(f"stack {config.stack!r}: cloud gcp needs gcpProject and gcpProjectNumber")
    ident = GcpIdentity(
        project=config.project,
        environment=config.environment,
        owner=config.owner,
        region=config.region,
        gcp_project=config.gcp_project,
        project_number=config.gcp_project_number,
    )
    keys = GcpSecurity("security", GcpSecurityArgs(identity=ident)).keys
    network = GcpNetwork("network", GcpNetworkArgs(identity=ident, cidr=config.vpc_cidr))
    datasets = tuple(stack_definitions(config.repo_root))
    lake = GcpDataLake(
        "datalake",
        GcpDataLakeArgs(
            identity=ident,
            storage_key=keys["storage"],
            bigquery_key=keys["bigquery"],
            retention=config.retention(),
            datasets=datasets,
        ),
    )
    zones = lake.buckets
    streaming = GcpStreaming(
        "streaming",
        GcpStreamingArgs(
            identity=ident,
            pubsub_key=keys["pubsub"],
            raw_bucket=zones["raw"],
            partitions=config.shard_count if config.stream_mode == "PROVISIONED" else 1,
            retention_hours=config.stream_retention_hours,
            buffer_seconds=config.firehose_buffer_seconds,
        ),
    )
    processing = GcpProcessing(
        "processing",
        GcpProcessingArgs(
            identity=ident,
            scripts=discover_job_scripts(config.repo_root / "jobs"),
            kms_key=keys["dataproc"],
            storage_key=keys["storage"],
            artifacts_bucket=zones["artifacts"],
            data_buckets={z: zones[z] for z in ("raw", "curated", "features", "quarantine", "monitoring")},
            dataset_id=lake.dataset_id,
            subnet_id=network.subnet_id,
            kit_wheel=kit_wheel(REPO_ROOT),
            datasets=datasets,
            default_schedule=config.glue_schedule,
            schedules=config.glue_schedules,
        ),
    )
    features = GcpFeatureStore("featurestore", GcpFeatureStoreArgs(identity=ident, firestore_key=keys["firestore"]))
    images = GcpImages(
        "images",
        GcpImagesArgs(
            identity=ident,
            kms_key=keys["artifacts"],
            repo_root=REPO_ROOT,
            keep_images=config.image_retention_count,
            docker_build=config.docker_build,
            overrides={"training": config.training_image_uri, "serving": config.serving_image_uri},
        ),
    )
    training = GcpTraining(
        "training",
        GcpTrainingArgs(
            identity=ident,
            vertex_key=keys["vertex"],
            data_buckets={z: zones[z] for z in ("features", "curated", "monitoring")},
            models_bucket=zones["models"],
            artifacts_bucket=zones["artifacts"],
            repositories=images.repositories,
            pipeline_definition=read_pipeline_definition(config.repo_root),
            storage_key=keys["storage"],
            images=images.uris,
            dataset_definitions=stack_definitions(config.repo_root),
            training_dataset=config.training_dataset,
        ),
    )
    tracking = GcpTracking(
        "tracking",
        GcpTrackingArgs(
            identity=ident,
            sql_key=keys["sql"],
            secrets_key=keys["secrets"],
            network_id=network.network_id,
            subnet_id=network.subnet_id,
            private_services=network.private_services,
            models_bucket=zones["models"],
            # the training image holds MLflow; the server needs a PostgreSQL driver in it too
            image=config.mlflow_image_uri or images.uris["training"],
            invokers=[training.service_account],  # Vertex training, pipelines and serving run as this account
            deletion_protection=config.mlflow_database_deletion_protection,
        ),
    )
    serving = GcpServing(
        "serving",
        GcpServingArgs(
            identity=ident,
            vertex_key=keys["vertex"],
            dataset_id=lake.dataset_id,
            sampling_percent=config.data_capture_sampling_percent,
        ),
    )
    monitoring = GcpMonitoring(
        "monitoring",
        GcpMonitoringArgs(
            identity=ident, pubsub_key=keys["pubsub"], endpoint_id=serving.endpoint_id, thresholds=config.thresholds()
        ),
    )
    cicd = GcpCicd(
        "cicd",
        GcpCicdArgs(
            identity=ident,
            repository=config.github_repository,
            buckets={z: zones[z] for z in ("models", "artifacts")},
            repositories=images.repositories,
            vertex_account=training.service_account,
        ),
    )
    return {
        "stack": config.stack,
        "environment": config.environment,
        "region": config.region,
        "project": config.project,
        "cloud": "gcp",
        "gcp_project": config.gcp_project,
        "kms_key_arn": keys["storage"],
        "kms_key_id": keys["storage"],
        "kms_keys": keys,
        **{f"{zone}_bucket": bucket for zone, bucket in zones.items()},
        "access_logs_bucket": lake.access_logs_bucket,
        "glue_database": lake.dataset_id,
        "bigquery_dataset": lake.dataset_id,
        "biglake_connection": lake.connection_id,
        "stream_name": streaming.stream,
        "stream_arn": f"projects/{config.gcp_project}/topics/{streaming.stream}",
        "firehose_name": streaming.sink_subscriptions[0],
        "pubsub_topics": streaming.topics,
        "pubsub_sink_subscriptions": streaming.sink_subscriptions,
        "pubsub_dead_letter_topic": streaming.dead_letter_topic,
        "pubsub_dead_letter_subscription": streaming.dead_letter_subscription,
        "checkpoint_table": CHECKPOINT_COLLECTION,
        "glue_role_arn": processing.service_account,
        "glue_jobs": processing.batch_names,
        "dataproc_batches": processing.batch_templates,
        "dataproc_service_account": processing.service_account,
        "dataproc_subnetwork": network.subnet_id,
        "scheduler_jobs": processing.schedule_names,
        "online_feature_table": FEATURES_COLLECTION,
        "firestore_database": features.database,
        "sagemaker_role_arn": training.service_account,
        "vertex_service_account": training.service_account,
        "vertex_staging_uri": training.staging_uri,
        "vertex_network": network.vertex_network,
        "model_package_group": training.model_name,
        "training_pipeline_name": training.pipeline_name,
        "dataset_definitions_uri": zones["artifacts"].apply(
            lambda b: gcp_naming.gcs_uri(b, naming.DATASET_DEFINITIONS_ROOT)
        ),
        "mlflow_tracking_uri": tracking.tracking_uri,
        "mlflow_artifacts_uri": zones["models"].apply(lambda b: gcp_naming.gcs_uri(b, "mlflow")),
        "mlflow_service_account": tracking.service_account,
        "endpoint_name": serving.endpoint_name,
        "endpoint_config_name": serving.endpoint_name,
        "sagemaker_model_name": training.model_name,
        "vertex_endpoint_id": serving.endpoint_id,
        "data_capture_prefix": zones["monitoring"].apply(
            lambda b: gcp_naming.gcs_uri(b, f"data-capture/{serving.endpoint_name}")
        ),
        "alarm_topic_arn": monitoring.topic,
        "notification_channel": monitoring.channel,
        "metrics_namespace": naming.metrics_namespace(config.environment),
        "metric_type_prefix": gcp_naming.metrics_prefix(config.environment),
        "dashboard_name": monitoring.dashboard,
        "alarm_names": monitoring.alert_policies,
        "log_groups": {},
        "retrain_rule_name": monitoring.retrain_subscription,
        "rollback_on_degradation": config.rollback_on_degradation,
        "deploy_role_arn": cicd.deploy_account,
        "workload_identity_provider": cicd.provider,
        "image_uris": images.uris,
    }
