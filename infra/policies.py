"""IAM policy documents as plain dicts (serialised with ``json.dumps`` by the components).

Pure functions of names and ARNs, so least privilege is reviewed and tested without mocks. Every statement
names the actions and resources it needs; none pairs ``*`` actions with ``*`` resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra.naming import DATASET_DEFINITIONS_ROOT, s3_arn

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def assume_role_policy(service: str, *, source_account: str | None = None) -> PolicyDocument:
    """Trust policy letting an AWS service (``glue.amazonaws.com``) assume the role; with ``source_account``
    only on behalf of that account (confused-deputy guard for services that send it)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return _doc(statement)


def tls_only_bucket_policy(bucket: str, *, log_delivery_account: str | None = None) -> PolicyDocument:
    """Deny every request not made over TLS; the access-log bucket also lets S3 log delivery write."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [s3_arn(bucket), s3_arn(bucket, "*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if log_delivery_account is not None:
        statements.append(
            {
                "Sid": "AllowServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": s3_arn(bucket, "*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": log_delivery_account}},
            }
        )
    return _doc(*statements)


def kms_key_policy(account_id: str, region: str) -> PolicyDocument:
    """Key policy: the account administers the key; the services that encrypt with it may use it."""
    services = [f"logs.{region}.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]
    return _doc(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "ServicesEncrypt",
            "Effect": "Allow",
            "Principal": {"Service": services},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def _kms_use(kms_key_arn: str) -> dict[str, Any]:
    return {
        "Sid": "UseStackKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": kms_key_arn,
    }


def _read_write(buckets: list[str], sid: str) -> list[dict[str, Any]]:
    return [
        {"Sid": f"{sid}List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [s3_arn(b) for b in buckets]},
        {
            "Sid": f"{sid}Objects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [s3_arn(b, "*") for b in buckets],
        },
    ]


@dataclass(frozen=True)
class NetworkPlacement:
    """Where a workload's network interfaces may go: the stack's private subnets and its security groups."""

    region: str
    account_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    glue_connection_arns: tuple[str, ...] = ()

    def arns(self, kind: str, ids: tuple[str, ...]) -> list[str]:
        return [f"arn:aws:ec2:{self.region}:{self.account_id}:{kind}/{i}" for i in ids]


VPC_DESCRIBE_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
)
"""EC2 reads that support no resource-level permission (so ``Resource: *``); services call them to place ENIs."""


def _vpc_access(network: NetworkPlacement, *, tag_interfaces: bool) -> list[dict[str, Any]]:
    interfaces = f"arn:aws:ec2:{network.region}:{network.account_id}:network-interface/*"
    statements: list[dict[str, Any]] = [
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Action": list(VPC_DESCRIBE_ACTIONS), "Resource": "*"},
        {
            "Sid": "AttachToPrivateSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                interfaces,
                *network.arns("subnet", network.subnet_ids),
                *network.arns("security-group", network.security_group_ids),
            ],
        },
        {
            "Sid": "ManageOwnInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": interfaces,
        },
    ]
    if tag_interfaces:  # Glue tags the interfaces it creates
        statements.append(
            {
                "Sid": "TagOwnInterfaces",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": interfaces,
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
            }
        )
    return statements


def _kms_grants(kms_key_arn: str) -> dict[str, Any]:
    """SageMaker encrypts job and endpoint volumes through grants on the key, for AWS resources only."""
    return {
        "Sid": "GrantForVolumes",
        "Effect": "Allow",
        "Action": ["kms:CreateGrant"],
        "Resource": kms_key_arn,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }


def flow_logs_policy(log_group_arn: str) -> PolicyDocument:
    """VPC flow logs deliver into their (KMS-encrypted) log group."""
    return _doc(
        {
            "Sid": "DeliverFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }
    )


def firehose_policy(stream_arn: str, raw_bucket: str, kms_key_arn: str, error_log_group_arn: str) -> PolicyDocument:
    """Firehose reads the Kinesis stream, writes objects into the raw zone and logs delivery errors."""
    return _doc(
        {
            "Sid": "ReadStream",
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:ListShards",
            ],
            "Resource": stream_arn,
        },
        {
            "Sid": "WriteRaw",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"],
            "Resource": [s3_arn(raw_bucket), s3_arn(raw_bucket, "*")],
        },
        {
            "Sid": "LogDeliveryErrors",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": [f"{error_log_group_arn}:*"],
        },
        _kms_use(kms_key_arn),
    )


def glue_job_policy(
    data_buckets: list[str],
    artifacts_bucket: str,
    kms_key_arn: str,
    database_arns: list[str],
    log_group_arn: str,
    *,
    network: NetworkPlacement,
) -> PolicyDocument:
    """Glue jobs read scripts and the kit wheel, read/write the data zones, the catalog and their log groups
    (KMS-associated: the security configuration encrypts them), and attach to the stack's private subnets."""
    region, account = network.region, network.account_id
    glue_logs = f"arn:aws:logs:{region}:{account}:log-group:/aws-glue/*"
    return _doc(
        *_read_write(data_buckets, "DataZones"),
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [s3_arn(artifacts_bucket, "glue/*")],
        },
        {
            "Sid": "Catalog",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartitions",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:BatchCreatePartition",
            ],
            "Resource": database_arns,
        },
        {
            "Sid": "NetworkConnections",
            "Effect": "Allow",
            "Action": ["glue:GetConnection"],
            "Resource": [f"arn:aws:glue:{region}:{account}:catalog", *network.glue_connection_arns],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            "Resource": [log_group_arn, f"{log_group_arn}:*", glue_logs, f"{glue_logs}:*"],
        },
        *_vpc_access(network, tag_interfaces=True),
        _kms_use(kms_key_arn),
    )


