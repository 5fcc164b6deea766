"""A small program declaring every resource type the infra program may use, with realistic inputs.

It drives the handlers without depending on ``infra/``; :func:`sample_runner` runs it under any mocks the
way ``infra.runner.run_program`` runs the real program.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.runner import ensure_event_loop

TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _buckets(account: pulumi.Output[str], key: aws.kms.Key) -> tuple[aws.s3.Bucket, aws.s3.Bucket]:
    logs = aws.s3.Bucket("logs", bucket=account.apply(lambda a: f"t-logs-{a}"), force_destroy=True)
    aws.s3.BucketPolicy(
        "logs-policy",
        bucket=logs.id,
        policy=logs.bucket.apply(
            lambda b: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {**TLS_DENY, "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]},
                        {
                            "Sid": "S3ServerAccessLogs",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": ["s3:PutObject"],
                            "Resource": f"arn:aws:s3:::{b}/*",
                        },
                    ],
                }
            )
        ),
    )
    raw = aws.s3.Bucket("raw", bucket=account.apply(lambda a: f"t-raw-{a}"), tags={"zone": "raw"})
    aws.s3.BucketVersioning("raw-versioning", bucket=raw.id, versioning_configuration={"status": "Enabled"})
    aws.s3.BucketServerSideEncryptionConfiguration(
        "raw-encryption",
        bucket=raw.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                "bucket_key_enabled": True,
            }
        ],
    )
    aws.s3.BucketPublicAccessBlock(
        "raw-public-access",
        bucket=raw.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketOwnershipControls("raw-ownership", bucket=raw.id, rule={"object_ownership": "BucketOwnerEnforced"})
    aws.s3.BucketPolicy(
        "raw-policy",
        bucket=raw.id,
        policy=raw.bucket.apply(
            lambda b: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{**TLS_DENY, "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}],
                }
            )
        ),
    )
    aws.s3.BucketLifecycleConfiguration(
        "raw-lifecycle",
        bucket=raw.id,
        rules=[
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            },
            {
                "id": "tier-landing",
                "status": "Enabled",
                "filter": {"prefix": "landing/"},
                "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}],
                "expiration": {"days": 365},
            },
        ],
    )
    aws.s3.BucketLogging("raw-logging", bucket=raw.id, target_bucket=logs.id, target_prefix="raw/")
    return raw, logs


def sample_program(script: Path) -> dict[str, Any]:
    """Declare one or more resources of every handled type; return outputs like the real program's."""
    ident = aws.get_caller_identity()
    region = aws.get_region()
    account = pulumi.Output.from_input(ident.account_id)
    key = aws.kms.Key("key", description="test key", enable_key_rotation=True, deletion_window_in_days=7)
    aws.kms.Alias("key-alias", name="alias/t-key", target_key_id=key.key_id)
    raw, _ = _buckets(account, key)
    script_object = aws.s3.BucketObjectv2(
        "script", bucket=raw.id, key="glue/scripts/ingest.py", source=pulumi.FileAsset(str(script))
    )
    boundary = aws.iam.Policy(
        "boundary",
        name="t-boundary",
        description="roles of the sample stay within this",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::t-*/*"}],
            }
        ),
    )
    glue_role = aws.iam.Role(
        "glue-role",
        name="t-glue",
        assume_role_policy=_trust("glue.amazonaws.com"),
        permissions_boundary=boundary.arn,
    )
    aws.iam.RolePolicyAttachment("glue-role-boundary-attachment", role=glue_role.name, policy_arn=boundary.arn)
    aws.iam.RolePolicy(
        "glue-role-policy",
        role=glue_role.name,
        name="t-glue-access",
        policy=raw.arn.apply(
            lambda arn: json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": arn}]}
            )
        ),
    )
    oidc = aws.iam.OpenIdConnectProvider(
        "github",
        url="https://oidc.sample.test",
        client_id_lists=["sts.amazonaws.com"],
        thumbprint_lists=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )
    database = aws.glue.CatalogDatabase("db", name="t_db", description="test")
    aws.glue.CatalogTable(
        "predictions",
        name="predictions",
        database_name=database.name,
        table_type="EXTERNAL_TABLE",
        parameters={"classification": "json"},
        storage_descriptor={
            "location": raw.bucket.apply(lambda b: f"s3://{b}/data-capture/"),
            "input_format": "org.apache.hadoop.mapred.TextInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "ser_de_info": {"serialization_library": "org.openx.data.jsonserde.JsonSerDe"},
            "columns": [{"name": "capturedata", "type": "string"}],
        },
    )
    job = aws.glue.Job(
        "ingest",
        name="t-ingest",
        role_arn=glue_role.arn,
        command={
            "name": "glueetl",
            "script_location": pulumi.Output.concat("s3://", script_object.bucket, "/", script_object.key),
            "python_version": "3",
        },
        default_arguments={"--job-language": "python", "--extra-py-files": "s3://x/mlops.whl"},
        glue_version="4.0",
        worker_type="G.1X",
        number_of_workers=2,
        timeout=60,
        max_retries=1,
        execution_property={"max_concurrent_runs": 1},
    )
    aws.glue.Trigger(
        "ingest-schedule",
        name="t-ingest-hourly",
        type="SCHEDULED",
        schedule="cron(0 * * * ? *)",
        actions=[{"job_name": job.name, "arguments": {"--mode": "incremental"}}],
    )
    stream = aws.kinesis.Stream(
        "stream", name="t-events", shard_count=2, retention_period=48, encryption_type="KMS", kms_key_id=key.arn
    )
    firehose_role = aws.iam.Role(
        "firehose-role", name="t-firehose", assume_role_policy=_trust("firehose.amazonaws.com")
    )
    aws.kinesis.FirehoseDeliveryStream(
        "firehose",
        name="t-events-to-raw",
        destination="extended_s3",
        kinesis_source_configuration={"kinesis_stream_arn": stream.arn, "role_arn": firehose_role.arn},
        extended_s3_configuration={
            "role_arn": firehose_role.arn,
            "bucket_arn": raw.arn,
            "prefix": "landing/events/",
            "error_output_prefix": "errors/",
            "buffering_size": 5,
            "buffering_interval": 60,
            "compression_format": "GZIP",
        },
    )
    table = aws.dynamodb.Table(
        "online",
        name="t-online",
        billing_mode="PAY_PER_REQUEST",
        hash_key="entity_id",
        range_key="feature_view",
        attributes=[{"name": "entity_id", "type": "S"}, {"name": "feature_view", "type": "S"}],
        ttl={"attribute_name": "expires_at", "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
    )
    sm_role = aws.iam.Role("sm-role", name="t-sagemaker", assume_role_policy=_trust("sagemaker.amazonaws.com"))
    group = aws.sagemaker.ModelPackageGroup("group", model_package_group_name="t-models")
    aws.sagemaker.ModelPackageGroupPolicy(
        "group-policy",
        model_package_group_name=group.model_package_group_name,
        resource_policy=account.apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{a}:role/t-sagemaker"},
                            "Action": ["sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
                            "Resource": f"arn:aws:sagemaker:us-east-1:{a}:model-package-group/t-models",
                        }
                    ],
                }
            )
        ),
    )
    definition = json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []})
    pipeline = aws.sagemaker.Pipeline(
        "pipeline",
        pipeline_name="t-training",
        pipeline_display_name="t-training",
        role_arn=sm_role.arn,
        pipeline_definition=definition,
    )
    mlflow = aws.sagemaker.MlflowTrackingServer(
        "mlflow",
        tracking_server_name="t-mlflow",
        role_arn=sm_role.arn,
        artifact_store_uri=raw.bucket.apply(lambda b: f"s3://{b}/mlflow"),
    )
    model = aws.sagemaker.Model(
        "model",
        name="t-model",
        execution_role_arn=sm_role.arn,
        primary_container={
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:latest",
            "model_data_url": raw.bucket.apply(lambda b: f"s3://{b}/model.tar.gz"),
            "environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    config = aws.sagemaker.EndpointConfiguration(
        "endpoint-config",
        name="t-endpoint-config-1",
        production_variants=[
            {
                "variant_name": "AllTraffic",
                "model_name": model.name,
                "initial_instance_count": 1,
                "instance_type": "ml.m5.large",
                "initial_variant_weight": 1,
            }
        ],
        data_capture_config={
            "enable_capture": True,
            "initial_sampling_percentage": 100,
            "destination_s3_uri": raw.bucket.apply(lambda b: f"s3://{b}/data-capture"),
            "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
        },
    )
    endpoint = aws.sagemaker.Endpoint("endpoint", name="t-endpoint", endpoint_config_name=config.name)
    target = aws.appautoscaling.Target(
        "scaling-target",
        service_namespace="sagemaker",
        resource_id=endpoint.name.apply(lambda n: f"endpoint/{n}/variant/AllTraffic"),
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=1,
        max_capacity=4,
    )
    aws.appautoscaling.Policy(
        "scaling-policy",
        name="t-invocations-per-instance",
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        resource_id=target.resource_id,
        scalable_dimension=target.scalable_dimension,
        target_tracking_scaling_policy_configuration={
            "target_value": 100,
            "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
            "scale_in_cooldown": 300,
            "scale_out_cooldown": 60,
        },
    )
    topic = aws.sns.Topic("alarms", name="t-alarms", kms_master_key_id=key.arn)
    alarm = aws.cloudwatch.MetricAlarm(
        "errors",
        name="t-endpoint-5xx",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=3,
        datapoints_to_alarm=2,
        metric_name="Invocation5XXErrors",
        namespace="AWS/SageMaker",
        period=60,
        statistic="Sum",
        threshold=5,
        treat_missing_data="notBreaching",
        dimensions={"EndpointName": endpoint.name, "VariantName": "AllTraffic"},
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
    )
    dashboard = aws.cloudwatch.Dashboard(
        "dashboard",
        dashboard_name="t-dashboard",
        dashboard_body=json.dumps({"widgets": [{"type": "text", "properties": {"markdown": "hi"}}]}),
    )
    log_group = aws.cloudwatch.LogGroup("job-logs", name="/t/glue/ingest", retention_in_days=30)
    stream_of_errors = aws.cloudwatch.LogStream("job-log-stream", name="S3Delivery", log_group_name=log_group.name)
    network = _network(key, log_group, sm_role)
    rule = aws.cloudwatch.EventRule("retrain", name="t-retrain", schedule_expression="rate(7 days)")
    aws.cloudwatch.EventTarget(
        "retrain-target", rule=rule.name, target_id="start-pipeline", arn=pipeline.arn, role_arn=sm_role.arn
    )
    _api_destination(sm_role)
    return {
        "region": region.region,
        "kms_key_arn": key.arn,
        "raw_bucket": raw.bucket,
        "stream_arn": stream.arn,
        "glue_jobs": {"ingest": job.name},
        "online_feature_table": table.name,
        "model_package_group": group.arn,
        "mlflow_tracking_uri": mlflow.arn,
        "alarm_names": {"endpoint_errors": alarm.name},
        "dashboard_name": dashboard.dashboard_name,
        "log_groups": {"ingest": log_group.name},
        "deploy_oidc": oidc.arn,
        "boundary_arn": boundary.arn,
        "log_stream": stream_of_errors.name,
        **network,
        **_images(key, script.parent),
    }


def _images(key: aws.kms.Key, context: Path) -> dict[str, Any]:
    """A repository as the images component declares it, its lifecycle, and an image built into it."""
    import pulumi_docker_build as docker_build

    repository = aws.ecr.Repository(
        "repository",
        name="t-kit/serving",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
        force_delete=True,
    )
    aws.ecr.LifecyclePolicy(
        "repository-lifecycle",
        repository=repository.name,
        policy=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    image = docker_build.Image(
        "image",
        context={"location": str(context)},
        tags=[repository.repository_url.apply(lambda url: f"{url}:ctx-0123456789abcdef")],
        push=True,
        opts=pulumi.ResourceOptions(depends_on=[repository]),
    )
    return {
        "repository_url": repository.repository_url,
        "image_uri": pulumi.Output.all(repository.repository_url, image.digest).apply(lambda v: f"{v[0]}@{v[1]}"),
    }


def _api_destination(role: aws.iam.Role) -> None:
    """A rule calling an HTTP API through a connection (a secret API key) with a transformed body: the retrained
    workflow's dispatch. The pattern matches only the sample's own events (nothing else on the session's bus)."""
    connection = aws.cloudwatch.EventConnection(
        "api",
        name="t-api",
        authorization_type="API_KEY",
        auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
            api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                key="Authorization", value=pulumi.Output.secret("Bearer t0ken")
            ),
        ),
    )
    destination = aws.cloudwatch.EventApiDestination(
        "api-destination",
        name="t-api-destination",
        connection_arn=connection.arn,
        invocation_endpoint="https://example.com/dispatches",
        http_method="POST",
        invocation_rate_limit_per_second=1,
    )
    rule = aws.cloudwatch.EventRule(
        "dispatch", name="t-dispatch", event_pattern=json.dumps({"source": ["mlops.sample"]})
    )
    aws.cloudwatch.EventTarget(
        "dispatch-target",
        rule=rule.name,
        target_id="api",
        arn=destination.arn,
        role_arn=role.arn,
        input_transformer={"input_paths": {"id": "$.id"}, "input_template": '{"ref": "main", "id": <id>}'},
        retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3},
    )


def _network(key: aws.kms.Key, log_group: aws.cloudwatch.LogGroup, role: aws.iam.Role) -> dict[str, Any]:
    """A private VPC with its default group closed, a subnet, a route table, groups and rules, an endpoint, a
    flow log; a Glue security configuration, the catalog's encryption and a NETWORK connection."""
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.9.0.0/16", enable_dns_support=True, enable_dns_hostnames=True)
    aws.ec2.DefaultSecurityGroup("vpc-default-sg", vpc_id=vpc.id)
    subnet = aws.ec2.Subnet("subnet", vpc_id=vpc.id, cidr_block="10.9.0.0/20", availability_zone="us-east-1a")
    table = aws.ec2.RouteTable("routes", vpc_id=vpc.id)
    aws.ec2.RouteTableAssociation("routes-subnet", subnet_id=subnet.id, route_table_id=table.id)
    group = aws.ec2.SecurityGroup("jobs-sg", name="t-jobs", description="jobs", vpc_id=vpc.id)
    gateway = aws.ec2.VpcEndpoint(
        "s3-endpoint",
        vpc_id=vpc.id,
        service_name="com.amazonaws.us-east-1.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[table.id],
    )
    aws.vpc.SecurityGroupIngressRule(
        "jobs-from-self", security_group_id=group.id, ip_protocol="-1", referenced_security_group_id=group.id
    )
    aws.vpc.SecurityGroupEgressRule(
        "jobs-to-s3",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        prefix_list_id=gateway.prefix_list_id,
    )
    flow = aws.ec2.FlowLog(
        "flow",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
    )
    security = aws.glue.SecurityConfiguration(
        "glue-security",
        name="t-glue-encryption",
        encryption_configuration={
            "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": key.arn},
            "cloudwatch_encryption": {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": key.arn},
            "job_bookmarks_encryption": {"job_bookmarks_encryption_mode": "CSE-KMS", "kms_key_arn": key.arn},
        },
    )
    aws.glue.DataCatalogEncryptionSettings(
        "catalog-encryption",
        data_catalog_encryption_settings={
            "encryption_at_rest": {"catalog_encryption_mode": "SSE-KMS", "sse_aws_kms_key_id": key.arn},
            "connection_password_encryption": {"return_connection_password_encrypted": True, "aws_kms_key_id": key.arn},
        },
    )
    connection = aws.glue.Connection(
        "glue-network",
        name="t-network",
        connection_type="NETWORK",
        physical_connection_requirements={
            "availability_zone": "us-east-1a",
            "subnet_id": subnet.id,
            "security_group_id_lists": [group.id],
        },
    )
    return {
        "vpc_id": vpc.id,
        "subnet_id": subnet.id,
        "security_group_id": group.id,
        "s3_prefix_list": gateway.prefix_list_id,
        "flow_log": flow.id,
        "glue_security_configuration": security.name,
        "glue_connection": connection.name,
    }


def sample_runner(script: Path) -> Any:
    """A ``ProgramRunner`` for :func:`sample_program` (what ``infra.runner.run_program`` does for the real one)."""

    def run(stack: str, mocks: pulumi.runtime.Mocks, repo_root: Path) -> dict[str, Any]:
        return run_under_mocks(lambda: sample_program(script), stack, mocks)

    return run


def run_under_mocks(program: Any, stack: str, mocks: pulumi.runtime.Mocks) -> dict[str, Any]:
    ensure_event_loop()  # a test of this worker may have run asyncio.run, which leaves no loop behind
    runtime_settings.ROOT.set(None)  # a fresh root stack per run, as infra.runner does
    pulumi.runtime.set_mocks(mocks, project="mlops-kit-test", stack=stack, preview=False)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    resolved: dict[str, Any] = {}

    def body() -> Any:
        return pulumi.Output.from_input(program()).apply(resolved.update)

    _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(body()).future())))
    return resolved
