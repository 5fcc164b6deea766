"""The real infra program applied to the session's emulator (the ``platform`` fixture), read back with boto3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from infra.config import read_stack_file
from infra.runner import run_program
from mlops.local.apply.engine import apply_stack
from mlops.local.apply.ledger import count_by_type, ledger_path, read_ledger
from mlops.local.clients import clients_of
from mlops.outputs import load_outputs
from mlops.platform import Platform
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.pulumi]


def test_outputs_file_loads_as_the_stack_outputs_contract(platform: Platform) -> None:
    settings = platform.settings
    assert settings.resolved_outputs_file == settings.state_dir / "outputs" / "local.json"
    assert load_outputs(settings.resolved_outputs_file, "local") == platform.outputs
    assert platform.outputs.stack == "local"
    mlflow_db = (settings.state_dir / "mlflow" / "mlops-kit-local-mlflow" / "mlflow.db").resolve()
    assert platform.outputs.mlflow_tracking_uri == f"sqlite:///{mlflow_db}"


def test_second_apply_changes_nothing(platform: Platform) -> None:
    again = apply_stack(platform.settings, clients_of(platform), REPO_ROOT, runner=run_program)
    ledger = read_ledger(again.ledger_file)
    assert ledger is not None
    skipped = sum(entry["outcome"] == "skipped" for entry in ledger["resources"])  # moto cannot honour them
    assert again.counts == {
        "created": 0,
        "reused": len(ledger["resources"]) - skipped,
        "updated": 0,
        "skipped": skipped,
    }
    assert load_outputs(again.outputs_file, "local") == platform.outputs


def test_ledger_lists_every_applied_resource(platform: Platform) -> None:
    ledger = read_ledger(ledger_path(platform.settings.resolved_outputs_file))
    assert ledger is not None
    by_type = count_by_type(ledger["resources"])
    buckets = 8  # seven zones and the access-log bucket
    assert by_type["aws:s3/bucket:Bucket"] == buckets
    assert by_type["aws:s3/bucketVersioning:BucketVersioning"] == buckets
    assert by_type["aws:s3/bucketLogging:BucketLogging"] == buckets - 1
    assert by_type["aws:cloudwatch/metricAlarm:MetricAlarm"] == len(platform.outputs.alarm_names)
    assert by_type.get("aws:glue/job:Job", 0) == len(platform.outputs.glue_jobs)


def test_zone_buckets_are_versioned_encrypted_private_and_logged(platform: Platform) -> None:
    s3 = clients_of(platform).client("s3")
    outputs = platform.outputs
    for zone in ("raw", "curated", "features", "models", "monitoring", "quarantine", "artifacts"):
        bucket = outputs.bucket_for_zone(zone)
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", zone
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": outputs.kms_key_arn,
        }, zone
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert set(block.values()) == {True}, zone
        assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
            "TargetBucket": outputs.access_logs_bucket,
            "TargetPrefix": f"{zone}/",
        }
    logs_rule = s3.get_bucket_encryption(Bucket=outputs.access_logs_bucket)["ServerSideEncryptionConfiguration"]
    assert logs_rule["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_tls_only_deny_is_left_out_so_buckets_stay_usable(platform: Platform) -> None:
    s3 = clients_of(platform).client("s3")
    raw = platform.outputs.raw_bucket
    s3.put_object(Bucket=raw, Key="probe/ok.txt", Body=b"ok")
    assert s3.get_object(Bucket=raw, Key="probe/ok.txt")["Body"].read() == b"ok"
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=raw)


def test_stream_and_tables(platform: Platform) -> None:
    outputs = platform.outputs
    summary = (
        clients_of(platform)
        .client("kinesis")
        .describe_stream_summary(StreamName=outputs.stream_name)["StreamDescriptionSummary"]
    )
    config = read_stack_file("local", REPO_ROOT)
    assert summary["StreamARN"] == outputs.stream_arn
    assert summary["StreamModeDetails"] == {"StreamMode": config.stream_mode}
    # An on-demand stream starts with 4 shards, in AWS as in moto.
    shards = config.shard_count if config.stream_mode == "PROVISIONED" else 4
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (shards, config.stream_retention_hours)
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", outputs.kms_key_arn)
    dynamodb = clients_of(platform).client("dynamodb")
    for table in (outputs.checkpoint_table, outputs.online_feature_table):
        assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"


def test_alarms_notify_the_alarm_topic(platform: Platform) -> None:
    cloudwatch = clients_of(platform).client("cloudwatch")
    names = sorted(platform.outputs.alarm_names.values())
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(alarm["AlarmName"] for alarm in alarms) == names
    for alarm in alarms:
        assert alarm["AlarmActions"] == [platform.outputs.alarm_topic_arn], alarm["AlarmName"]
    errors = next(a for a in alarms if a["AlarmName"] == platform.outputs.alarm("endpoint_errors"))
    assert (errors["MetricName"], errors["Namespace"], errors["ComparisonOperator"]) == (
        "Invocation5XXErrors",
        "AWS/SageMaker",
        "GreaterThanThreshold",
    )


def test_glue_jobs_run_the_uploaded_scripts(platform: Platform) -> None:
    scripts = sorted(p.stem for p in (REPO_ROOT / "jobs").glob("*.py") if not p.name.startswith("_"))
    assert sorted(platform.outputs.glue_jobs) == scripts
    glue = clients_of(platform).client("glue")
    s3 = clients_of(platform).client("s3")
    artifacts = platform.outputs.artifacts_bucket
    for stem, job_name in platform.outputs.glue_jobs.items():
        job = glue.get_job(JobName=job_name)["Job"]
        script = (REPO_ROOT / "jobs" / f"{stem}.py").read_bytes()
        key = f"glue/scripts/{hashlib.sha256(script).hexdigest()[:16]}/{stem}.py"
        assert job["Command"]["ScriptLocation"] == f"s3://{artifacts}/{key}"
        assert job["Role"] == platform.outputs.glue_role_arn
        assert s3.get_object(Bucket=artifacts, Key=key)["Body"].read() == script
        # the kit's wheel the job names is uploaded, under the digest of its bytes
        wheel_key = job["DefaultArguments"]["--extra-py-files"].removeprefix(f"s3://{artifacts}/")
        wheel = s3.get_object(Bucket=artifacts, Key=wheel_key)["Body"].read()
        assert wheel_key == f"glue/packages/{hashlib.sha256(wheel).hexdigest()[:16]}/mlops_kit-0.1.0-py3-none-any.whl"
        assert wheel[:2] == b"PK"


def test_endpoint_serves_the_declared_configuration(platform: Platform) -> None:
    sagemaker = clients_of(platform).client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=platform.outputs.endpoint_name)
    # the apply creates it on the declared configuration; `mlops deploy` (other tests) may have moved it since
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"].startswith(platform.outputs.endpoint_config_name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=platform.outputs.endpoint_config_name)
    assert config["ProductionVariants"][0]["ModelName"] == platform.outputs.sagemaker_model_name
    assert sagemaker.describe_pipeline(PipelineName=platform.outputs.training_pipeline_name)["RoleArn"] == (
        platform.outputs.sagemaker_role_arn
    )


def test_outputs_dir_is_under_the_session_state_dir(platform: Platform, emulator_state_dir: Path) -> None:
    assert platform.settings.resolved_outputs_file.parent == emulator_state_dir / "outputs"


def test_an_apply_leaves_a_deployed_endpoint_on_its_new_configuration(platform: Platform) -> None:
    sagemaker = clients_of(platform).client("sagemaker")
    endpoint = platform.outputs.endpoint_name
    declared = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=declared)["ProductionVariants"]
    deployed = f"{platform.outputs.endpoint_config_name}-deployed-elsewhere"
    sagemaker.create_endpoint_config(
        EndpointConfigName=deployed,
        ProductionVariants=[
            {
                k: v
                for k, v in variants[0].items()
                if k in ("VariantName", "ModelName", "InstanceType", "InitialInstanceCount")
            }
        ],
    )
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=deployed)
    try:
        again = apply_stack(platform.settings, clients_of(platform), REPO_ROOT, runner=run_program)
        assert again.counts["updated"] == 0
        assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == deployed
    finally:
        sagemaker.delete_endpoint(EndpointName=endpoint)
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=declared)


def test_the_plan_names_resources_as_the_local_apply_does(platform: Platform) -> None:
    """Where a handler's physical id is a name (not an emulator-assigned id), the plan's id is the same."""
    from infra.plan import plan_stack

    ledger = read_ledger(ledger_path(platform.settings.resolved_outputs_file))
    assert ledger is not None
    applied = {entry["name"]: entry["physical_id"] for entry in ledger["resources"]}
    planned = {r.name: r for r in plan_stack("local", REPO_ROOT).resources if r.custom}
    assigned = ("aws:kms/key:Key", "aws:ec2/", "aws:vpc/", "aws:appautoscaling/policy:Policy")
    compared = {
        name: (resource.id, applied[name])
        for name, resource in planned.items()
        if name in applied
        and not resource.type.startswith(assigned)
        and resource.type
        not in (
            "aws:kinesis/stream:Stream",
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            "aws:sns/topic:Topic",
            "aws:glue/catalogDatabase:CatalogDatabase",
            "aws:glue/catalogTable:CatalogTable",
            "aws:glue/connection:Connection",
            "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings",
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        )
    }
    assert len(compared) > 100
    assert {name: ids for name, ids in compared.items() if ids[0] != ids[1]} == {}


def test_network_in_the_emulator(platform: Platform) -> None:
    ledger = read_ledger(ledger_path(platform.settings.resolved_outputs_file))
    assert ledger is not None
    by_type = count_by_type(ledger["resources"])
    assert by_type["aws:ec2/vpc:Vpc"] == 1
    assert by_type["aws:ec2/subnet:Subnet"] == 2
    assert by_type["aws:ec2/vpcEndpoint:VpcEndpoint"] == 12
    ec2 = clients_of(platform).client("ec2")
    vpc_id = next(e["physical_id"] for e in ledger["resources"] if e["type"] == "aws:ec2/vpc:Vpc")
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert len({e["ServiceName"] for e in endpoints}) == 12
    glue = clients_of(platform).client("glue")
    for job_name in platform.outputs.glue_jobs.values():
        job = glue.get_job(JobName=job_name)["Job"]
        assert job["SecurityConfiguration"] == "mlops-kit-local-glue-encryption"
        assert job["Connections"] == {
            "Connections": ["mlops-kit-local-network-us-east-1a", "mlops-kit-local-network-us-east-1b"]
        }
    model = clients_of(platform).client("sagemaker").describe_model(ModelName=platform.outputs.sagemaker_model_name)
    assert len(model["VpcConfig"]["Subnets"]) == 2