def sagemaker_policy(
    data_buckets: list[str],
    models_bucket: str,
    kms_key_arn: str,
    *,
    artifacts_bucket: str,
    account_id: str,
    region: str,
    prefix: str,
    image_repositories: list[str],
    network: NetworkPlacement,
) -> PolicyDocument:
    """SageMaker training, pipelines, MLflow and hosting read features, write models and manage their jobs;
    the pipeline's Prepare step reads (only) the dataset definitions from the artifacts bucket. Images come only
    from the configured repositories (``ecr:GetAuthorizationToken`` alone takes ``*``), and jobs and models
    attach network interfaces only in the stack's private subnets and security groups."""
    arn = f"arn:aws:sagemaker:{region}:{account_id}"
    return _doc(
        *_read_write([*data_buckets, models_bucket], "Zones"),
        {
            "Sid": "ReadDatasetDefinitions",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [s3_arn(artifacts_bucket, f"{DATASET_DEFINITIONS_ROOT}*")],
        },
        {
            "Sid": "ListDatasetDefinitions",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [s3_arn(artifacts_bucket)],
            "Condition": {"StringLike": {"s3:prefix": [f"{DATASET_DEFINITIONS_ROOT}*"]}},
        },
        {
            "Sid": "OwnJobs",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:AddTags",
                "sagemaker-mlflow:*",
            ],
            "Resource": [
                f"{arn}:training-job/{prefix}-*",
                # jobs the training pipeline's steps start are named by SageMaker Pipelines
                f"{arn}:training-job/pipelines-*",
                f"{arn}:processing-job/pipelines-*",
                f"{arn}:model-package/{prefix}-*",
                f"{arn}:model-package-group/{prefix}-*",
                f"{arn}:mlflow-tracking-server/{prefix}-*",
            ],
        },
        {
            "Sid": "PassOwnRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{account_id}:role/{prefix}-*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/*",
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": sorted(set(image_repositories)),
        },
        *_vpc_access(network, tag_interfaces=False),
        _kms_use(kms_key_arn),
        _kms_grants(kms_key_arn),
    )


def start_pipeline_policy(pipeline_arn: str) -> PolicyDocument:
    """EventBridge may start (only) the training pipeline."""
    return _doc({"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": pipeline_arn})


