"""The AWS platform: every component of one AWS stack, wired together, and the stack outputs they produce.

The output keys are exactly those of :class:`mlops.outputs.StackOutputs`. Names that must be known before
their resource exists (the endpoint's, which alarms watch and the endpoint rolls back on) come from the
pure functions in :mod:`infra.naming`; everything else flows from resource outputs. :mod:`infra.platform` picks
this module or :mod:`infra.gcp.platform` by the stack's cloud.
"""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.base import StackIdentity
from infra.components.cicd import CicdArgs, CicdIdentity, WorkloadBoundary
from infra.components.datalake import DataLake, DataLakeArgs
from infra.components.featurestore import FeatureStore, FeatureStoreArgs
from infra.components.images import Images, ImagesArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import Network, NetworkArgs
from infra.components.processing import (
    GlueNetwork,
    Processing,
    ProcessingArgs,
    discover_job_scripts,
)
from infra.components.promotion_source import PromotionSource, PromotionSourceArgs
from infra.components.retrain_dispatch import RetrainDispatch, RetrainDispatchArgs
from infra.components.security import SecurityBase, SecurityBaseArgs
from infra.components.serving import Serving, ServingArgs
from infra.components.streaming import Streaming, StreamingArgs
from infra.components.training import SageMakerNetwork, Training, TrainingArgs, read_pipeline_definition
from infra.config import REPO_ROOT, StackConfig
from infra.platform import PlatformOutputs
from infra.promotion import promotion_peer
from infra.thresholds import ROLLBACK_ALARMS
from mlops.datasets import stack_definitions
from mlops.release.wheel import kit_wheel


