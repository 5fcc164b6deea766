"""A compliant resource set and one broken case per check of every guardrail rule.

``compliant()`` builds a small stack (the shapes the plan records: camelCase inputs, ids ``<name>-id``) that
passes every rule. Each :class:`Case` breaks it in one way and lists exactly the violations that must follow.
The rule tests assert them; the mutation test deletes each check of each rule in turn and requires one case to
notice.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra import policies
from infra.plan import PlannedResource
from infra.resource_types import RESOURCE_TYPES, is_taggable

ACCOUNT = "123456789012"
KMS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
TAGS = {"project": "p", "environment": "prod", "owner": "o", "component": "c"}
ENDPOINT_SERVICES = (
    "s3",
    "dynamodb",
    "sagemaker.api",
    "sagemaker.runtime",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "kms",
    "sts",
    "glue",
    "kinesis-streams",
)


MODEL_NOT_ISOLATED = (
    "[sagemaker-model-isolation] model: container may make network calls and no mlops:network-access tag says why"
)


def record(type_token: str, logical: str, **inputs: Any) -> PlannedResource:
    """A resource as the plan records it; taggable ones (and unknown types) carry the required tags."""
    if (type_token not in RESOURCE_TYPES or is_taggable(type_token)) and "tags" not in inputs:
        inputs["tags"] = dict(TAGS)
    return PlannedResource(type=type_token, name=logical, custom=True, inputs=inputs, id=f"{logical}-id")


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def definition(**changes: Callable[[dict[str, Any]], None]) -> str:
    """A pipeline definition whose every job is encrypted and placed; ``changes`` edit a step by name."""
    vpc = {"SecurityGroupIds": [{"Get": "Parameters.SecurityGroupId"}], "Subnets": [{"Get": "Parameters.SubnetIdA"}]}
    volume = {"Get": "Parameters.VolumeKmsKeyId"}
    output = {"Get": "Parameters.OutputKmsKeyId"}
    steps: dict[str, dict[str, Any]] = {
        "Prepare": {
            "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "VolumeKmsKeyId": volume}},
                "ProcessingOutputConfig": {"KmsKeyId": output, "Outputs": []},
                "NetworkConfig": {
                    "EnableInterContainerTrafficEncryption": True,
                    "EnableNetworkIsolation": False,
                    "VpcConfig": copy.deepcopy(vpc),
                },
            },
        },
        "Train": {
            "Type": "Training",
            "Arguments": {
                "ResourceConfig": {"InstanceCount": 2, "VolumeKmsKeyId": volume},
                "OutputDataConfig": {"KmsKeyId": output, "S3OutputPath": "s3://m/"},
                "VpcConfig": copy.deepcopy(vpc),
                "EnableNetworkIsolation": True,
                "EnableInterContainerTrafficEncryption": True,
            },
        },
        "Score": {
            "Type": "Transform",
            "Arguments": {
                "TransformResources": {"InstanceCount": 1, "VolumeKmsKeyId": KMS},
                "TransformOutput": {"KmsKeyId": output, "S3OutputPath": "s3://m/scores/"},
            },
        },
        "Package": {"Type": "Model", "Arguments": {"EnableNetworkIsolation": True}},
    }
    for step, change in changes.items():
        change(steps[step]["Arguments"])
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {"IfSteps": [{"Name": n, **steps[n]} for n in ("Score", "Package")], "ElseSteps": []},
    }
    parameters = [
        {"Name": "VolumeKmsKeyId", "Type": "String", "DefaultValue": KMS},
        {"Name": "OutputKmsKeyId", "Type": "String", "DefaultValue": KMS},
        {"Name": "SubnetIdA", "Type": "String", "DefaultValue": "subnet-a"},
        {"Name": "SecurityGroupId", "Type": "String", "DefaultValue": "sg-jobs"},
    ]
    return json.dumps(
        {
            "Version": "2020-12-01",
            "Parameters": parameters,
            "Steps": [{"Name": n, **steps[n]} for n in ("Prepare", "Train")] + [gate],
        }
    )


def compliant() -> list[PlannedResource]:
    """A stack that passes every rule."""
    tls = policies.tls_only_bucket_policy
    return [
        record(
            "aws:kms/key:Key",
            "key",
            enableKeyRotation=True,
            policy=json.dumps(policies.kms_key_policy(ACCOUNT, "us-east-1")),
        ),
        # buckets: a data bucket (SSE-KMS, logged) and the access-log bucket (SSE-S3, the log target)
        record("aws:s3/bucket:Bucket", "data", bucket="data"),
        record("aws:s3/bucket:Bucket", "logs", bucket="logs"),
        *[
            r
            for b, algorithm in (("data", "aws:kms"), ("logs", "AES256"))
            for r in (
                record(
                    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    f"{b}-sse",
                    bucket=f"{b}-id",
                    rules=[
                        {
                            "applyServerSideEncryptionByDefault": {
                                "sseAlgorithm": algorithm,
                                "kmsMasterKeyId": KMS if algorithm == "aws:kms" else None,
                            }
                        }
                    ],
                ),
                record(
                    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                    f"{b}-pab",
                    bucket=f"{b}-id",
                    blockPublicAcls=True,
                    blockPublicPolicy=True,
                    ignorePublicAcls=True,
                    restrictPublicBuckets=True,
                ),
                record(
                    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                    f"{b}-ownership",
                    bucket=f"{b}-id",
                    rule={"objectOwnership": "BucketOwnerEnforced"},
                ),
                record(
                    "aws:s3/bucketVersioning:BucketVersioning",
                    f"{b}-versioning",
                    bucket=f"{b}-id",
                    versioningConfiguration={"status": "Enabled"},
                ),
                record("aws:s3/bucketPolicy:BucketPolicy", f"{b}-policy", bucket=f"{b}-id", policy=json.dumps(tls(b))),
            )
        ],
        record("aws:s3/bucketLogging:BucketLogging", "data-logging", bucket="data-id", targetBucket="logs-id"),
        record(
            "aws:s3/bucketObjectv2:BucketObjectv2",
            "upload",
            bucket="data",
            key="k",
            serverSideEncryption="aws:kms",
            kmsKeyId=KMS,
        ),
        # streaming, tables, topics, logs
        record("aws:kinesis/stream:Stream", "stream", encryptionType="KMS", kmsKeyId=KMS),
        record(
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            "firehose",
            extendedS3Configuration={
                "kmsKeyArn": KMS,
                "cloudwatchLoggingOptions": {"enabled": True, "logGroupName": "/f", "logStreamName": "S3Delivery"},
            },
        ),
        record(
            "aws:dynamodb/table:Table",
            "table",
            serverSideEncryption={"enabled": True, "kmsKeyArn": KMS},
            pointInTimeRecovery={"enabled": True},
            deletionProtectionEnabled=True,
        ),
        record("aws:sns/topic:Topic", "topic", kmsMasterKeyId=KMS),
        record("aws:cloudwatch/logGroup:LogGroup", "logs-group", retentionInDays=365.0, kmsKeyId=KMS),
        # identities
        record(
            "aws:iam/role:Role",
            "sm-role",
            name="sm",
            assumeRolePolicy=json.dumps(policies.assume_role_policy("sagemaker.amazonaws.com")),
        ),
        record(
            "aws:iam/rolePolicy:RolePolicy",
            "sm-policy",
            role="sm-role-id",
            policy=_doc(
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"},
                {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": f"arn:aws:iam::{ACCOUNT}:role/sm",
                    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                },
            ),
        ),
        record(
            "aws:iam/role:Role",
            "deploy-role",
            name="p-prod-deploy-role",
            assumeRolePolicy=json.dumps(policies.github_trust_policy("arn:oidc", "acme/ml", "prod")),
        ),
        record(
            "aws:iam/rolePolicy:RolePolicy",
            "deploy-policy",
            role="deploy-role-id",
            policy=json.dumps(policies.deploy_policy(policies.DeployScope(ACCOUNT, "us-east-1", "p", "prod"))),
        ),
        # SageMaker
        record(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "epc",
            kmsKeyArn=KMS,
            dataCaptureConfig={"enableCapture": True, "kmsKeyId": KMS},
        ),
        record(
            "aws:sagemaker/model:Model",
            "model",
            vpcConfig={"subnets": ["subnet-a"], "securityGroupIds": ["sg-hosting"]},
            enableNetworkIsolation=True,
        ),
        record("aws:sagemaker/pipeline:Pipeline", "pipeline", pipelineDefinition=definition()),
        # Glue
        record(
            "aws:glue/securityConfiguration:SecurityConfiguration",
            "glue-security",
            name="sec",
            encryptionConfiguration={
                "s3Encryption": {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": KMS},
                "cloudwatchEncryption": {"cloudwatchEncryptionMode": "SSE-KMS", "kmsKeyArn": KMS},
                "jobBookmarksEncryption": {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": KMS},
            },
        ),
        record(
            "aws:glue/connection:Connection",
            "glue-network",
            name="net-a",
            connectionType="NETWORK",
            physicalConnectionRequirements={
                "availabilityZone": "us-east-1a",
                "subnetId": "subnet-a",
                "securityGroupIdLists": ["sg-glue"],
            },
        ),
        record(
            "aws:glue/job:Job",
            "job",
            name="j",
            securityConfiguration="sec",
            connections=["net-a"],
            defaultArguments={"--enable-continuous-cloudwatch-log": "true"},
        ),
        record(
            "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings",
            "catalog",
            dataCatalogEncryptionSettings={
                "encryptionAtRest": {"catalogEncryptionMode": "SSE-KMS", "sseAwsKmsKeyId": KMS},
                "connectionPasswordEncryption": {"returnConnectionPasswordEncrypted": True, "awsKmsKeyId": KMS},
            },
        ),
        # network
        record("aws:ec2/vpc:Vpc", "vpc", cidrBlock="10.0.0.0/16"),
        record("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default-sg", vpcId="vpc-id"),
        record("aws:ec2/subnet:Subnet", "subnet-a", vpcId="vpc-id", cidrBlock="10.0.0.0/20", mapPublicIpOnLaunch=False),
        record("aws:ec2/routeTable:RouteTable", "routes", vpcId="vpc-id"),
        record(
            "aws:ec2/flowLog:FlowLog",
            "flow",
            vpcId="vpc-id",
            trafficType="ALL",
            logDestinationType="cloud-watch-logs",
            logDestination="arn:aws:logs:us-east-1:1:log-group:/flow",
        ),
        record("aws:ec2/securityGroup:SecurityGroup", "sg", name="jobs", vpcId="vpc-id"),
        record(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "sg-in",
            securityGroupId="sg-id",
            ipProtocol="-1",
            referencedSecurityGroupId="sg-id",
        ),
        record(
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
            "sg-out",
            securityGroupId="sg-id",
            ipProtocol="tcp",
            fromPort=443.0,
            toPort=443.0,
            prefixListId="pl-1",
        ),
        *[
            record(
                "aws:ec2/vpcEndpoint:VpcEndpoint",
                f"endpoint-{service}",
                vpcId="vpc-id",
                serviceName=f"com.amazonaws.us-east-1.{service}",
                **(
                    {"vpcEndpointType": "Gateway", "routeTableIds": ["routes-id"]}
                    if service in ("s3", "dynamodb")
                    else {"vpcEndpointType": "Interface", "privateDnsEnabled": True, "subnetIds": ["subnet-a-id"]}
                ),
            )
            for service in ENDPOINT_SERVICES
        ],
    ]


Edit = Callable[[list[PlannedResource]], None]


@dataclass(frozen=True)
class Case:
    """One way to break the compliant set, and exactly the violations it must produce."""

    id: str
    expected: list[str]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    add: tuple[PlannedResource, ...] = ()
    remove: tuple[str, ...] = ()

    def resources(self) -> list[PlannedResource]:
        resources = [r for r in compliant() if r.name not in self.remove]
        for resource in resources:
            resource.inputs.update(copy.deepcopy(self.overrides.get(resource.name, {})))
        return resources + [copy.deepcopy(r) for r in self.add]


def _policy(*statements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"sm-policy": {"policy": _doc(*statements)}}


def _bucket_policy(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"data-policy": {"policy": _doc(*policies.tls_only_bucket_policy("data")["Statement"], statement)}}


def _sse(algorithm: str, key: str | None) -> dict[str, dict[str, Any]]:
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm, "kmsMasterKeyId": key}}]
    return {"data-sse": {"rules": rules}}


def _pipeline(**changes: Callable[[dict[str, Any]], None]) -> dict[str, dict[str, Any]]:
    return {"pipeline": {"pipelineDefinition": definition(**changes)}}


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(arguments: dict[str, Any]) -> None:
        node = arguments
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1])

    return change


def _set(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(arguments: dict[str, Any]) -> None:
        node = arguments
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _public(arguments: dict[str, Any]) -> None:
    arguments.pop("VpcConfig")
    arguments["EnableNetworkIsolation"] = False


def _glue_security(**parts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    encryption = {
        "s3Encryption": {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": KMS},
        "cloudwatchEncryption": {"cloudwatchEncryptionMode": "SSE-KMS", "kmsKeyArn": KMS},
        "jobBookmarksEncryption": {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": KMS},
    }
    encryption.update(parts)
    return {"glue-security": {"encryptionConfiguration": encryption}}


def _catalog(at_rest: dict[str, Any], passwords: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "catalog": {
            "dataCatalogEncryptionSettings": {"encryptionAtRest": at_rest, "connectionPasswordEncryption": passwords}
        }
    }


def _trust(condition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": "arn:oidc"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }
    return {"deploy-role": {"assumeRolePolicy": _doc(statement)}}


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
OPEN_V4 = "0.0.0.0/0"
OPEN_V6 = "::/0"

CASES: tuple[Case, ...] = (
    # --- s3-bucket-encryption
    Case("sse-missing", ["[s3-bucket-encryption] data: no default encryption"], remove=("data-sse",)),
    Case(
        "sse-aes256-on-data",
        ["[s3-bucket-encryption] data: AES256 on a data bucket: only the access-log bucket may"],
        _sse("AES256", None),
    ),
    Case("sse-unknown", ["[s3-bucket-encryption] data: unknown sseAlgorithm 'aws:fancy'"], _sse("aws:fancy", KMS)),
    Case(
        "sse-kms-no-key",
        ["[s3-bucket-encryption] data: aws:kms without kmsMasterKeyId (the AWS-managed key)"],
        _sse("aws:kms", None),
    ),
    # --- s3-object-encryption
    Case(
        "object-aes256",
        ["[s3-object-encryption] upload: upload not encrypted with aws:kms"],
        {"upload": {"serverSideEncryption": "AES256"}},
    ),
    Case(
        "object-no-key",
        ["[s3-object-encryption] upload: aws:kms upload without kmsKeyId (the AWS-managed key)"],
        {"upload": {"kmsKeyId": None}},
    ),
    # --- s3-public-access-block
    Case(
        "pab-partial",
        [
            "[s3-public-access-block] data: public access not fully blocked "
            "(blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets)"
        ],
        {"data-pab": {"restrictPublicBuckets": False}},
    ),
    # --- s3-no-public-acl
    Case(
        "acl-enabled",
        ["[s3-no-public-acl] data: ACLs are enabled (object ownership is not BucketOwnerEnforced)"],
        {"data-ownership": {"rule": {"objectOwnership": "ObjectWriter"}}},
    ),
    Case("acl-canned-bucket", ["[s3-no-public-acl] data: canned ACL public-read"], {"data": {"acl": "public-read"}}),
    Case(
        "acl-canned-resource",
        ["[s3-no-public-acl] data-acl: canned ACL public-read-write"],
        add=(record("aws:s3/bucketAclV2:BucketAclV2", "data-acl", bucket="data-id", acl="public-read-write"),),
    ),
    Case(
        "acl-grant-all-users",
        ["[s3-no-public-acl] data-acl: grants access to AllUsers or AuthenticatedUsers"],
        add=(
            record(
                "aws:s3/bucketAclV2:BucketAclV2",
                "data-acl",
                bucket="data-id",
                accessControlPolicy={
                    "grants": [
                        {
                            "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"},
                            "permission": "READ",
                        }
                    ]
                },
            ),
        ),
    ),
    # --- s3-tls-only, s3-versioning, s3-access-logging
    Case(
        "tls-missing",
        ["[s3-tls-only] data: no policy statement denies aws:SecureTransport=false"],
        {"data-policy": {"policy": _doc({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket"})}},
    ),
    Case(
        "versioning-suspended",
        ["[s3-versioning] data: versioning is not Enabled"],
        {"data-versioning": {"versioningConfiguration": {"status": "Suspended"}}},
    ),
    Case(
        "access-logging-missing",
        [
            "[s3-bucket-encryption] logs: AES256 on a data bucket: only the access-log bucket may",
            "[s3-access-logging] data: no server access logging",
            "[s3-access-logging] logs: no server access logging",
        ],
        remove=("data-logging",),
    ),
    # --- dynamodb
    Case(
        "table-sse-off",
        ["[dynamodb-encryption] table: not encrypted with the stack's key"],
        {"table": {"serverSideEncryption": {"enabled": False, "kmsKeyArn": KMS}}},
    ),
    Case(
        "table-sse-no-key",
        ["[dynamodb-encryption] table: not encrypted with the stack's key"],
        {"table": {"serverSideEncryption": {"enabled": True}}},
    ),
    Case(
        "table-pitr-off",
        ["[dynamodb-pitr] table: point-in-time recovery is off"],
        {"table": {"pointInTimeRecovery": {"enabled": False}}},
    ),
    Case(
        "table-unprotected",
        ["[dynamodb-deletion-protection] table: deletion protection is off"],
        {"table": {"deletionProtectionEnabled": False}},
    ),
    # --- kinesis, firehose, sns
    Case(
        "stream-unencrypted",
        ["[kinesis-encryption] stream: not KMS-encrypted with the stack's key"],
        {"stream": {"encryptionType": "NONE"}},
    ),
    Case(
        "stream-no-key",
        ["[kinesis-encryption] stream: not KMS-encrypted with the stack's key"],
        {"stream": {"kmsKeyId": None}},
    ),
    Case(
        "firehose-unencrypted",
        ["[firehose-encryption] firehose: delivered objects not KMS-encrypted"],
        {
            "firehose": {
                "extendedS3Configuration": {
                    "cloudwatchLoggingOptions": {"enabled": True, "logGroupName": "/f", "logStreamName": "s"}
                }
            }
        },
    ),
    Case(
        "firehose-errors-unlogged",
        ["[firehose-error-logging] firehose: delivery errors are not logged"],
        {"firehose": {"extendedS3Configuration": {"kmsKeyArn": KMS}}},
    ),
    Case(
        "firehose-errors-nowhere",
        ["[firehose-error-logging] firehose: error logging names no log group and stream"],
        {
            "firehose": {
                "extendedS3Configuration": {
                    "kmsKeyArn": KMS,
                    "cloudwatchLoggingOptions": {"enabled": True, "logGroupName": "/f"},
                }
            }
        },
    ),
    Case(
        "firehose-errors-no-group",
        ["[firehose-error-logging] firehose: error logging names no log group and stream"],
        {
            "firehose": {
                "extendedS3Configuration": {
                    "kmsKeyArn": KMS,
                    "cloudwatchLoggingOptions": {"enabled": True, "logStreamName": "S3Delivery"},
                }
            }
        },
    ),
    Case("topic-unencrypted", ["[sns-encryption] topic: no kmsMasterKeyId"], {"topic": {"kmsMasterKeyId": None}}),
    # --- log groups, keys, tags
    Case("logs-unencrypted", ["[log-group-encryption] logs-group: no kmsKeyId"], {"logs-group": {"kmsKeyId": ""}}),
    Case(
        "logs-forever",
        ["[log-group-retention] logs-group: retentionInDays is not set (events never expire)"],
        {"logs-group": {"retentionInDays": None}},
    ),
    Case(
        "logs-short-in-prod",
        ["[log-group-retention] logs-group: retention 90 days is below 365 for prod"],
        {"logs-group": {"retentionInDays": 90.0}},
    ),
    Case(
        "key-not-rotated", ["[kms-rotation] key: enableKeyRotation is not true"], {"key": {"enableKeyRotation": False}}
    ),
    Case(
        "key-rotation-slow",
        ["[kms-rotation] key: rotates every 400 days (more than 365)"],
        {"key": {"rotationPeriodInDays": 400.0}},
    ),
    Case(
        "tags-missing",
        ["[required-tags] topic: missing tags: owner, component"],
        {"topic": {"tags": {"project": "p", "environment": "prod"}}},
    ),
    Case(
        "tags-other-environment",
        ["[required-tags] topic: environment tag 'dev' is not 'prod'"],
        {"topic": {"tags": {**TAGS, "environment": "dev"}}},
    ),
    # --- no-public-principal (three forms)
    Case(
        "principal-star",
        ["[no-public-principal] data-policy: policy allows every principal"],
        _bucket_policy(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
        ),
    ),
    Case(
        "principal-aws-star",
        ["[no-public-principal] data-policy: policy allows every principal"],
        _bucket_policy(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
        ),
    ),
    Case(
        "principal-star-on-model-packages",
        ["[no-public-principal] models-grants: resourcePolicy allows every principal"],
        add=(
            record(
                "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
                "models-grants",
                modelPackageGroupName="mlops-kit-prod-models",
                resourcePolicy=_doc(
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "sagemaker:DescribeModelPackage",
                        "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/mlops-kit-prod-models/*",
                    }
                ),
            ),
        ),
    ),
    Case(
        "principal-aws-star-in-list",
        ["[no-public-principal] sm-role: assumeRolePolicy allows every principal"],
        {
            "sm-role": {
                "assumeRolePolicy": _doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]},
                        "Action": "sts:AssumeRole",
                    }
                )
            }
        },
    ),
    # --- IAM wildcards
    Case(
        "admin-wildcard",
        [
            "[iam-no-admin-wildcard] sm-policy: policy allows every action",
            "[iam-passrole-scoped] sm-policy: policy allows iam:PassRole without iam:PassedToService",
        ],
        _policy({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::data"}),
    ),
    Case(
        "service-wildcard-on-star",
        [
            "[iam-no-service-wildcard] sm-policy: policy allows a whole service on every resource",
            "[iam-resource-wildcard] sm-policy: policy grants s3:* on Resource * (scope them to ARNs)",
        ],
        _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    ),
    Case(
        "iam-wildcard",
        [
            "[iam-no-service-wildcard] sm-policy: policy allows iam:* (any IAM change)",
            "[iam-passrole-scoped] sm-policy: policy allows iam:PassRole without iam:PassedToService",
        ],
        _policy({"Effect": "Allow", "Action": "iam:*", "Resource": f"{ROLE_ARN}/other"}),
    ),
    Case(
        "not-action",
        ["[iam-no-not-action] sm-policy: policy allows NotAction (every action but some)"],
        _policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::data"}),
    ),
    Case(
        "not-resource",
        ["[iam-no-not-action] sm-policy: policy allows NotResource (every resource but some)"],
        _policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::data"}),
    ),
    Case(
        "resource-wildcard",
        ["[iam-resource-wildcard] sm-policy: policy grants ecr:BatchGetImage on Resource * (scope them to ARNs)"],
        _policy({"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "Resource": "*"}),
    ),
    Case(
        "passrole-any-service",
        ["[iam-passrole-scoped] sm-policy: policy allows iam:PassRole without iam:PassedToService"],
        _policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"{ROLE_ARN}/other"}),
    ),
    Case(
        "passrole-any-role",
        [
            "[iam-resource-wildcard] sm-policy: policy grants iam:PassRole on Resource * (scope them to ARNs)",
            "[iam-passrole-scoped] sm-policy: policy allows iam:PassRole on every role",
        ],
        _policy(
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
            }
        ),
    ),
    Case(
        "role-edits-itself",
        ["[iam-no-self-escalation] sm-policy: lets role sm-role change itself (iam:PutRolePolicy)"],
        _policy({"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": f"{ROLE_ARN}/s*"}),
    ),
    Case(
        "attached-policy-lets-role-edit-itself",
        ["[iam-no-self-escalation] sm-managed: lets role sm-role change itself (iam:AttachRolePolicy)"],
        add=(
            record(
                "aws:iam/policy:Policy",
                "sm-managed",
                name="sm-managed",
                policy=_doc({"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": f"{ROLE_ARN}/sm"}),
            ),
            record(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "sm-managed-attachment",
                role="sm-role-id",
                policyArn="sm-managed-id",
            ),
        ),
    ),
    Case(
        "role-edits-any-role",
        [
            "[iam-resource-wildcard] sm-policy: policy grants iam:UpdateAssumeRolePolicy on Resource * "
            "(scope them to ARNs)",
            "[iam-no-self-escalation] sm-policy: lets role sm-role change itself (iam:UpdateAssumeRolePolicy)",
        ],
        _policy({"Effect": "Allow", "Action": "iam:UpdateAssumeRolePolicy", "Resource": "*"}),
    ),
    Case(
        "role-edits-its-boundary",
        ["[iam-no-self-escalation] sm-policy: lets role sm-role rewrite its permissions boundary"],
        {
            "sm-role": {"permissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/boundary"},
            **_policy(
                {
                    "Effect": "Allow",
                    "Action": "iam:CreatePolicyVersion",
                    "Resource": f"arn:aws:iam::{ACCOUNT}:policy/boundary",
                }
            ),
        },
    ),
    Case(
        "oidc-no-audience",
        ["[iam-oidc-trust-scoped] deploy-role: web identity trust without an audience condition"],
        _trust({"StringLike": {SUB: "repo:acme/ml:ref:refs/heads/main"}}),
    ),
    Case(
        "oidc-no-subject",
        ["[iam-oidc-trust-scoped] deploy-role: web identity trust without a subject condition (any repository)"],
        _trust({"StringEquals": {AUD: "sts.amazonaws.com"}}),
    ),
    Case(
        "oidc-any-repository",
        ["[iam-oidc-trust-scoped] deploy-role: web identity subject matches every repository"],
        _trust({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:*"}}),
    ),
    Case(
        "oidc-any-subject",
        ["[iam-oidc-trust-scoped] deploy-role: web identity subject matches every repository"],
        _trust({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: ["repo:acme/ml:*", "*"]}}),
    ),
    # --- network: no way out
    Case(
        "internet-gateway",
        ["[vpc-no-internet-path] igw: an internet gateway gives the VPC a way out"],
        add=(record("aws:ec2/internetGateway:InternetGateway", "igw", vpcId="vpc-id"),),
    ),
    Case(
        "nat-gateway",
        ["[vpc-no-internet-path] nat: a NAT gateway gives the private subnets a way out"],
        add=(record("aws:ec2/natGateway:NatGateway", "nat", subnetId="subnet-a-id"),),
    ),
    Case(
        "default-route-v4",
        ["[vpc-no-internet-path] route: a default route leaves the VPC"],
        add=(record("aws:ec2/route:Route", "route", routeTableId="routes-id", destinationCidrBlock=OPEN_V4),),
    ),
    Case(
        "default-route-v6",
        ["[vpc-no-internet-path] route: a default route leaves the VPC"],
        add=(record("aws:ec2/route:Route", "route", routeTableId="routes-id", destinationIpv6CidrBlock=OPEN_V6),),
    ),
    Case(
        "inline-default-route",
        ["[vpc-no-internet-path] routes: a default route leaves the VPC"],
        {"routes": {"routes": [{"cidrBlock": OPEN_V4, "gatewayId": "igw-1"}]}},
    ),
    Case(
        "public-subnet",
        ["[vpc-no-internet-path] subnet-a: public IPs on launch"],
        {"subnet-a": {"mapPublicIpOnLaunch": True}},
    ),
    Case("flow-logs-missing", ["[vpc-flow-logs] vpc: no flow log"], remove=("flow",)),
    Case(
        "default-sg-open",
        ["[vpc-default-sg-closed] vpc: the default security group keeps its default rules"],
        remove=("default-sg",),
    ),
    Case(
        "default-sg-rules",
        ["[vpc-default-sg-closed] default-sg: the default security group has rules"],
        {"default-sg": {"ingress": [{"protocol": "-1", "self": True}]}},
    ),
    Case(
        "default-sg-egress",
        ["[vpc-default-sg-closed] default-sg: the default security group has rules"],
        {"default-sg": {"egress": [{"protocol": "-1", "cidrBlocks": ["10.0.0.0/16"]}]}},
    ),
    Case("endpoint-missing", ["[vpc-endpoints] <stack>: no VPC endpoint for kms"], remove=("endpoint-kms",)),
    Case(
        "endpoint-no-private-dns",
        ["[vpc-endpoints] endpoint-sts: interface endpoint without private DNS (clients bypass it)"],
        {"endpoint-sts": {"privateDnsEnabled": False}},
    ),
    # --- security groups
    Case(
        "ingress-inline-v4",
        ["[sg-ingress-restricted] sg: admits the internet (inline ingress 0.0.0.0/0)"],
        {"sg": {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [OPEN_V4]}]}},
    ),
    Case(
        "ingress-inline-v6",
        ["[sg-ingress-restricted] sg: admits the internet (inline ingress ::/0)"],
        {"sg": {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": [OPEN_V6]}]}},
    ),
    Case(
        "ingress-rule-v4",
        ["[sg-ingress-restricted] sg-in: admits the internet (ingress 0.0.0.0/0)"],
        {"sg-in": {"referencedSecurityGroupId": None, "cidrIpv4": OPEN_V4}},
    ),
    Case(
        "ingress-rule-v6",
        ["[sg-ingress-restricted] sg-in: admits the internet (ingress ::/0)"],
        {"sg-in": {"referencedSecurityGroupId": None, "cidrIpv6": OPEN_V6}},
    ),
    Case(
        "ingress-legacy-rule",
        ["[sg-ingress-restricted] legacy: admits the internet (ingress rule open to the internet)"],
        add=(
            record(
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "legacy",
                type="ingress",
                securityGroupId="sg-id",
                cidrBlocks=[OPEN_V4],
            ),
        ),
    ),
    Case(
        "egress-rule-v4",
        ["[sg-egress-restricted] sg-out: may reach the internet (egress 0.0.0.0/0)"],
        {"sg-out": {"prefixListId": None, "cidrIpv4": OPEN_V4}},
    ),
    Case(
        "egress-rule-v6",
        ["[sg-egress-restricted] sg-out: may reach the internet (egress ::/0)"],
        {"sg-out": {"prefixListId": None, "cidrIpv6": OPEN_V6}},
    ),
    Case(
        "egress-inline",
        ["[sg-egress-restricted] sg: may reach the internet (inline egress 0.0.0.0/0)"],
        {"sg": {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": [OPEN_V4]}]}},
    ),
    Case(
        "egress-legacy-rule",
        ["[sg-egress-restricted] legacy: may reach the internet (egress rule open to the internet)"],
        add=(
            record(
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "legacy",
                type="egress",
                securityGroupId="sg-id",
                ipv6CidrBlocks=[OPEN_V6],
            ),
        ),
    ),
    # --- the pipeline definition
    Case(
        "pipeline-processing-volume",
        ["[sagemaker-pipeline-encryption] pipeline/Prepare: processing volume without VolumeKmsKeyId"],
        _pipeline(Prepare=_drop("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")),
    ),
    Case(
        "pipeline-processing-output",
        ["[sagemaker-pipeline-encryption] pipeline/Prepare: processing output without KmsKeyId"],
        _pipeline(Prepare=_drop("ProcessingOutputConfig", "KmsKeyId")),
    ),
    Case(
        "pipeline-training-volume-unbound",
        ["[sagemaker-pipeline-encryption] pipeline/Train: training volume without VolumeKmsKeyId"],
        _pipeline(Train=_set({"Get": "Parameters.Absent"}, "ResourceConfig", "VolumeKmsKeyId")),
    ),
    Case(
        "pipeline-training-output",
        ["[sagemaker-pipeline-encryption] pipeline/Train: training output without KmsKeyId"],
        _pipeline(Train=_drop("OutputDataConfig", "KmsKeyId")),
    ),
    Case(
        "pipeline-transform-volume",
        ["[sagemaker-pipeline-encryption] pipeline/Score: transform volume without VolumeKmsKeyId"],
        _pipeline(Score=_drop("TransformResources", "VolumeKmsKeyId")),
    ),
    Case(
        "pipeline-transform-output",
        ["[sagemaker-pipeline-encryption] pipeline/Score: transform output without KmsKeyId"],
        _pipeline(Score=_set("", "TransformOutput", "KmsKeyId")),
    ),
    Case(
        "pipeline-processing-public",
        ["[sagemaker-pipeline-network] pipeline/Prepare: processing job neither in the VPC nor isolated"],
        _pipeline(Prepare=_drop("NetworkConfig", "VpcConfig")),
    ),
    Case(
        "pipeline-training-public",
        ["[sagemaker-pipeline-network] pipeline/Train: training job neither in the VPC nor isolated"],
        _pipeline(Train=_public),
    ),
    Case(
        "pipeline-model-public",
        ["[sagemaker-pipeline-network] pipeline/Package: model neither in the VPC nor isolated"],
        _pipeline(Package=_set(False, "EnableNetworkIsolation")),
    ),
    Case(
        "pipeline-training-plaintext",
        ["[sagemaker-pipeline-inter-container-encryption] pipeline/Train: training nodes talk unencrypted"],
        _pipeline(Train=_drop("EnableInterContainerTrafficEncryption")),
    ),
    Case(
        "pipeline-processing-plaintext",
        ["[sagemaker-pipeline-inter-container-encryption] pipeline/Prepare: processing nodes talk unencrypted"],
        _pipeline(Prepare=_set(False, "NetworkConfig", "EnableInterContainerTrafficEncryption")),
    ),
    # --- hosting
    Case(
        "endpoint-volume",
        ["[sagemaker-endpoint-encryption] epc: no kmsKeyArn for instance storage"],
        {"epc": {"kmsKeyArn": None}},
    ),
    Case(
        "endpoint-capture",
        ["[sagemaker-endpoint-encryption] epc: data capture not KMS-encrypted"],
        {"epc": {"dataCaptureConfig": {"enableCapture": True}}},
    ),
    Case(
        "model-no-subnets",
        ["[sagemaker-model-network] model: not in the stack's private subnets"],
        {"model": {"vpcConfig": {"securityGroupIds": ["sg-hosting"]}}},
    ),
    Case(
        "model-no-group",
        ["[sagemaker-model-network] model: no security group"],
        {"model": {"vpcConfig": {"subnets": ["subnet-a"], "securityGroupIds": []}}},
    ),
    Case(
        "model-not-isolated",
        [MODEL_NOT_ISOLATED],
        {"model": {"enableNetworkIsolation": False}},
    ),
    Case(
        "model-not-isolated-empty-reason",
        [MODEL_NOT_ISOLATED],
        {"model": {"enableNetworkIsolation": False, "tags": {**TAGS, "mlops:network-access": " "}}},
    ),
    # --- Glue
    Case(
        "glue-no-security-configuration",
        ["[glue-job-security-configuration] job: no security configuration (S3, logs, bookmarks unencrypted)"],
        {"job": {"securityConfiguration": None}},
    ),
    Case(
        "glue-undeclared-security-configuration",
        ["[glue-job-security-configuration] job: security configuration 'other' is not declared by the stack"],
        {"job": {"securityConfiguration": "other"}},
    ),
    Case(
        "glue-s3-sse-s3",
        ["[glue-security-configuration-kms] glue-security: job output in S3 not SSE-KMS with the stack's key"],
        _glue_security(s3Encryption={"s3EncryptionMode": "SSE-S3", "kmsKeyArn": KMS}),
    ),
    Case(
        "glue-s3-no-key",
        ["[glue-security-configuration-kms] glue-security: job output in S3 not SSE-KMS with the stack's key"],
        _glue_security(s3Encryption={"s3EncryptionMode": "SSE-KMS"}),
    ),
    Case(
        "glue-logs-plain",
        ["[glue-security-configuration-kms] glue-security: job logs not SSE-KMS with the stack's key"],
        _glue_security(cloudwatchEncryption={"cloudwatchEncryptionMode": "DISABLED", "kmsKeyArn": KMS}),
    ),
    Case(
        "glue-logs-no-key",
        ["[glue-security-configuration-kms] glue-security: job logs not SSE-KMS with the stack's key"],
        _glue_security(cloudwatchEncryption={"cloudwatchEncryptionMode": "SSE-KMS"}),
    ),
    Case(
        "glue-bookmarks-plain",
        ["[glue-security-configuration-kms] glue-security: job bookmarks not CSE-KMS with the stack's key"],
        _glue_security(jobBookmarksEncryption={"jobBookmarksEncryptionMode": "DISABLED", "kmsKeyArn": KMS}),
    ),
    Case(
        "glue-bookmarks-no-key",
        ["[glue-security-configuration-kms] glue-security: job bookmarks not CSE-KMS with the stack's key"],
        _glue_security(jobBookmarksEncryption={"jobBookmarksEncryptionMode": "CSE-KMS"}),
    ),
    Case(
        "catalog-settings-missing",
        ["[glue-catalog-encryption] <stack>: the Data Catalog's encryption settings are not declared"],
        remove=("catalog",),
    ),
    Case(
        "catalog-plain",
        ["[glue-catalog-encryption] catalog: catalog metadata not SSE-KMS with the stack's key"],
        _catalog(
            {"catalogEncryptionMode": "DISABLED", "sseAwsKmsKeyId": KMS},
            {"returnConnectionPasswordEncrypted": True, "awsKmsKeyId": KMS},
        ),
    ),
    Case(
        "catalog-no-key",
        ["[glue-catalog-encryption] catalog: catalog metadata not SSE-KMS with the stack's key"],
        _catalog({"catalogEncryptionMode": "SSE-KMS"}, {"returnConnectionPasswordEncrypted": True, "awsKmsKeyId": KMS}),
    ),
    Case(
        "catalog-passwords-plain",
        ["[glue-catalog-encryption] catalog: connection passwords not encrypted with the stack's key"],
        _catalog(
            {"catalogEncryptionMode": "SSE-KMS", "sseAwsKmsKeyId": KMS},
            {"returnConnectionPasswordEncrypted": False, "awsKmsKeyId": KMS},
        ),
    ),
    Case(
        "catalog-passwords-no-key",
        ["[glue-catalog-encryption] catalog: connection passwords not encrypted with the stack's key"],
        _catalog(
            {"catalogEncryptionMode": "SSE-KMS", "sseAwsKmsKeyId": KMS}, {"returnConnectionPasswordEncrypted": True}
        ),
    ),
    Case(
        "glue-outside-vpc",
        ["[glue-job-network] job: no connection: the job runs outside the stack's VPC"],
        {"job": {"connections": []}},
    ),
    Case(
        "glue-connection-without-subnet",
        ["[glue-job-network] job: none of its connections places it in a subnet with a security group"],
        {"glue-network": {"physicalConnectionRequirements": {"securityGroupIdLists": ["sg-glue"]}}},
    ),
    Case(
        "glue-logging-off",
        ["[glue-job-logging] job: continuous CloudWatch logging is off"],
        {"job": {"defaultArguments": {"--enable-continuous-cloudwatch-log": "false"}}},
    ),
)