def github_trust_policy(provider_arn: str, repository: str, environment: str, branch: str) -> PolicyDocument:
    """Only GitHub Actions runs of ``repository`` for this environment (or the deploy branch) may assume."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {
                    "token.actions.githubusercontent.com:sub": [
                        f"repo:{repository}:environment:{environment}",
                        f"repo:{repository}:ref:refs/heads/{branch}",
                    ]
                },
            },
        }
    )


DEPLOY_SERVICES: tuple[str, ...] = (
    "s3",
    "kms",
    "glue",
    "kinesis",
    "firehose",
    "dynamodb",
    "sagemaker",
    "cloudwatch",
    "logs",
    "events",
    "sns",
    "application-autoscaling",
)

WORKLOAD_ROLES: dict[str, str] = {
    "glue": "glue.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
    "firehose": "firehose.amazonaws.com",
    "retrain-events": "events.amazonaws.com",
    "flow-logs": "vpc-flow-logs.amazonaws.com",
}
"""The roles the stack creates for its services (purpose -> the service that assumes it). The deploy role
manages exactly these, never itself."""

NETWORK_ACTIONS: tuple[str, ...] = (
    "ec2:AssociateRouteTable",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateFlowLogs",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVpc",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteFlowLogs",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteVpc",
    "ec2:DeleteVpcEndpoints",
    "ec2:DisassociateRouteTable",
    "ec2:ModifySecurityGroupRules",
    "ec2:ModifyVpcAttribute",
    "ec2:ModifyVpcEndpoint",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
)


def deploy_policy(account_id: str, region: str, prefix: str, environment: str) -> PolicyDocument:
    """What the CI deploy role may manage: the kit's services, resources named with this stack's prefix, the
    stack's network (EC2 resources carry no name: created only with, and changed only under, this stack's
    ``environment`` tag), and the workload roles, which it may pass only to their own service."""
    workload_roles = [f"arn:aws:iam::{account_id}:role/{prefix}-{purpose}-role" for purpose in WORKLOAD_ROLES]
    ec2 = f"arn:aws:ec2:{region}:{account_id}"
    return _doc(
        {
            "Sid": "ManageStackResources",
            "Effect": "Allow",
            "Action": [f"{service}:*" for service in DEPLOY_SERVICES],
            "Resource": [
                f"arn:aws:s3:::{prefix}-*",
                f"arn:aws:*:{region}:{account_id}:*{prefix}*",
                f"arn:aws:glue:{region}:{account_id}:catalog",
            ],
        },
        {
            "Sid": "GlueSecurityConfigurations",
            "Effect": "Allow",
            "Action": [
                "glue:CreateSecurityConfiguration",
                "glue:DeleteSecurityConfiguration",
                "glue:GetSecurityConfiguration",
                "glue:GetSecurityConfigurations",
            ],
            "Resource": "*",
        },
        {
            "Sid": "CreateStackNetwork",
            "Effect": "Allow",
            "Action": list(NETWORK_ACTIONS),
            "Resource": f"{ec2}:*",
            "Condition": {"StringEquals": {"aws:RequestTag/environment": environment}},
        },
        {
            "Sid": "ChangeStackNetwork",
            "Effect": "Allow",
            "Action": list(NETWORK_ACTIONS),
            "Resource": f"{ec2}:*",
            "Condition": {"StringEquals": {"aws:ResourceTag/environment": environment}},
        },
        {"Sid": "ReadNetwork", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
        {
            "Sid": "ManageWorkloadRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:TagRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            "Resource": workload_roles,
        },
        {
            "Sid": "PassWorkloadRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": workload_roles,
            "Condition": {"StringEquals": {"iam:PassedToService": sorted(set(WORKLOAD_ROLES.values()))}},
        },
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    )


def to_json(document: PolicyDocument) -> str:
    """The document as the JSON string IAM, S3 and KMS take (keys sorted, so diffs stay stable)."""
    return json.dumps(document, sort_keys=True)