def define_aws_platform(config: StackConfig) -> PlatformOutputs:
    """Declare every component of the AWS stack described by ``config`` and return its outputs.

    The stack's job scripts and dataset definitions come from ``config.repo_root``; the kit's images and wheel
    are built from the kit's own source tree (this checkout, :data:`~infra.config.REPO_ROOT`)."""
    ident = StackIdentity(
        project=config.project,
        environment=config.environment,
        owner=config.owner,
        region=config.region,
        account_id=aws.get_caller_identity_output().account_id,
    )
    # Every role the stack creates carries the stack's permissions boundary (see infra/components/cicd.py).
    ident = dataclasses.replace(ident, permissions_boundary=WorkloadBoundary("boundary", ident).arn)
    endpoint_name = naming.sagemaker_name(config.project, config.environment, "endpoint")
    # the stack receiving this stack's gated versions reads them (infra/promotion.py; deploy.yml's promotion)
    promotion_target = promotion_peer(config.promotion_target, config.promotion_target_account)
    security = SecurityBase(
        "security",
        SecurityBaseArgs(
            identity=ident,
            manage_catalog_encryption=config.manage_catalog_encryption,
            promotion_target=promotion_target,
        ),
    )
    key = security.key_arn
    images = Images(
        "images",
        ImagesArgs(
            identity=ident,
            kms_key_arn=key,
            repo_root=REPO_ROOT,
            keep_images=config.image_retention_count,
            docker_build=config.docker_build,
            overrides={"training": config.training_image_uri, "serving": config.serving_image_uri},
        ),
    )
    network = Network(
        "network",
        NetworkArgs(
            identity=ident,
            kms_key_arn=key,
            vpc_cidr=config.vpc_cidr,
            zones=config.zones,
            log_retention_days=config.log_retention_days,
            flow_log_traffic=config.flow_log_traffic,
            existing_vpc_id=config.existing_vpc_id,
            existing_subnet_ids=config.existing_subnet_ids,
            existing_route_table_ids=config.existing_route_table_ids,
            create_endpoints=config.create_vpc_endpoints,
            existing_prefix_list_ids=config.existing_prefix_list_ids,
        ),
    )
    groups = network.security_group_ids
    lake = DataLake(
        "datalake",
        DataLakeArgs(identity=ident, kms_key_arn=key, retention=config.retention(), promotion_target=promotion_target),
    )
    zones = lake.buckets
    streaming = Streaming(
        "streaming",
        StreamingArgs(
            identity=ident,
            kms_key_arn=key,
            raw_bucket=zones["raw"],
            raw_bucket_arn=lake.bucket_arns["raw"],
            mode=config.stream_mode,
            shard_count=config.shard_count,
            retention_hours=config.stream_retention_hours,
            buffer_seconds=config.firehose_buffer_seconds,
            log_retention_days=config.log_retention_days,
        ),
    )
    datasets = stack_definitions(config.repo_root)
    processing = Processing(
        "processing",
        ProcessingArgs(
            identity=ident,
            scripts=discover_job_scripts(config.repo_root / "jobs"),
            kms_key_arn=key,
            artifacts_bucket=zones["artifacts"],
            curated_bucket=zones["curated"],
            features_bucket=zones["features"],
            data_buckets=[zones[z] for z in ("raw", "curated", "features", "quarantine", "monitoring")],
            database_name=lake.database_name,
            log_group_name=naming.log_group_name(config.project, config.environment, "glue"),
            glue_version=config.glue_version,
            worker_type=config.glue_worker_type,
            worker_count=config.glue_worker_count,
            timeout_minutes=config.glue_timeout_minutes,
            default_schedule=config.glue_schedule,
            datasets=tuple(datasets),
            network=GlueNetwork(subnet_ids=network.subnet_ids, zones=config.zones, security_group_id=groups["glue"]),
            kit_wheel=kit_wheel(REPO_ROOT),
            schedules=config.glue_schedules,
        ),
    )
    features = FeatureStore(
        "featurestore",
        FeatureStoreArgs(
            identity=ident,
            kms_key_arn=key,
            ttl_attribute=config.online_feature_ttl_attribute,
        ),
    )
    training = Training(
        "training",
        TrainingArgs(
            identity=ident,
            kms_key_arn=key,
            data_buckets=[zones["features"], zones["curated"], zones["monitoring"]],
            models_bucket=zones["models"],
            artifacts_bucket=zones["artifacts"],
            pipeline_definition=read_pipeline_definition(config.repo_root),
            training_image_uri=images.uris["training"],
            inference_image_uri=images.uris["serving"],
            image_repository_arns=[images.repository_arns["training"], images.repository_arns["serving"]],
            dataset_definitions=datasets,
            training_dataset=config.training_dataset,
            training_instance_type=config.training_instance_type,
            mlflow_server_size=config.mlflow_server_size,
            mlflow_server=config.mlflow_tracking_server,
            external_tracking_uri=config.mlflow_tracking_uri,
            approval_required=config.model_approval_required,
            network=SageMakerNetwork(
                subnet_ids=network.subnet_ids,
                jobs_security_group_id=groups["sagemaker-jobs"],
                hosting_security_group_id=groups["sagemaker-hosting"],
            ),
        ),
    )
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            identity=ident,
            kms_key_arn=key,
            endpoint_name=endpoint_name,
            pipeline_arn=training.pipeline_arn,
            thresholds=config.thresholds(),
            log_retention_days=config.log_retention_days,
        ),
    )
    if config.retrained_dispatch and config.github_dispatch_token is not None:
        RetrainDispatch(
            "retrain-dispatch",
            RetrainDispatchArgs(
                identity=ident,
                pipeline_arn=training.pipeline_arn,
                repository=config.github_repository,
                dataset=config.training_dataset,
                token=pulumi.Output.secret(config.github_dispatch_token.get_secret_value()),
                ref=config.retrained_dispatch_ref,
            ),
        )
    serving = Serving(
        "serving",
        ServingArgs(
            identity=ident,
            kms_key_arn=key,
            role_arn=training.role_arn,
            models_bucket=zones["models"],
            monitoring_bucket=zones["monitoring"],
            endpoint_name=endpoint_name,
            image_uri=images.uris["serving"],
            instance_type=config.endpoint_instance_type,
            instance_count=config.endpoint_instance_count,
            min_capacity=config.autoscaling_min_capacity,
            max_capacity=config.autoscaling_max_capacity,
            target_invocations_per_instance=config.autoscaling_target_invocations,
            capture_sampling_percent=config.data_capture_sampling_percent,
            canary_traffic_percent=config.canary_traffic_percent,
            bake_minutes=config.bake_minutes,
            rollback_alarm_names=[monitoring.alarm_names[k] for k in ROLLBACK_ALARMS],
            subnet_ids=network.subnet_ids,
            security_group_id=groups["sagemaker-hosting"],
            endpoint_enabled=config.endpoint_enabled,
        ),
    )
    reader: pulumi.Output[str] | None = None
    if promotion_target is not None:  # the next stack's deploy role reads this stack's gated versions
        reader = PromotionSource(
            "promotion",
            PromotionSourceArgs(
                identity=ident, target=promotion_target, model_package_group=training.model_package_group
            ),
        ).reader_role_arn
    cicd = CicdIdentity(
        "cicd",
        CicdArgs(
            identity=ident,
            repository=config.github_repository,
            create_oidc_provider=config.create_oidc_provider,
            state_bucket=config.pulumi_state_bucket,
            secrets_key_arn=config.pulumi_secrets_key_arn,
            promotion_source=promotion_peer(config.promotion_source, config.promotion_source_account),
        ),
    )
    outputs: PlatformOutputs = {
        "stack": config.stack,
        "environment": config.environment,
        "region": config.region,
        "project": config.project,
        "kms_key_arn": security.key_arn,
        "kms_key_id": security.key_id,
        **{f"{zone}_bucket": name for zone, name in zones.items()},
        "access_logs_bucket": lake.access_logs_bucket,
        "glue_database": lake.database_name,
        "stream_name": streaming.stream_name,
        "stream_arn": streaming.stream_arn,
        "firehose_name": streaming.firehose_name,
        "checkpoint_table": streaming.checkpoint_table,
        "glue_role_arn": processing.role_arn,
        "glue_jobs": processing.job_names,
        "online_feature_table": features.online_table,
        "sagemaker_role_arn": training.role_arn,
        "model_package_group": training.model_package_group,
        "training_pipeline_name": training.pipeline_name,
        "dataset_definitions_uri": zones["artifacts"].apply(lambda b: f"s3://{b}/{naming.DATASET_DEFINITIONS_ROOT}"),
        "mlflow_tracking_uri": training.mlflow_tracking_uri,
        "endpoint_name": serving.endpoint_name,
        "endpoint_config_name": serving.endpoint_config_name,
        "sagemaker_model_name": serving.model_name,
        "data_capture_prefix": serving.data_capture_prefix,
        "alarm_topic_arn": monitoring.topic_arn,
        "metrics_namespace": monitoring.namespace,
        "dashboard_name": monitoring.dashboard_name,
        "alarm_names": monitoring.alarm_names,
        "log_groups": monitoring.log_groups,
        "retrain_rule_name": monitoring.retrain_rule_name,
        "rollback_on_degradation": config.rollback_on_degradation,
        "deploy_role_arn": cicd.deploy_role_arn,
        "image_uris": images.uris,
    }
    if reader is not None:  # `mlops release promote` in the next stack assumes it (mlops/wiring.py)
        outputs["promotion_reader_role_arn"] = reader
    return outputs
