"""IAM policy documents as plain dicts (serialised with ``json.dumps`` by the components).

Pure functions of names and ARNs, so least privilege is reviewed and tested without mocks. Every statement
names the actions and resources it needs; none pairs ``*`` actions with ``*`` resources.
"""

from __future__ import annotations

import json
from typing import Any

from infra.naming import DATASET_DEFINITIONS_ROOT, s3_arn

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def assume_role_policy(service: str) -> PolicyDocument:
    """Trust policy letting an AWS service (``glue.amazonaws.com``) assume the role."""
    return _doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


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


def firehose_policy(stream_arn: str, raw_bucket: str, kms_key_arn: str) -> PolicyDocument:
    """Firehose reads the Kinesis stream and writes objects into the raw zone."""
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
        _kms_use(kms_key_arn),
    )


def glue_job_policy(
    data_buckets: list[str], artifacts_bucket: str, kms_key_arn: str, database_arns: list[str], log_group_arn: str
) -> PolicyDocument:
    """Glue jobs read scripts and the kit wheel, read/write the data zones, the catalog and their log group."""
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
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        },
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
) -> PolicyDocument:
    """SageMaker training, pipelines, MLflow and hosting read features, write models and manage their jobs;
    the pipeline's Prepare step reads (only) the dataset definitions from the artifacts bucket."""
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
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": "*",
        },
        _kms_use(kms_key_arn),
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


def deploy_policy(account_id: str, region: str, prefix: str) -> PolicyDocument:
    """What the CI deploy role may manage: the kit's services, resources named with this stack's prefix."""
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
            "Sid": "ManageStackRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:PutRolePolicy",
                "iam:PassRole",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:TagRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            "Resource": f"arn:aws:iam::{account_id}:role/{prefix}-*",
        },
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    )


def to_json(document: PolicyDocument) -> str:
    """The document as the JSON string IAM, S3 and KMS take (keys sorted, so diffs stay stable)."""
    return json.dumps(document, sort_keys=True)
