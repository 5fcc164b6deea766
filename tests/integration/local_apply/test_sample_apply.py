"""Apply a program declaring every handled resource type to the emulator, then read each resource back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.local.apply.engine import ApplyResult, apply_stack
from mlops.local.apply.handlers.ecr import context_digest
from mlops.local.apply.ledger import read_ledger
from mlops.local.apply.registry import HANDLERS
from mlops.settings import Settings, load_settings
from mlops.wiring import client_factory
from tests.integration.local_apply.sample_program import run_under_mocks, sample_runner

pytestmark = [pytest.mark.emulator, pytest.mark.pulumi]

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs") / "ingest.py"
    path.write_text("print('ingest')\n")
    return path


@pytest.fixture(scope="module")
def applied_twice(
    emulator_state_dir: Path, script: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, ClientFactory, ApplyResult, ApplyResult]:
    # The session's emulator, but a state dir of its own: the outputs, ledger and MLflow dir start empty.
    endpoint = client_factory(load_settings(target="moto", state_dir=emulator_state_dir)).endpoint_url
    state_dir = tmp_path_factory.mktemp("sample-state")
    settings = load_settings(target="moto", state_dir=state_dir, endpoint_url=endpoint, stack="sample")
    clients = ClientFactory(settings)
    first = apply_stack(settings, clients, Path.cwd(), runner=sample_runner(script))
    second = apply_stack(settings, clients, Path.cwd(), runner=sample_runner(script))
    return settings, clients, first, second


def test_every_handled_type_is_declared_once_or_more(applied_twice: Any) -> None:
    _, _, first, _ = applied_twice
    ledger = read_ledger(first.ledger_file)
    assert ledger is not None
    assert {entry["type"] for entry in ledger["resources"]} == set(HANDLERS)


def test_first_apply_creates_and_second_reuses_everything(applied_twice: Any) -> None:
    _, _, first, second = applied_twice
    # The raw bucket's policy is only a conditional Deny, which moto cannot honour: nothing is sent (skipped).
    # The catalog's encryption is one setting per account: another apply in this session's emulator (the
    # platform fixture's) may have set it already, and then the sample's apply updates it.
    assert first.counts in (
        {"created": 62, "reused": 0, "updated": 0, "skipped": 1},
        {"created": 61, "reused": 0, "updated": 1, "skipped": 1},
    )
    assert second.counts == {"created": 0, "reused": 62, "updated": 0, "skipped": 1}
    assert second.outputs == first.outputs


def test_outputs_carry_real_names_and_arns(applied_twice: Any) -> None:
    settings, _, first, _ = applied_twice
    written = json.loads(first.outputs_file.read_text())
    assert written == first.outputs
    assert first.outputs_file == settings.state_dir / "outputs" / "sample.json"
    assert written["raw_bucket"] == f"t-raw-{ACCOUNT}"
    assert written["stream_arn"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/t-events"
    assert written["glue_jobs"] == {"ingest": "t-ingest"}
    assert written["region"] == "us-east-1"
    assert written["model_package_group"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/t-models"
    mlflow_db = (settings.state_dir / "mlflow" / "t-mlflow" / "mlflow.db").resolve()
    assert written["mlflow_tracking_uri"] == f"sqlite:///{mlflow_db}"
    assert mlflow_db.parent.is_dir()


def test_bucket_configuration(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    s3 = clients.client("s3")
    bucket = first.outputs["raw_bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": first.outputs["kms_key_arn"],
    }
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["tier-landing"]["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": f"t-logs-{ACCOUNT}",
        "TargetPrefix": "raw/",
    }


def test_conditional_deny_is_not_sent_to_moto_but_the_bucket_stays_usable(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    s3 = clients.client("s3")
    logs_policy = json.loads(s3.get_bucket_policy(Bucket=f"t-logs-{ACCOUNT}")["Policy"])
    assert [statement["Sid"] for statement in logs_policy["Statement"]] == ["S3ServerAccessLogs"]
    # The raw bucket's only statement was the Deny: it has no policy at all in moto.
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=first.outputs["raw_bucket"])
    body = s3.get_object(Bucket=first.outputs["raw_bucket"], Key="glue/scripts/ingest.py")["Body"].read()
    assert body == b"print('ingest')\n"


def test_glue_job_points_at_the_uploaded_script(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    job = clients.client("glue").get_job(JobName="t-ingest")["Job"]
    assert job["Command"]["ScriptLocation"] == f"s3://{first.outputs['raw_bucket']}/glue/scripts/ingest.py"
    assert job["Role"] == f"arn:aws:iam::{ACCOUNT}:role/t-glue"
    assert job["DefaultArguments"]["--extra-py-files"] == "s3://x/mlops.whl"
    assert (job["WorkerType"], job["NumberOfWorkers"], job["GlueVersion"]) == ("G.1X", 2, "4.0")
    trigger = clients.client("glue").get_trigger(Name="t-ingest-hourly")["Trigger"]
    assert trigger["Actions"] == [{"JobName": "t-ingest", "Arguments": {"--mode": "incremental"}}]


def test_stream_table_and_firehose(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    summary = clients.client("kinesis").describe_stream_summary(StreamName="t-events")["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"], summary["EncryptionType"]) == (2, 48, "KMS")
    firehose = clients.client("firehose").describe_delivery_stream(DeliveryStreamName="t-events-to-raw")
    destination = firehose["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{first.outputs['raw_bucket']}"
    assert destination["Prefix"] == "landing/events/"
    dynamodb = clients.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName="t-online")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    table = dynamodb.describe_table(TableName="t-online")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["entity_id", "feature_view"]


def test_alarm_definition_and_hosting(applied_twice: Any) -> None:
    _, clients, _, _ = applied_twice
    alarm = clients.client("cloudwatch").describe_alarms(AlarmNames=["t-endpoint-5xx"])["MetricAlarms"][0]
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:t-alarms"
    assert (alarm["MetricName"], alarm["Threshold"], alarm["EvaluationPeriods"]) == ("Invocation5XXErrors", 5.0, 3)
    assert alarm["AlarmActions"] == [topic]
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
        ("EndpointName", "t-endpoint"),
        ("VariantName", "AllTraffic"),
    ]
    endpoint = clients.client("sagemaker").describe_endpoint(EndpointName="t-endpoint")
    assert endpoint["EndpointConfigName"] == "t-endpoint-config-1"
    config = clients.client("sagemaker").describe_endpoint_config(EndpointConfigName="t-endpoint-config-1")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    targets = clients.client("events").list_targets_by_rule(Rule="t-retrain")["Targets"]
    assert [(t["Id"], t["Arn"]) for t in targets] == [
        ("start-pipeline", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/t-training")
    ]


def test_network_and_glue_encryption(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    ec2 = clients.client("ec2")
    outputs = first.outputs
    vpc = ec2.describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.9.0.0/16"
    assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")["EnableDnsHostnames"] == {
        "Value": True
    }
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    assert (default["IpPermissions"], default["IpPermissionsEgress"]) == ([], [])
    group = ec2.describe_security_groups(GroupIds=[outputs["security_group_id"]])["SecurityGroups"][0]
    # the default allow-all egress is gone: only the declared rule is left
    assert [
        (p["IpProtocol"], p.get("FromPort"), [x["PrefixListId"] for x in p["PrefixListIds"]])
        for p in group["IpPermissionsEgress"]
    ] == [("tcp", 443, [outputs["s3_prefix_list"]])]
    assert outputs["s3_prefix_list"].startswith("pl-")
    flow = ec2.describe_flow_logs(FlowLogIds=[outputs["flow_log"]])["FlowLogs"][0]
    assert (flow["ResourceId"], flow["LogGroupName"]) == (vpc["VpcId"], "/t/glue/ingest")
    glue = clients.client("glue")
    encryption = glue.get_security_configuration(Name="t-glue-encryption")["SecurityConfiguration"]
    assert encryption["EncryptionConfiguration"]["S3Encryption"] == [
        {"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": outputs["kms_key_arn"]}
    ]
    catalog = glue.get_data_catalog_encryption_settings()["DataCatalogEncryptionSettings"]
    assert catalog["EncryptionAtRest"] == {"CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": outputs["kms_key_arn"]}
    connection = glue.get_connection(Name="t-network")["Connection"]
    assert connection["PhysicalConnectionRequirements"]["SubnetId"] == outputs["subnet_id"]


def test_repository_and_the_recorded_image(applied_twice: Any, script: Path) -> None:
    _, clients, first, _ = applied_twice
    ecr = clients.client("ecr")
    repository = ecr.describe_repositories(repositoryNames=["t-kit/serving"])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": first.outputs["kms_key_arn"]}
    assert first.outputs["repository_url"] == repository["repositoryUri"]
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName="t-kit/serving")["lifecyclePolicyText"])["rules"]
    assert rules[0]["selection"]["countNumber"] == 5
    # no image is built: the tag holds a manifest standing for the context, and the URI pins its digest
    image = ecr.describe_images(repositoryName="t-kit/serving", imageIds=[{"imageTag": "ctx-0123456789abcdef"}])
    digest = image["imageDetails"][0]["imageDigest"]
    assert first.outputs["image_uri"] == f"{repository['repositoryUri']}@{digest}"
    manifest = json.loads(
        ecr.batch_get_image(repositoryName="t-kit/serving", imageIds=[{"imageDigest": digest}])["images"][0][
            "imageManifest"
        ]
    )
    assert manifest["annotations"]["org.mlops-kit.context-digest"] == f"sha256:{context_digest(script.parent)}"


def test_a_role_carries_its_permissions_boundary(applied_twice: Any) -> None:
    _, clients, first, _ = applied_twice
    iam = clients.client("iam")
    boundary = first.outputs["boundary_arn"]
    assert boundary == f"arn:aws:iam::{ACCOUNT}:policy/t-boundary"
    version = iam.get_policy(PolicyArn=boundary)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=boundary, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Resource"] == "arn:aws:s3:::t-*/*"
    role = iam.get_role(RoleName="t-glue")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


class _EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def test_the_sample_runner_runs_after_asyncio_run_cleared_the_event_loop() -> None:
    """A test of the same worker that ran ``asyncio.run`` left the main thread without a loop: the sample's runner
    failed then with "There is no current event loop" (as the real runner did before infra.runner gave it one)."""

    async def noop() -> None:
        return None

    asyncio.run(noop())
    with pytest.raises(RuntimeError):
        asyncio.get_event_loop_policy().get_event_loop()
    outputs = run_under_mocks(lambda: {"answer": pulumi.Output.from_input(42)}, "loop", _EchoMocks())
    assert outputs == {"answer": 42}
